// The engine a bench starts for itself: sockets, state and alerts in a scratch directory.
import { join } from 'node:path';

/** The raw config of a scratch engine in `dir`: sockets, state and a JSON alert file there (parse it with the tree's own parseConfig). */
export function scratchEngineInput(dir: string): Record<string, unknown> {
  return {
    engine: { listen: `unix://${dir}/engine.sock` },
    control: { listen: `unix://${dir}/control.sock` },
    stateDir: join(dir, 'state'),
    sinks: [{ type: 'file', path: join(dir, 'alerts.jsonl'), format: 'json' }],
  };
}
