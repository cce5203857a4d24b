// Judge the file, not the string: every way of naming /etc/shadow other
// than "/etc/shadow" (a symlink, a symlinked directory, a hard link, a
// bind mount, /proc/self/root, /proc/self/fd/N, a chroot into /etc, a
// path padded past 512 bytes, a path string in a page not yet mapped) is
// read in its own test container, and the open event the engine sees
// names the file opened, keeps the string as passed (fd.nameraw), and
// raises the shadow rule and the alias rule. Reading /etc/shadow by its
// own name raises only the first. Links and mounts live in a private
// directory (the bind mount in a private mount namespace) and are removed
// at the end; /etc/shadow itself is only read.
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { PATH_BIND_MAPPED, PATH_HARDLINK, PATH_OUTSIDE_ROOT, PATH_RAW_REREAD, PATH_RAW_TRUNCATED, PATH_RAW_UNREADABLE, PATH_RESOLVED, PATH_TRUNCATED, type Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const SHADOW = '/etc/shadow';
const SHADOW_RULE = 'Shadow or sudoers file read';
const ALIAS_RULE = 'Sensitive file opened through another name';

describeKernel('file events name the file opened, not the string', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let dir: string;
  const alerts: Alert[] = [];
  const groups: TestCgroup[] = [];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    for (let i = 0; i < 14; i++) groups.push(tree.group(`files-${i}`));
    t = await TestEngine.start({ sinks: [] });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-files-')));
  });

  afterAll(async () => {
    await t?.stop();
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `cmd` in a fresh test container; returns the open of /etc/shadow the engine saw and the container. */
  async function readShadow(cmd: string, args: string[]): Promise<{ open: Event; g: TestCgroup }> {
    const g = groups.shift()!;
    const r = await g.run(cmd, args);
    expect(r.stderr, `${cmd} ${args.join(' ')}`).toBe('');
    expect(r.code).toBe(0);
    const open = await waitFor(`the open of ${SHADOW} in ${g.path}`, () => t.of(g.id, 'open').find((e) => e.path === SHADOW && e.result >= 0));
    await waitFor(`'${SHADOW_RULE}' for ${g.path}`, () => alerts.find((a) => a.rule === SHADOW_RULE && a.workload.cgroupPath === g.path));
    return { open, g };
  }

  async function aliasAlert(g: TestCgroup): Promise<Alert> {
    return waitFor(`'${ALIAS_RULE}' for ${g.path}`, () => alerts.find((a) => a.rule === ALIAS_RULE && a.workload.cgroupPath === g.path));
  }

  const sh = (script: string) => readShadow('/bin/sh', ['-c', script]);

  it('by its own name: the shadow rule, not the alias rule', async () => {
    const { open, g } = await readShadow('/bin/cat', [SHADOW]);
    expect(open.pathRaw).toBe(SHADOW);
    expect(open.pathFlags & PATH_RESOLVED).toBeTruthy();
    expect(open.ino).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(alerts.filter((a) => a.rule === ALIAS_RULE && a.workload.cgroupPath === g.path)).toEqual([]);
  });

  it('through ../ (fd.nameraw keeps them): the shadow rule, not the alias rule', async () => {
    const { open, g } = await readShadow('/bin/cat', ['/etc/../etc/./shadow']);
    expect(open.pathRaw).toBe('/etc/../etc/./shadow');
    await new Promise((r) => setTimeout(r, 300));
    expect(alerts.filter((a) => a.rule === ALIAS_RULE && a.workload.cgroupPath === g.path)).toEqual([]);
  });

  it('through a symlink', async () => {
    const { open, g } = await sh(`ln -s ${SHADOW} ${dir}/link && cat ${dir}/link >/dev/null`);
    expect(open.pathRaw).toBe(`${dir}/link`);
    const a = await aliasAlert(g);
    expect(a.output).toContain(`opened_as=${dir}/link`);
  });

  it('through a symlinked directory', async () => {
    const { open, g } = await sh(`ln -s /etc ${dir}/etc && cat ${dir}/etc/shadow >/dev/null`);
    expect(open.pathRaw).toBe(`${dir}/etc/shadow`);
    await aliasAlert(g);
  });

  it('through a hard link (same inode, another name)', async () => {
    const link = join(dir, 'hard');
    try {
      const { open, g } = await sh(`ln ${SHADOW} ${link} && cat ${link} >/dev/null; rm -f ${link}`);
      expect(open.pathRaw).toBe(link);
      expect(open.pathFlags & PATH_HARDLINK).toBeTruthy();
      await aliasAlert(g);
    } finally {
      rmSync(link, { force: true });
    }
  });

  it('through a bind mount of /etc', async () => {
    const mnt = join(dir, 'bind');
    // A private mount namespace: the bind mount is never seen outside the command.
    const { open, g } = await readShadow('/usr/bin/unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', `mkdir ${mnt} && mount --bind /etc ${mnt} && cat ${mnt}/shadow >/dev/null`]);
    expect(open.pathRaw).toBe(`${mnt}/shadow`);
    expect(open.pathFlags & PATH_BIND_MAPPED).toBeTruthy();
    await aliasAlert(g);
  });

  it('through /proc/self/root', async () => {
    const { open, g } = await readShadow('/bin/cat', [`/proc/self/root${SHADOW}`]);
    expect(open.pathRaw).toBe(`/proc/self/root${SHADOW}`);
    await aliasAlert(g);
  });

  it('through /proc/self/fd/N of an open /etc', async () => {
    const { open, g } = await sh('exec 3</etc; cat /proc/self/fd/3/shadow >/dev/null');
    expect(open.pathRaw).toBe('/proc/self/fd/3/shadow');
    await aliasAlert(g);
  });

  it('after chroot into /etc', async () => {
    const { open, g } = await readShadow('/usr/bin/python3', ['-c', "import os; os.chroot('/etc'); open('/shadow').read()"]);
    expect(open.pathRaw).toBe('/shadow');
    expect(open.pathFlags & PATH_OUTSIDE_ROOT).toBeTruthy();
    await aliasAlert(g);
  });

  it('through a path padded past 512 bytes', async () => {
    const padded = `${'/'.repeat(600)}etc/shadow`;
    const { open, g } = await readShadow('/bin/cat', [padded]);
    expect(open.pathFlags & PATH_RAW_TRUNCATED).toBeTruthy();
    // What the kernel keeps of the string: 511 slashes (fd.nameraw is not folded).
    expect(open.pathRaw).toBe('/'.repeat(511));
    await aliasAlert(g);
  });

  it('with the path string in a page not yet mapped', async () => {
    const holder = join(dir, 'path-holder');
    writeFileSync(holder, `${SHADOW}\0`);
    // mmap the file and pass the mapping to open(2) untouched: the page is
    // in the page cache but not in the process's page table, so a BPF read
    // at the syscall's entry fails; the kernel faults it in when it reads it.
    const script = [
      'import ctypes, os, sys',
      "libc = ctypes.CDLL(None, use_errno=True)",
      'libc.mmap.restype = ctypes.c_void_p',
      'libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]',
      'libc.open.argtypes = [ctypes.c_void_p, ctypes.c_int]',
      'fd = os.open(sys.argv[1], os.O_RDONLY)',
      'addr = libc.mmap(None, 4096, 1, 2, fd, 0)',
      'r = libc.open(addr, 0)',
      'sys.exit(0 if r >= 0 else 1)',
    ].join('\n');
    const { open } = await readShadow('/usr/bin/python3', ['-c', script, holder]);
    expect(open.pathFlags & PATH_RAW_REREAD).toBeTruthy();
    expect(open.pathRaw).toBe(SHADOW);
  });

  /** The count of incomplete paths `vigil status` shows for a test container's workload. */
  function incompleteOf(g: TestCgroup): number {
    return t.engine.status().workloads.find((w) => w.cgroupPath === g.path)?.pathsIncomplete ?? 0;
  }

  it('a path string the kernel cannot read either is flagged and counted for its workload', async () => {
    const g = groups.shift()!;
    // open(2) of an address nothing is mapped at: EFAULT, and no string to show.
    const r = await g.run('/usr/bin/python3', ['-c', 'import ctypes; libc = ctypes.CDLL(None); libc.open.argtypes = [ctypes.c_void_p, ctypes.c_int]; libc.open(4096, 0)']);
    expect(r.code).toBe(0);
    const open = await waitFor(`the unreadable open in ${g.path}`, () => t.of(g.id, 'open').find((e) => (e.pathFlags & PATH_RAW_UNREADABLE) !== 0));
    expect(open.result).toBe(-14);
    expect(open.pathRaw).toBe('');
    await waitFor(`an incomplete path counted for ${g.path}`, () => incompleteOf(g) >= 1 || undefined);
  });

  it('a file deeper than the walk goes is flagged truncated and counted for its workload', async () => {
    const g = groups.shift()!;
    const deep = join(dir, ...Array.from({ length: 45 }, (_, i) => `d${i}`));
    const r = await g.run('/bin/sh', ['-c', `mkdir -p ${deep} && echo x > ${deep}/f && cat ${deep}/f >/dev/null`]);
    expect(r.stderr).toBe('');
    const open = await waitFor(`the deep open in ${g.path}`, () => t.of(g.id, 'open').find((e) => e.pathRaw === `${deep}/f` && e.result >= 0 && (e.flags & 3) === 0));
    expect(open.pathFlags & PATH_TRUNCATED).toBeTruthy();
    expect(open.path.endsWith('/d44/f')).toBe(true);
    await waitFor(`an incomplete path counted for ${g.path}`, () => incompleteOf(g) >= 1 || undefined);
  });
});
