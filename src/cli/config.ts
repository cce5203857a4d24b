// What every command shares, loaded only when a command runs: the config
// (YAML and its schema) and the control connection to a running engine.
import type { ControlClient } from '../control/client.js';
import type { Config } from '../config/schema.js';

/** The config in `file` (or the built-in one); a bad one ends the command with exit 2 and every problem listed. */
export async function configOrExit(file: string | undefined): Promise<Config> {
  const { ConfigError, loadConfig } = await import('../config/load.js');
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: invalid configuration\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Runs `fn` against the engine whose control socket the config in `file` names. */
export async function withEngine<T>(file: string | undefined, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const [config, { withControl }] = await Promise.all([configOrExit(file), import('../control/client.js')]);
  return withControl(config, fn);
}
