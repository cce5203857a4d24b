// Bundles the `vigil` command for its short commands (--version, status,
// rules, policy, mode, ...): Node's ES module loader spends most of a
// command's time opening and linking ~300 small files (zod, yaml, grpc-js,
// protobufjs, our own); one file per command path starts in about half the
// time. Written over tsc's dist/cli/main.js, chunks in dist/cli/chunks/.
// The engine (`run`, `engine`) is not bundled: main.ts reaches it through a
// specifier esbuild leaves alone, so it runs from dist/ exactly as compiled.
import { rmSync } from 'node:fs';
import process from 'node:process';
import { build } from 'esbuild';

// Chunks are named by content hash: last build's would pile up.
rmSync('dist/cli/chunks', { recursive: true, force: true });

const result = await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/cli',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  // CommonJS packages inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __vigilRequire } from 'node:module'; const require = __vigilRequire(import.meta.url);" },
  // Loaded only by the engine (src/cli/run.ts), which is not bundled.
  external: ['@kubernetes/client-node'],
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs);
// The engine must not be pulled in by an import someone adds: it would be a second copy beside dist/.
const engine = inputs.filter((f) => f === 'src/engine.ts' || f === 'src/cli/run.ts');
if (engine.length) {
  process.stderr.write(`bundle-cli: the bundle includes ${engine.join(', ')}; the engine must load unbundled (see src/cli/main.ts)\n`);
  process.exit(1);
}
