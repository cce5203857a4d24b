// An event type's index in EVENT_TYPES, for tables by type (counters, rule
// routes, detectors) read once per event. By a switch: the types are
// string constants (internalised), so each case is a pointer compare, the
// commonest types first. Not a Map lookup (hash, bucket, key check) nor a
// keyed load over the 27 names (route[e.type]), which is megamorphic: both
// were paid per event.
import { EVENT_TYPES, type EventType } from './event.js';

export function typeIndex(t: EventType): number {
  switch (t) {
    case 'open': return 3;
    case 'connect': return 7;
    case 'exec': return 0;
    case 'fork': return 1;
    case 'exit': return 2;
    case 'accept': return 8;
    case 'send': return 25;
    case 'dns': return 18;
    case 'unlink': return 4;
    case 'rename': return 5;
    case 'chmod': return 6;
    case 'bind': return 9;
    case 'listen': return 10;
    case 'setid': return 11;
    case 'ptrace': return 12;
    case 'module': return 13;
    case 'mount': return 14;
    case 'namespace': return 15;
    case 'dup': return 16;
    case 'fileop': return 17;
    case 'cgroup_move': return 19;
    case 'mkdir': return 20;
    case 'link': return 21;
    case 'socket': return 22;
    case 'bpf': return 23;
    case 'userfaultfd': return 24;
    case 'iouring': return 26;
  }
}

// The numbers above are EVENT_TYPES' order: a type added or moved there without a case here fails at load.
for (let i = 0; i < EVENT_TYPES.length; i++) {
  if (typeIndex(EVENT_TYPES[i]!) !== i) throw new Error(`typeIndex('${EVENT_TYPES[i]}') is not ${i}: update src/model/type-index.ts`);
}
