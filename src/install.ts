// Where this installation's own files are (proto/, the built-in rules, the
// probe binary): the nearest directory above a module that holds Vigil's
// package.json. Modules run from different depths — src/**/*.ts under tsx,
// dist/**/*.js, and the CLI's bundle (dist/cli/main.js and its chunks) — so
// a fixed '../..' from import.meta.url is wrong for some of them.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'vigil';

export function installRoot(moduleUrl: string): string {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
    } catch {
      // no package.json here (or not JSON): look further up
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of ${PACKAGE_NAME} in ${start} or above it: an incomplete installation`);
  }
}
