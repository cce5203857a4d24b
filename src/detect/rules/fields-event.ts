// Fields of the event itself (Falco's evt.* class): the syscall and its
// direction, result and arguments as Falco prints them.
import { OPEN_CREAT, OPEN_FAILED, OPEN_TRUNC } from './classes.js';
import { evtTypeName } from './event-type-names.js';
import { moreJs, RESULT_TYPES, types, type FieldDef } from './field-def.js';
import { forkMore, type ForkMore } from '../../model/event.js';
import { EINPROGRESS, O_ACCMODE, O_CREAT, O_TRUNC, O_WRONLY, resultName } from './syscall-values.js';

export const EVENT_FIELDS: Record<string, FieldDef> = {
  'evt.type': { kind: 'string', desc: 'the syscall (execve, openat, connect, …); open covers open/openat/openat2/creat, exec execve/execveat, …', get: (e) => evtTypeName(e) },
  'evt.dir': { kind: 'string', desc: "'<': Vigil reports every event after the syscall returned", constant: () => '<', get: () => '<' },
  'evt.num': { kind: 'number', desc: 'the number of the event among those the rules have seen (from 1)', get: (_e, x) => x.seq, inline: () => ({ js: 'x.seq', missing: false }) },
  'evt.time': { kind: 'string', desc: 'the event time (ISO 8601)', get: (e) => new Date(e.time).toISOString() },
  'evt.rawtime': { kind: 'number', desc: 'the event time in nanoseconds since the epoch', get: (e) => Math.round(e.time * 1e6) },
  'evt.res': {
    kind: 'string', desc: "'SUCCESS' or the errno name (ENOENT, EINPROGRESS, …)", on: RESULT_TYPES,
    get: (e) => resultName(e.type === 'fork' ? forkMore(e).childPid : e.result),
    known: (t, cls) => (t === 'open' && cls >= 0 && (cls & OPEN_FAILED) === 0 ? { value: 'SUCCESS' } : undefined),
  },
  'evt.rawres': {
    kind: 'number', desc: 'the return value: an fd, 0, a pid or -errno', on: RESULT_TYPES,
    get: (e) => (e.type === 'fork' ? forkMore(e).childPid : e.result),
    inline: (t) => ({ js: t === 'fork' ? moreJs<ForkMore>('childPid') : 'e.result', missing: false }),
    known: (t, cls) => (t === 'open' && cls >= 0 ? { sign: (cls & OPEN_FAILED) !== 0 ? -1 : 1 } : undefined),
  },
  'evt.failed': { kind: 'bool', desc: 'the syscall failed', on: RESULT_TYPES, get: (e) => e.type !== 'fork' && e.result < 0, inline: (t) => ({ js: t === 'fork' ? 'false' : '(e.result < 0)', missing: false }),
    known: (t, cls) => (t === 'open' && cls >= 0 ? { value: (cls & OPEN_FAILED) !== 0 } : undefined),
  },
  'evt.is_open_read': {
    kind: 'bool', desc: 'an open for reading (O_RDONLY or O_RDWR)', on: types('open'),
    get: (e) => (e.flags & O_ACCMODE) !== O_WRONLY, inline: () => ({ js: `((e.flags & ${O_ACCMODE}) !== ${O_WRONLY})`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & O_ACCMODE) !== O_WRONLY } : undefined),
  },
  'evt.is_open_write': {
    kind: 'bool', desc: 'an open for writing (O_WRONLY or O_RDWR)', on: types('open'),
    get: (e) => (e.flags & O_ACCMODE) !== 0, inline: () => ({ js: `((e.flags & ${O_ACCMODE}) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & O_ACCMODE) !== 0 } : undefined),
  },
  'evt.is_open_exec': {
    kind: 'bool', desc: 'an open that creates a file with an execute bit', on: types('open'),
    get: (e) => (e.flags & O_CREAT) !== 0 && (e.mode & 0o111) !== 0,
    inline: () => ({ js: `((e.flags & ${O_CREAT}) !== 0 && (e.mode & 0o111) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 && (cls & OPEN_CREAT) === 0 ? { value: false } : undefined),
  },
  'evt.is_open_create': {
    kind: 'bool', desc: 'Vigil: an open with O_CREAT', on: types('open'),
    get: (e) => (e.flags & O_CREAT) !== 0, inline: () => ({ js: `((e.flags & ${O_CREAT}) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & OPEN_CREAT) !== 0 } : undefined),
  },
  'evt.is_open_trunc': {
    kind: 'bool', desc: 'Vigil: an open for writing with O_TRUNC (the file is emptied)', on: types('open'),
    get: (e) => (e.flags & O_TRUNC) !== 0 && (e.flags & O_ACCMODE) !== 0,
    inline: () => ({ js: `((e.flags & ${O_TRUNC}) !== 0 && (e.flags & ${O_ACCMODE}) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & OPEN_TRUNC) !== 0 && (cls & O_ACCMODE) !== 0 } : undefined),
  },
  'evt.is_connect_ok': {
    kind: 'bool', desc: 'Vigil: a connect that succeeded or is in progress (non-blocking)', on: types('connect'),
    get: (e) => e.result >= 0 || e.result === -EINPROGRESS, inline: () => ({ js: `(e.result >= 0 || e.result === ${-EINPROGRESS})`, missing: false }),
  },
  'evt.is_blocked': {
    kind: 'bool', desc: "Vigil: enforcement stopped it (denied by a security hook, refused, or the caller killed); the alert's action says how",
    get: (e) => e.blocked, inline: () => ({ js: 'e.blocked', missing: false }),
  },
  'evt.is_io_uring': {
    kind: 'bool', desc: 'Vigil: submitted through an io_uring ring, not as a syscall', on: types('open', 'connect', 'iouring'),
    get: (e) => e.ioUring, inline: () => ({ js: 'e.ioUring', missing: false }),
  },
};
