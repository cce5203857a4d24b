// The DaemonSet's images, built here with `docker build` from daemonset/.
// Their bases (debian:bookworm-slim, node:20-bookworm-slim, Google's
// distroless cc-debian12 and nodejs20-debian12) live in registries this
// machine cannot reach, so equivalents are built locally under the same
// names, and the Dockerfiles build unchanged on top of them:
//   debian:bookworm-slim   a debootstrapped Debian 12 (minbase), from the
//                          Debian mirror apt already uses;
//   node:20-bookworm-slim  that, plus this machine's Node 20 as the official
//                          image lays it out (/usr/local/bin/node, npm);
//   distroless/cc-debian12 only glibc, libgcc and libstdc++ from that Debian,
//                          /etc/passwd and /tmp: no shell, no package manager;
//   distroless/nodejs20-debian12  that, plus Node at /nodejs/bin/node.
// The debootstrapped root is cached under .vigil-test/cache (minutes to
// make, once per machine); images persist in the test dockerd's data root.
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, runtimeDataDir, type TestDocker } from './runtimes.js';

const run = promisify(execFile);

export const cacheDir = join(repoRoot, '.vigil-test/cache');

export const BASES = {
  debian: 'debian:bookworm-slim',
  node: 'node:20-bookworm-slim',
  cc: 'gcr.io/distroless/cc-debian12',
  nodejs: 'gcr.io/distroless/nodejs20-debian12',
} as const;

export const PROBE_IMAGE = 'vigil-probe:0.1.0';
export const ENGINE_IMAGE = 'vigil-engine:0.1.0';

