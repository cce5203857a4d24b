// The imports of src/ follow its layers (scripts/layers.ts, src/README.md):
// no import cycle, nothing importing upward or from a sibling. The checker
// itself is tried on a small tree that breaks each rule, so a checker that
// saw nothing could not pass.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImports, importGraph, importsOf } from '../../scripts/layers.js';

const src = fileURLToPath(new URL('../../src', import.meta.url));

describe('the layers of src/', () => {
  it('has no import cycle and no import that points up or sideways', () => {
    expect(checkImports(src)).toEqual([]);
  });

  it('keeps the model floor free of any other part of src/', () => {
    const graph = importGraph(src);
    const model = [...graph].filter(([f]) => f.startsWith('model/'));
    expect(model.length).toBeGreaterThan(5);
    for (const [file, deps] of model) expect(deps.filter((d) => !d.startsWith('model/')), file).toEqual([]);
  });
});

describe('the import checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  };

  it('reads static, type-only, re-export, side-effect and dynamic imports, not commented ones', () => {
    const text = [
      "import { a } from './a.js';",
      "import type {\n  B,\n} from '../b.js';",
      "export { c } from './c.js';",
      "import './d.js';",
      "const e = await import('./e.js');",
      "// import { f } from './f.js';",
      "/* import { g } from './g.js'; */",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js', 'node:fs']);
  });

  it('reports a cycle, an upward import, a sibling import and a file in no layer', () => {
    const layers = [['low/'], ['mid/', 'side/'], ['top.ts']];
    write('low/a.ts', "import { b } from './b.js';\nexport const a = 1;\n");
    write('low/b.ts', "import type { A } from './a.js';\nimport { m } from '../mid/m.js';\nexport const b = 2;\n");
    write('mid/m.ts', "import { s } from '../side/s.js';\nexport const m = 3;\n");
    write('side/s.ts', 'export const s = 4;\n');
    write('top.ts', "import { m } from './mid/m.js';\nimport { a } from './low/a.js';\n");
    write('stray.ts', 'export {};\n');
    const problems = checkImports(dir, layers);
    expect(problems).toContain('import cycle: low/a.ts → low/b.ts → low/a.ts');
    expect(problems).toContain('low/b.ts imports mid/m.ts: upward (low/ is layer 0, mid/ layer 1)');
    expect(problems).toContain('mid/m.ts imports side/s.ts: sideways, to a sibling (mid/ is layer 1, side/ layer 1)');
    expect(problems).toContain('stray.ts: in no layer (scripts/layers.ts lists them)');
    // top.ts imports only downward.
    expect(problems.filter((p) => p.startsWith('top.ts'))).toEqual([]);
    expect(problems).toHaveLength(4);
  });
});
