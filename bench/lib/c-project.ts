// A generated C project for the build-like workload: `files` sources that
// each include a few system headers and a shared local one, linked into
// one program by a plain Makefile, so a build is many short compiler
// processes opening headers, as real builds are.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

export function generateProject(files: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-build-'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src/common.h'), '#include <stddef.h>\nstruct item { int id; const char *name; };\nint checksum(const char *s, size_t n);\n');
  const names: string[] = [];
  for (let i = 0; i < files; i++) {
    const name = `unit${i}`;
    names.push(name);
    writeFileSync(
      join(dir, `src/${name}.c`),
      [
        '#include <stdio.h>', '#include <stdlib.h>', '#include <string.h>', '#include <errno.h>', '#include "common.h"',
        `static struct item items_${i}[] = { { ${i}, "a" }, { ${i + 1}, "b" } };`,
        `int ${name}(int x) {`,
        '  char buf[64];',
        `  snprintf(buf, sizeof buf, "%d-%s", x + items_${i}[0].id, items_${i}[1].name);`,
        '  for (int k = 0; k < x % 7; k++) x = x * 31 + (int)strlen(buf);',
        '  return x ^ checksum(buf, strlen(buf));',
        '}',
        '',
      ].join('\n'),
    );
  }
  writeFileSync(
    join(dir, 'src/main.c'),
    [
      '#include <stdio.h>', '#include "common.h"',
      ...names.map((n) => `int ${n}(int);`),
      'int checksum(const char *s, size_t n) { int h = 0; for (size_t i = 0; i < n; i++) h = h * 33 + s[i]; return h; }',
      'int main(void) { int x = 1;',
      ...names.map((n) => `  x ^= ${n}(x);`),
      '  printf("%d\\n", x); return 0; }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'Makefile'),
    [
      'SRCS := $(wildcard src/*.c)',
      'OBJS := $(SRCS:src/%.c=obj/%.o)',
      'prog: $(OBJS)',
      '\t$(CC) -o $@ $^',
      'obj/%.o: src/%.c src/common.h | obj',
      '\t$(CC) -O1 -Wall -c -o $@ $<',
      'obj:',
      '\tmkdir -p obj',
      'clean:',
      '\trm -rf obj prog',
      '',
    ].join('\n'),
  );
  return dir;
}

function run(args: string[], cgroupProcs?: string): Promise<void> {
  // Asynchronous: an engine in this process keeps working meanwhile.
  // On every CPU, whatever this process is pinned to.
  const make = ['taskset', '-c', `0-${cpus().length - 1}`, 'make', ...args];
  const cmd = cgroupProcs ? ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, ...make] : make;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`make ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

/** Removes the project's build output (make clean). */
export function clean(dir: string): Promise<void> {
  return run(['-s', '-C', dir, 'clean']);
}

/** Cleans (unless `cleaned`), then builds the project with make -jN (in a cgroup when given); the build's wall time in ns. */
export async function build(dir: string, jobs: number, cgroupProcs?: string, cleaned = false): Promise<number> {
  if (!cleaned) await clean(dir);
  const t0 = process.hrtime.bigint();
  await run(['-s', '-C', dir, `-j${jobs}`, 'prog'], cgroupProcs);
  return Number(process.hrtime.bigint() - t0);
}
