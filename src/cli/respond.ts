// `vigil quarantine | release | capture | kill`: responses by hand, carried
// out by the running engine and its probe.
import type { Command } from 'commander';
import type { ActionReply } from '../control/methods.js';
import { withEngine } from './config.js';

function report(r: ActionReply): void {
  if (r.ok) {
    process.stdout.write(`${r.detail || 'done'}\n`);
  } else {
    process.stderr.write(`vigil: ${r.error}\n`);
    process.exitCode = 1;
  }
}

export function registerRespondCommands(program: Command): void {
  program
    .command('quarantine')
    .description("cut the network of a workload, a pod or a container (every packet in and out dropped) while its processes keep running")
    .argument('<target>', 'a workload as `vigil status` lists it (every replica), a pod (namespace/pod) or a container (name or id)')
    .option('-c, --config <file>', 'the config the engine runs with')
    .option('--reason <text>', 'why, for the record', 'by hand (vigil quarantine)')
    .action(async (workload: string, o: { config?: string; reason: string }) =>
      report(await withEngine(o.config, (c) => c.quarantine(workload, o.reason))),
    );

  program
    .command('release')
    .description("give a quarantined workload, pod or container its network back")
    .argument('<target>')
    .option('-c, --config <file>', 'the config the engine runs with')
    .action(async (workload: string, o: { config?: string }) => report(await withEngine(o.config, (c) => c.release(workload))));

  program
    .command('capture')
    .description("write the packets of a workload, a pod or a container to a pcap file (tshark, Wireshark)")
    .argument('<target>', 'a workload, a pod (namespace/pod) or a container (name or id)')
    .option('-c, --config <file>', 'the config the engine runs with')
    .option('--seconds <n>', 'how long (default: capture.seconds)', (v) => Number.parseInt(v, 10), 0)
    .option('--max-packets <n>', 'at most this many packets (default: capture.maxPackets)', (v) => Number.parseInt(v, 10), 0)
    .action(async (workload: string, o: { config?: string; seconds: number; maxPackets: number }) => {
      const r = await withEngine(o.config, (c) => c.capture(workload, o.seconds, o.maxPackets));
      if (!r.ok) {
        process.stderr.write(`vigil: ${r.error}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${r.file}: ${r.packets} packets, ${r.bytes} bytes (ended: ${r.ended})\n`);
    });

  program
    .command('kill')
    .description('kill a process on this node (refused if its pid now belongs to another process)')
    .argument('<pid>', 'process id', (v) => Number.parseInt(v, 10))
    .option('-c, --config <file>', 'the config the engine runs with')
    .action(async (pid: number, o: { config?: string }) => report(await withEngine(o.config, (c) => c.kill(pid))));
}
