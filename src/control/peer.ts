// Who is on the other end of a control call, as far as the kernel can vouch.
//
// Node cannot ask a unix socket for its peer's credentials (no getsockopt,
// so no SO_PEERCRED, no SCM_CREDENTIALS), and /proc cannot pair a unix socket
// with its peer: /proc/net/unix lists each socket's inode but not its peer's
// (only the sock_diag netlink API, which `ss` uses, does, and Node has no
// netlink sockets). What the kernel does tell, in order of preference:
//  - the probe's own record of the connect(2) to the control socket: the
//    process, its uid and its executable, as the kernel saw them;
//  - over TCP (mutual TLS), the client certificate's subject, and on loopback
//    the client socket's owner from /proc/net/tcp (a TCP socket's uid and
//    inode are listed there) and the process holding it from /proc/*/fd;
//  - what the client says it is (its pid, sent by the `vigil` CLI), checked
//    against /proc: said as "claimed", never as fact.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Metadata the `vigil` CLI sends: its pid (a claim; the kernel's record is preferred). */
export const CLIENT_PID_KEY = 'vigil-client-pid';

/** kernel: the probe saw the connect; certificate: mutual TLS; token: the web console's bearer token; claimed: the client's word. */
export type VerifiedBy = 'kernel' | 'certificate' | 'token' | 'claimed' | 'unknown';

export interface Caller {
  /** How the identity below is known. */
  verifiedBy: VerifiedBy;
  uid: number | null;
  pid: number | null;
  exe: string;
  /** The audit login uid (/proc/PID/loginuid): the person behind a sudo; null when unset. */
  loginUid: number | null;
  /** Mutual TLS: the client certificate's subject. */
  certificate: string;
  /** The transport's peer: "unix" or host:port. */
  address: string;
  /** Why the identity is not verified, or what else is known. */
  note: string;
}

/** A connect(2) to the control socket as the probe saw it. */
export interface ObservedConnect {
  pid: number;
  uid: number;
  exe: string;
  /** When the engine received the event (ms). */
  at: number;
  /** Already taken as a call's caller: one connect is one client, so a later call without a matching pid cannot be it. */
  taken?: boolean;
}

/** The kernel's record of connects to the control socket (from the probe's events). */
export interface ConnectWitness {
  /** Whether a probe is connected to report them. */
  watching(): boolean;
  /** The connect by `pid` (or, with no pid, every connect since `sinceMs`), waiting up to `waitMs` for it to arrive. */
  find(pid: number | null, sinceMs: number, waitMs: number): Promise<ObservedConnect[]>;
}

/** A connect once it has been taken as a call's caller (find's recent list leaves it out then). */
function take(c: ObservedConnect): ObservedConnect {
  c.taken = true;
  return c;
}

/** What the server knows of a call. */
export interface CallFacts {
  /** Whether the call came over the unix socket (else TCP). */
  unix: boolean;
  /** getPeer(): host:port over TCP. */
  peer: string;
  /** The pid the client says it has (metadata vigil-client-pid). */
  claimedPid: number | null;
  /** Mutual TLS: the verified client certificate's subject and fingerprint. */
  certificate: { subject: string; fingerprint: string } | null;
  /** The server's own TCP port (0 for unix). */
  localPort: number;
}

/** How long to wait for the probe's report of a connect (it is sent within milliseconds). */
const WITNESS_WAIT_MS = 500;
/** A connect this recent may be the caller's when no pid matches (another pid namespace). */
const RECENT_MS = 5000;

export async function identifyCaller(f: CallFacts, witness: ConnectWitness | null, now = Date.now()): Promise<Caller> {
  const caller: Caller = { verifiedBy: 'unknown', uid: null, pid: null, exe: '', loginUid: null, certificate: '', address: f.unix ? 'unix' : f.peer, note: '' };
  if (f.certificate) {
    caller.verifiedBy = 'certificate';
    caller.certificate = f.certificate.subject;
    caller.note = `client certificate sha256 ${f.certificate.fingerprint}`;
  }
  // TCP on loopback: the client's socket is on this host, listed with its owner in /proc/net/tcp.
  const tcp = caller.address === 'unix' ? null : tcpPeer(caller.address, f.localPort);
  if (tcp) {
    Object.assign(caller, { uid: tcp.uid, pid: tcp.pid, verifiedBy: caller.verifiedBy === 'certificate' ? 'certificate' : 'kernel' });
    if (tcp.pid) fillFromProc(caller, tcp.pid);
    return caller;
  }
  if (caller.address !== 'unix') return caller;
  const seen = witness?.watching() ? await witness.find(f.claimedPid, now - RECENT_MS, WITNESS_WAIT_MS) : [];
  const mine = f.claimedPid === null ? [] : seen.filter((c) => c.pid === f.claimedPid);
  const pick = mine.length ? take(mine[mine.length - 1]!) : seen.length === 1 ? take(seen[0]!) : null;
  if (pick) {
    Object.assign(caller, { verifiedBy: 'kernel', uid: pick.uid, pid: pick.pid, exe: pick.exe });
    fillFromProc(caller, pick.pid, false);
    if (f.claimedPid !== null && f.claimedPid !== pick.pid) caller.note = `the client says it is pid ${f.claimedPid} (another pid namespace, or not the truth)`;
    return caller;
  }
  if (f.claimedPid !== null) {
    caller.verifiedBy = 'claimed';
    caller.pid = f.claimedPid;
    fillFromProc(caller, f.claimedPid);
  }
  caller.note = !witness?.watching()
    ? 'not confirmed by the kernel: no probe is connected to see the connect'
    : seen.length > 1
      ? `not confirmed by the kernel: ${seen.length} processes connected at once (pids ${seen.map((c) => c.pid).join(', ')})`
      : 'not confirmed by the kernel: the probe saw no connect to the control socket';
  if (caller.verifiedBy === 'claimed' && caller.uid === null) caller.note += `; no process ${f.claimedPid} here`;
  return caller;
}

