// The layers of src/ and the check that its imports follow them: no import
// cycle anywhere, and every import points down (or stays inside its own
// folder). test/unit/layers.test.ts runs the check as part of `npm test`;
// `npx tsx scripts/layers.ts` prints what it finds. src/README.md explains
// the layers to a reader.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Lowest first. A file may import from a lower layer, or from its own
 * unit (the folder or file named here, the longest match); units that
 * share a layer are siblings and import nothing of each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  // The floor: the domain's types and rules of thumb, the logger, the version. They import nothing of src/.
  ['model/', 'log.ts', 'version.ts', 'install.ts'],
  // The configuration file's shape and loading; durable state files.
  ['config/', 'state/'],
  // gRPC plumbing: the proto loader, listening and dialing.
  ['rpc/'],
  // The link to the probe: wire types, sessions and their commands, the supervisor, restarts.
  ['probe/'],
  // The gRPC server probes stream to, the one decoder, bounds on what an event may carry.
  ['ingest/'],
  // Process tree, cgroups, workloads.
  ['enrich/'],
  // Kubernetes identity: pods and their owners, as a workload resolver.
  ['enrich/k8s/'],
  // Container identity from the node's runtimes (CRI, Docker), as a workload resolver over the Kubernetes one.
  ['enrich/runtime/'],
  // What a detection stage is.
  ['detect/detector.ts'],
  // Behavioural profiles; signature rules.
  ['detect/profile/', 'detect/rules/', 'detect/cgroup-moves.ts'],
  // Automatic responses and enforcement; alert delivery; the event log; findings gathered for reports; detection worker threads.
  ['respond/', 'alert/', 'output/', 'report/', 'shard/'],
  // Beside the engine, reading narrow interfaces of what it wires: the cluster (profile CRDs, pod labels, policy reports), the control API, metrics and health, the web console.
  ['cluster/', 'control/', 'observe/', 'console/'],
  // Wiring and the hot loop.
  ['engine.ts'],
  // The `vigil` command.
  ['cli/'],
];

/** Import specifiers of a TypeScript file: static, re-exports, side-effect and dynamic imports. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /(?:\b(?:import|export)\s[^'";]*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;
  for (let m; (m = re.exec(code)); ) out.push(m[2]!);
  return out;
}

/** Every .ts file under `srcDir` (relative, with '/'), and the files of src/ each imports. */
export function importGraph(srcDir: string): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith('.ts')) files.push(relative(srcDir, p).split('\\').join('/'));
    }
  };
  walk(srcDir);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files.sort()) {
    const deps = new Set<string>();
    for (const spec of importsOf(readFileSync(join(srcDir, f), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = normalize(join(dirname(f), spec)).split('\\').join('/').replace(/\.js$/, '.ts');
      for (const c of [target, `${target}.ts`, `${target}/index.ts`]) {
        if (known.has(c)) {
          deps.add(c);
          break;
        }
      }
    }
    graph.set(f, [...deps]);
  }
  return graph;
}

/** The unit (the LAYERS entry, longest match) a file belongs to, and its layer; null when no entry names it. */
export function placeOf(file: string, layers: readonly (readonly string[])[] = LAYERS): { unit: string; layer: number } | null {
  let best: { unit: string; layer: number } | null = null;
  for (let layer = 0; layer < layers.length; layer++) {
    for (const unit of layers[layer]!) {
      const match = unit.endsWith('/') ? file.startsWith(unit) : file === unit;
      if (match && (!best || unit.length > best.unit.length)) best = { unit, layer };
    }
  }
  return best;
}

/** Import cycles (each as its files, in order), found as the graph's strongly connected components. */
export function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.reverse());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** What breaks the layering in `srcDir`: cycles, files no layer names, imports that point up or sideways. */
export function checkImports(srcDir: string, layers: readonly (readonly string[])[] = LAYERS): string[] {
  const graph = importGraph(srcDir);
  const problems: string[] = [];
  for (const cycle of cyclesOf(graph)) problems.push(`import cycle: ${[...cycle, cycle[0]].join(' → ')}`);
  for (const [file, deps] of graph) {
    const from = placeOf(file, layers);
    if (!from) {
      problems.push(`${file}: in no layer (scripts/layers.ts lists them)`);
      continue;
    }
    for (const dep of deps) {
      const to = placeOf(dep, layers);
      if (!to || to.unit === from.unit || to.layer < from.layer) continue;
      const how = to.layer === from.layer ? 'sideways, to a sibling' : 'upward';
      problems.push(`${file} imports ${dep}: ${how} (${from.unit} is layer ${from.layer}, ${to.unit} layer ${to.layer})`);
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const problems = checkImports(fileURLToPath(new URL('../src', import.meta.url)));
  for (const p of problems) process.stdout.write(`${p}\n`);
  process.stdout.write(problems.length ? `${problems.length} problems\n` : 'imports follow the layers; no cycles\n');
  process.exit(problems.length ? 1 : 0);
}
