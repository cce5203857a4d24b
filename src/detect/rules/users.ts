// uid → user name and gid → group name from the node's /etc/passwd and
// /etc/group, read once and re-read (at most every few seconds) when an
// id is not found. Unknown ids read as the number. Bounded: a file with
// more entries than MAX_ENTRIES keeps the first MAX_ENTRIES.
import { readFileSync } from 'node:fs';

const MAX_ENTRIES = 65_536;
const REREAD_MS = 5_000;

class IdNames {
  private names = new Map<number, string>();
  private readAt = -Infinity;

  constructor(private readonly file: string) {}

  name(id: number): string {
    const n = this.names.get(id);
    if (n !== undefined) return n;
    const now = Date.now();
    if (now - this.readAt > REREAD_MS) {
      this.readAt = now;
      this.names = parseIdFile(this.file);
      const again = this.names.get(id);
      if (again !== undefined) return again;
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
