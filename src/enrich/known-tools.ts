// What an executable is, whatever it is called: the tools rules care about
// (shells, netcat, scanners, miners) are hashed once at start-up from this
// node's own binaries, and an exec whose content (the probe's sha256) or
// inode matches one of them is that tool under any name: a copy, a hard
// link, a bind mount. Otherwise a tool is the basename of the file the
// kernel ran (a symlink is resolved by then), so `proc.tool` is never the
// name the caller chose.
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, fstatSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';

/** The names hashed at start-up: those the built-in rules' tool lists (00-common.yaml, execution.yaml, network.yaml) name. */
export const KNOWN_TOOL_NAMES: readonly string[] = [
  // shells
  'ash', 'bash', 'csh', 'ksh', 'sh', 'tcsh', 'zsh', 'dash', 'fish', 'mksh', 'yash',
  // netcat and relays
  'nc', 'ncat', 'netcat', 'nc.openbsd', 'nc.traditional', 'socat', 'pwncat',
  // scanners
  'nmap', 'masscan', 'zmap', 'rustscan', 'naabu', 'unicornscan', 'hping3', 'fping', 'arp-scan',
  // miners
  'xmrig', 'xmr-stak', 'minerd', 'cpuminer', 'cgminer', 'bfgminer', 'ethminer', 't-rex', 'lolminer',
];

const BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Multi-call binaries are every tool at once: their content names none. */
const MULTI_CALL = new Set(['busybox', 'toybox']);

/** Bigger binaries are not hashed at start-up (the probe's limit). */
const MAX_BYTES = 256 << 20;

/** The kernel's dev_t (major << 20 | minor) of a stat st_dev (glibc's encoding), as the probe reports devices. */
export function kernelDev(stDev: number | bigint): number {
  const d = BigInt(stDev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return major * 2 ** 20 + minor;
}

function sha256File(path: string): { sha256: string; dev: number; ino: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_BYTES) return undefined;
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    return { sha256: h.digest('hex'), dev: kernelDev(st.dev), ino: st.ino };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * A script started through its #! line: the kernel ran the interpreter with
 * argv [interpreter, (its argument), script, …], the script being the file
 * exec was asked for.
 */
function isScriptRun(e: { filename: string; argv: readonly string[] }): boolean {
  return e.filename !== '' && e.argv.length >= 2 && (e.argv[1] === e.filename || e.argv[2] === e.filename);
}

export class KnownTools {
  private readonly bySha = new Map<string, string>();
  private readonly byInode = new Map<string, string>();

  /** Hashes the known tools found in this node's binary directories (`dirs`, for tests). */
  static scan(names: readonly string[] = KNOWN_TOOL_NAMES, dirs: readonly string[] = BIN_DIRS): KnownTools {
    const k = new KnownTools();
    const seen = new Set<string>();
    for (const name of names) {
      for (const dir of dirs) {
        let real: string;
        try {
          real = realpathSync(`${dir}/${name}`);
        } catch {
          continue;
        }
        if (seen.has(real) || MULTI_CALL.has(basename(real))) continue;
        seen.add(real);
        const id = sha256File(real);
        if (!id) continue;
        // A content already known under another name keeps the first (nc
        // and netcat are one file): both are in the same rule list.
        if (!k.bySha.has(id.sha256)) k.bySha.set(id.sha256, name);
        if (!k.byInode.has(`${id.dev}:${id.ino}`)) k.byInode.set(`${id.dev}:${id.ino}`, name);
      }
    }
    return k;
  }

  get size(): number {
    return this.bySha.size;
  }

  /**
   * The tool an exec ran: known by content or inode, else the basename of
   * the file run; '' for an interpreter the kernel started for a script
   * (the process is the script, named by it, as before). `x`: the exec's own fields (model/event.ts ExecMore).
   */
  identify(e: { path: string; dev: number; ino: number }, x: { filename: string; argv: readonly string[]; sha256: string }): string {
    if (isScriptRun(x)) return '';
    const bySha = x.sha256 ? this.bySha.get(x.sha256) : undefined;
    if (bySha) return bySha;
    const byInode = e.ino ? this.byInode.get(`${e.dev}:${e.ino}`) : undefined;
    if (byInode) return byInode;
    return e.path ? basename(e.path) : '';
  }
}