async function sh(file: string, args: string[], timeoutMs = 30 * 60_000): Promise<string> {
  try {
    return (await run(file, args, { timeout: timeoutMs, maxBuffer: 256 << 20 })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${file} ${args.join(' ')}: ${((e.stderr || '') + (e.stdout || '')).trim().slice(-4000) || e.message}`, { cause: err });
  }
}

/** Debian 12 minbase, debootstrapped once and kept as a tarball. */
export async function debianRootfs(log: (s: string) => void = () => {}): Promise<{ tar: string; dir: string }> {
  const tar = join(cacheDir, 'debian-bookworm-minbase.tar');
  const dir = join(cacheDir, 'debian-bookworm-minbase');
  if (existsSync(tar) && existsSync(join(dir, 'var/lib/dpkg/status'))) return { tar, dir };
  mkdirSync(cacheDir, { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  const mirror = aptMirror();
  log(`debootstrap bookworm from ${mirror} (once; cached in ${cacheDir})`);
  await sh('debootstrap', ['--variant=minbase', 'bookworm', dir, mirror]);
  // What the official image leaves out; the apt lists are fetched again by `apt-get update`.
  rmSync(join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
  mkdirSync(join(dir, 'var/cache/apt/archives/partial'), { recursive: true });
  await sh('tar', ['-C', dir, '--numeric-owner', '-cf', `${tar}.tmp`, '.']);
  await sh('mv', [`${tar}.tmp`, tar]);
  return { tar, dir };
}

/** The Debian mirror this machine's apt uses (so no other network is reached). */
function aptMirror(): string {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const uri = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  return 'http://deb.debian.org/debian';
}

/** Files of installed packages in `root`, as paths inside it with their directories resolved (merged /usr). */
async function packageFiles(root: string, packages: readonly string[]): Promise<string[]> {
  const listed = await sh('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-L', ...packages]);
  const out = new Set<string>();
  for (const p of listed.split('\n')) {
    if (!p.startsWith('/') || p === '/.') continue;
    let parent: string;
    try {
      parent = realpathSync(join(root, dirname(p)));
    } catch {
      continue;
    }
    const inRoot = join(relative(root, parent), basename(p));
    if (existsSync(join(root, inRoot)) || isLinkSafe(join(root, inRoot))) out.add(inRoot);
  }
  return [...out].sort();
}

/** Bumped when the recipe below changes: images built by an older one are built again. */
const RECIPE = 'vigil.test.base=2';

async function hasImage(docker: TestDocker, name: string): Promise<boolean> {
  const label = await docker.cli(['image', 'inspect', '-f', '{{ index .Config.Labels "vigil.test.base" }}', name]).catch(() => '');
  return label.trim() === RECIPE.split('=')[1];
}

/** Builds the four base images under their registry names, where absent. */
export async function buildBaseImages(docker: TestDocker, log: (s: string) => void = () => {}): Promise<void> {
  const need = await Promise.all(Object.values(BASES).map((b) => hasImage(docker, b)));
  if (need.every(Boolean)) return;
  const { tar, dir } = await debianRootfs(log);
  const work = join(runtimeDataDir, 'base-build');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    if (!(await hasImage(docker, BASES.debian))) {
      log(`importing ${BASES.debian}`);
      await docker.cli(['import', '-c', 'CMD ["bash"]', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', `LABEL ${RECIPE}`, tar, BASES.debian]);
    }
    const node = realpathSync(process.execPath);
    if (!(await hasImage(docker, BASES.node))) {
      log(`building ${BASES.node} from this machine's Node ${process.version}`);
      const ctx = join(work, 'node');
      mkdirSync(ctx, { recursive: true });
      copyFileSync(node, join(ctx, 'node'));
      cpSync(npmDir(), join(ctx, 'npm'), { recursive: true });
      // This machine's network may inspect TLS with its own CA (NODE_EXTRA_CA_CERTS names it): npm in
      // the build stage must trust what this machine's npm trusts, or the registry is unreachable.
      const extraCa = process.env.NODE_EXTRA_CA_CERTS;
      if (extraCa && existsSync(extraCa)) copyFileSync(extraCa, join(ctx, 'extra-ca.crt'));
      writeFileSync(join(ctx, 'Dockerfile'), [
        `FROM ${BASES.debian}`,
        'COPY node /usr/local/bin/node',
        'COPY npm /usr/local/lib/node_modules/npm',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx',
        ...(extraCa && existsSync(extraCa) ? ['COPY extra-ca.crt /usr/local/share/vigil-test-ca.crt', 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/vigil-test-ca.crt'] : []),
        'CMD ["node"]',
      ].join('\n'));
      await docker.cli(['build', '-q', '--label', RECIPE, '-t', BASES.node, ctx], 30 * 60_000);
    }
    if (!(await hasImage(docker, BASES.cc)) || !(await hasImage(docker, BASES.nodejs))) {
      log(`building ${BASES.cc} and ${BASES.nodejs}`);
      const ctx = join(work, 'cc');
      mkdirSync(ctx, { recursive: true });
      const files = ['bin', 'lib', 'lib64', 'sbin', 'etc/ld.so.conf', 'etc/ld.so.conf.d', 'etc/ld.so.cache', 'etc/os-release', 'usr/lib/os-release', 'etc/nsswitch.conf',
        ...(await packageFiles(dir, ['libc6', 'libgcc-s1', 'libstdc++6']))].filter((f) => existsSync(join(dir, f)) || isLinkSafe(join(dir, f)));
      const list = join(ctx, 'files');
      writeFileSync(list, `${files.join('\n')}\n`);
      const rootfs = join(ctx, 'rootfs');
      mkdirSync(join(rootfs, 'etc'), { recursive: true });
      mkdirSync(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
      await sh('tar', ['-C', dir, '--no-recursion', '--numeric-owner', '-cf', join(ctx, 'libs.tar'), '-T', list]);
      await sh('tar', ['-C', rootfs, '-xf', join(ctx, 'libs.tar')]);
      // distroless's users: root, nonroot (65532), nobody.
      writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
      writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n');
      await sh('chmod', ['1777', join(rootfs, 'tmp')]);
      await sh('tar', ['-C', rootfs, '--numeric-owner', '-cf', join(ctx, 'cc.tar'), '.']);
      await docker.cli(['import', '-c', `LABEL ${RECIPE}`, join(ctx, 'cc.tar'), BASES.cc]);
      const nctx = join(work, 'nodejs');
      mkdirSync(nctx, { recursive: true });
      copyFileSync(node, join(nctx, 'node'));
      writeFileSync(join(nctx, 'Dockerfile'), [`FROM ${BASES.cc}`, 'COPY node /nodejs/bin/node', 'ENTRYPOINT ["/nodejs/bin/node"]'].join('\n'));
      await docker.cli(['build', '-q', '--label', RECIPE, '-t', BASES.nodejs, nctx], 30 * 60_000);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function isLinkSafe(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** npm as installed with this Node (…/lib/node_modules/npm). */
function npmDir(): string {
  const prefix = dirname(dirname(realpathSync(process.execPath)));
  for (const d of [join(prefix, 'lib/node_modules/npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm']) if (existsSync(join(d, 'bin/npm-cli.js'))) return d;
  throw new Error('npm not found next to this Node');
}

/** `docker build`s the probe and engine images from daemonset/ (BuildKit: each Dockerfile's own .dockerignore). */
export async function buildVigilImages(docker: TestDocker): Promise<{ probeSeconds: number; engineSeconds: number }> {
  const build = async (dockerfile: string, tag: string): Promise<number> => {
    const t0 = Date.now();
    await docker.cli(['build', '--network', 'host', '-f', join(repoRoot, 'daemonset', dockerfile), '-t', tag, repoRoot], 60 * 60_000, { DOCKER_BUILDKIT: '1' });
    return (Date.now() - t0) / 1000;
  };
  // One at a time: the machine has two vCPUs.
  const probeSeconds = await build('Dockerfile.probe', PROBE_IMAGE);
  const engineSeconds = await build('Dockerfile.engine', ENGINE_IMAGE);
  return { probeSeconds, engineSeconds };
}
