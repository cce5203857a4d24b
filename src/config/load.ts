// Reads a YAML config file and validates it. Every error names the file,
// the key path and, where the YAML has it, the line and column.
import type { z } from 'zod';
import { configSchema, type Config, type ConfigInput } from './schema.js';
import { ConfigError, keyPath, locate, parseYaml, readConfigText } from './source.js';

export { ConfigError, keyPath, locate };

function zodProblems(error: z.ZodError, where: (path: PropertyKey[]) => string): string[] {
  return error.issues.map((issue) => {
    const path = [...issue.path];
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    return `${where(path)}${keyPath(path)}: ${message}`;
  });
}

/** Validates a config given as an object (the built-in default, tests). */
export function parseConfig(input: ConfigInput | unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(zodProblems(result.error, () => `${source}: `));
  return result.data;
}

/** Validates YAML text; `file` names it in errors. */
export function parseConfigYaml(text: string, file: string): Config {
  const source = parseYaml(text, file);
  const result = configSchema.safeParse(source.value);
  if (!result.success) throw new ConfigError(zodProblems(result.error, (path) => source.where(path)));
  return result.data;
}

export function loadConfig(file: string | undefined): Config {
  if (!file) return parseConfig({}, 'built-in default config');
  return parseConfigYaml(readConfigText(file), file);
}
