// Where the built-in rules are: apart from the rule compiler, so `vigil
// rules list` can find them (and key its cache) without loading it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { installRoot } from '../../install.js';

/** The built-in rules, read from the source tree at run time (the YAML is not copied into dist/). */
export const BUILTIN_DIR = join(installRoot(import.meta.url), 'src/detect/rules/builtin');

export function builtinFiles(): string[] {
  return readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(BUILTIN_DIR, f));
}
