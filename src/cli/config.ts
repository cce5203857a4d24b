// What every command shares, loaded only when a command runs: the config
// (YAML and its schema) and the control connection to a running engine.
import type { ControlClient } from '../control/client.js';
import type { Config } from '../config/schema.js';
import type { ConfigError } from '../config/source.js';

// By name, not instanceof: importing the class here would load the YAML parser for `vigil --version`.
function exitWithProblems(err: unknown): never {
  if (err instanceof Error && err.name === 'ConfigError') {
    process.stderr.write(`vigil: invalid configuration\n${(err as ConfigError).problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  throw err;
}

/** The config in `file` (or the built-in one); a bad one ends the command with exit 2 and every problem listed. */
export async function configOrExit(file: string | undefined): Promise<Config> {
  const { loadConfig } = await import('../config/load.js');
  try {
    return loadConfig(file);
  } catch (err) {
    exitWithProblems(err);
  }
}

/**
 * Runs `fn` against the engine whose control socket the config in `file`
 * names. Only the config's control block is read (config/control.ts): the
 * engine validated the rest when it started.
 */
export async function withEngine<T>(file: string | undefined, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const [{ loadControlConfig }, { withControl }] = await Promise.all([import('../config/control.js'), import('../control/client.js')]);
  let config;
  try {
    config = loadControlConfig(file);
  } catch (err) {
    exitWithProblems(err);
  }
  return withControl(config, fn);
}
