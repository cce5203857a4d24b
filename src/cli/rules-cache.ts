// `vigil rules list` answers from a cache while the rule files are
// unchanged: reading and compiling the YAML is most of the command's time
// (about half of it for the built-in set alone). The key is Vigil's
// version and every file's path and content, so any changed byte is a new
// entry; entries live in the user's own cache directory (0700, files 0600)
// and one that does not parse as a listing is ignored and rebuilt.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../version.js';

export interface RuleRow {
  name: string;
  priority: string;
  types: string[];
  tags: string[];
  kind: 'event' | 'threshold' | 'sequence';
  file: string;
}

/** What `rules list` prints, whether it was just built or read back. */
export interface RuleListing {
  rules: RuleRow[];
  skipped: { rule: string; reason: string; detail: string }[];
  /** Load errors, already rendered as file:line:col lines. */
  errors: string[];
  loaded: number;
  total: number;
}

/** Entries kept: one per set of rule files in use, a few at most. */
const KEEP = 8;

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vigil', 'rules-list');
}

/** The cache key of these files as they are now (a file that cannot be read counts as its error). */
export function listingKey(files: readonly string[]): string {
  const h = createHash('sha256').update(`vigil ${VERSION}\0`);
  for (const f of files) {
    h.update(`${f}\0`);
    try {
      h.update(readFileSync(f));
    } catch (err) {
      h.update(`unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

function isListing(v: unknown): v is RuleListing {
  const l = v as RuleListing;
  return typeof l === 'object' && l !== null && Array.isArray(l.rules) && Array.isArray(l.skipped) && Array.isArray(l.errors)
    && typeof l.loaded === 'number' && typeof l.total === 'number'
    && l.rules.every((r) => typeof r?.name === 'string' && typeof r.priority === 'string' && Array.isArray(r.types) && Array.isArray(r.tags));
}

export function readListing(key: string): RuleListing | null {
  try {
    const v: unknown = JSON.parse(readFileSync(join(cacheDir(), `${key}.json`), 'utf8'));
    return isListing(v) ? v : null;
  } catch {
    return null;
  }
}

/** Best effort: a read-only or full home only costs the next run its speed. */
export function writeListing(key: string, listing: RuleListing): void {
  const dir = cacheDir();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${key}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(listing), { mode: 0o600 });
    renameSync(tmp, join(dir, `${key}.json`));
    const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.json'));
    if (entries.length > KEEP) {
      const byAge = entries.map((e) => ({ name: e.name, at: statTime(join(dir, e.name)) })).sort((a, b) => a.at - b.at);
      for (const old of byAge.slice(0, entries.length - KEEP)) rmSync(join(dir, old.name), { force: true });
    }
  } catch {
    // not cached this time
  }
}

function statTime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
