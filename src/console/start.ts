// Starts the web console when the config enables it. A console that
// cannot start (a missing token file, a port in use) is an error in the
// log; monitoring goes on without it.
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ConsoleServer } from './server.js';
import type { ConsoleSource } from './source.js';

export async function startConsole(source: ConsoleSource, config: Config, log: Logger): Promise<ConsoleServer | null> {
  const c = config.console;
  if (!c.enabled) return null;
  const clog = log.child({ component: 'console' });
  try {
    const server = new ConsoleServer(source, c, clog);
    await server.start();
    return server;
  } catch (err) {
    clog.error({ address: c.listen, err: (err as Error).message }, 'cannot start the web console');
    return null;
  }
}
