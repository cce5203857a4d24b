// Reads a YAML config file and validates it. Every error names the file,
// the key path and, where the YAML has it, the line and column.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config, type ConfigInput } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** "a.b[2].c" for error messages. */
export function keyPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/** Where in the YAML source a key path is, as "LINE:COL", or '' when unknown. */
export function locate(doc: Document, lines: LineCounter, path: ReadonlyArray<PropertyKey>): string {
  // An unknown or missing key has no node of its own: point at the nearest parent that exists.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return `${line}:${col}`;
    }
  }
  return '';
}

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
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    throw new ConfigError(
      zodProblems(result.error, (path) => {
        const at = locate(doc, lines, path);
        return `${file}:${at ? `${at}:` : ''} `;
      }),
    );
  }
  return result.data;
}

export function loadConfig(file: string | undefined): Config {
  if (!file) return parseConfig({}, 'built-in default config');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parseConfigYaml(text, file);
}
