// uid → user name and gid → group name from the node's /etc/passwd and
// /etc/group. An id not found looks at the file again, at most every
// CHECK_MS, and re-reads it only when it changed (useradd replaces it:
// another inode, size or time): a user made a moment ago is named in its
// first alerts, and a container's uids the node does not know cost a
// stat now and then, not a read. Unknown ids read as the number. Bounded:
// a file with more entries than MAX_ENTRIES keeps the first MAX_ENTRIES.
import { readFileSync, statSync } from 'node:fs';

const MAX_ENTRIES = 65_536;
const CHECK_MS = 100;

/** What changes when the file is edited or replaced; '' when it cannot be read. */
function signature(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return '';
  }
}

class IdNames {
  private names = new Map<number, string>();
  private checkedAt = -Infinity;
  private read = '\0never';

  constructor(private readonly file: string) {}

  name(id: number): string {
    const n = this.names.get(id);
    if (n !== undefined) return n;
    const now = Date.now();
    if (now - this.checkedAt >= CHECK_MS) {
      this.checkedAt = now;
      const sig = signature(this.file);
      if (sig !== this.read) {
        this.read = sig;
        this.names = parseIdFile(this.file);
        const again = this.names.get(id);
        if (again !== undefined) return again;
      }
    }
    return String(id);
  }
}

/** name:x:id:… lines → id → name (the first name of an id wins, as getpwuid does). */
export function parseIdFile(file: string): Map<number, string> {
  const out = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(':');
    const id = Number(parts[2]);
    if (!parts[0] || !Number.isInteger(id) || out.has(id)) continue;
    out.set(id, parts[0]);
    if (out.size >= MAX_ENTRIES) break;
  }
  return out;
}

export class UserNames {
  private readonly users: IdNames;
  private readonly groups: IdNames;

  constructor(root = '/') {
    this.users = new IdNames(`${root.replace(/\/$/, '')}/etc/passwd`);
    this.groups = new IdNames(`${root.replace(/\/$/, '')}/etc/group`);
  }

  user(uid: number): string {
    return this.users.name(uid);
  }

  group(gid: number): string {
    return this.groups.name(gid);
  }
}