/** One line for logs and alerts: "uid 0 (login uid 1000), pid 4242 /usr/bin/node, verified by the kernel". */
export function describeCaller(c: Caller): string {
  const who: string[] = [];
  if (c.certificate) who.push(`certificate ${c.certificate}`);
  // A browser's request has no uid to know: it is the token or certificate that says who.
  if (c.verifiedBy === 'token' && !c.certificate) who.push(`the web console's token holder at ${c.address}`);
  if (c.uid !== null || !(c.verifiedBy === 'token' || (c.verifiedBy === 'certificate' && c.address !== 'unix'))) who.push(c.uid === null ? 'uid unknown' : `uid ${c.uid}${c.loginUid !== null && c.loginUid !== c.uid ? ` (login uid ${c.loginUid})` : ''}`);
  if (c.pid !== null) who.push(`pid ${c.pid}${c.exe ? ` ${c.exe}` : ''}`);
  const how = c.verifiedBy === 'kernel' ? 'as the kernel saw it' : c.verifiedBy === 'certificate' ? 'by its client certificate' : c.verifiedBy === 'token' ? 'by the console\'s bearer token' : c.verifiedBy === 'claimed' ? 'as the client claims' : 'unknown';
  return `${who.join(', ')} (${how}${c.note ? `; ${c.note}` : ''})`;
}

/** What /proc says about a process: its uid (unless already known), login uid and executable. */
function fillFromProc(c: Caller, pid: number, uid = true): void {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^Uid:\s+(\d+)/m.exec(status);
    if (uid && m) c.uid = Number(m[1]);
  } catch {
    return;
  }
  try {
    const login = Number(readFileSync(`/proc/${pid}/loginuid`, 'utf8').trim());
    c.loginUid = Number.isFinite(login) && login !== 4294967295 ? login : null;
  } catch {
    // no audit login uid on this kernel
  }
  if (!c.exe) {
    try {
      c.exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // another user's process without CAP_SYS_PTRACE
    }
  }
}

/** The owner (uid) and process of the client end of a loopback TCP connection to our `localPort`. */
export function tcpPeer(address: string, localPort: number): { uid: number; pid: number | null } | null {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m || !localPort) return null;
  const [host, port] = [m[1]!, Number(m[2])];
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  const files = v4 ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/tcp6'];
  const hexPort = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [localAddr, localP] = f[1]!.split(':');
      const [, remoteP] = f[2]!.split(':');
      // The client's socket: its local end is the caller's address, its remote end our port.
      if (localP !== hexPort(port) || remoteP !== hexPort(localPort)) continue;
      if (!sameHost(localAddr!, host, v4)) continue;
      const inode = Number(f[9]);
      return { uid: Number(f[7]), pid: inode ? socketOwner(inode) : null };
    }
  }
  return null;
}

/** Whether a /proc/net/tcp(6) hex address is `host` (IPv4 in host byte order there, little-endian here). */
function sameHost(hex: string, host: string, v4: RegExpExecArray | null): boolean {
  if (v4) {
    const bytes = v4.slice(1, 5).map(Number);
    const le = bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).reverse().join('');
    if (hex === le) return true;
    // An IPv4 client of an IPv6 socket: ::ffff:a.b.c.d, four little-endian words.
    return hex === `0000000000000000FFFF0000${le}`;
  }
  return host === '::1' && hex === '00000000000000000000000001000000';
}

/** The process holding socket `inode` (root reads every /proc/PID/fd). */
function socketOwner(inode: number): number | null {
  const target = `socket:[${inode}]`;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${d}/fd/${fd}`) === target) return Number(d);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}
