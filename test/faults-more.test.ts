/**
 * More fault injection (issue 13), each through the real binary: links planted by another user
 * in a shared sticky folder, a disk that fills up during resize, kill -9 in the middle of a
 * cluster build, and sharp's decodes under IMGCMP_DECODE_TIMEOUT. Each checks that nothing
 * outside imgcmp's own files changed, one line per problem, the documented exit status, no stack
 * trace, and a clean next run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { BIN, imgcmp, ROOT, SAMPLES, tempDir, treeSnapshot, type Run } from './helpers/env.js';
import { fillUp, withTmpfs } from './helpers/disk.js';

/** A folder holding copies of the given sample pictures (paths relative to samples/). */
function picturesOf(names: readonly string[]): string {
  const dir = tempDir('mpics');
  for (const n of names) fs.copyFileSync(path.join(SAMPLES, n), path.join(dir, path.basename(n)));
  return dir;
}

const PAIR = ['chelsea.jpg', 'edited/chelsea_q25.jpg'];
const MORE = ['coffee.jpg', 'edited/coffee_brighter.jpg', 'pizza.jpg', 'sunset.jpg', 'kites.jpg', 'moon.jpg'];

/** No stack trace, no V8 or HDF5 diagnostics. */
function noTrace(r: { stderr: string }): void {
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+|Error:|FATAL|HDF5-DIAG|internal error/, `no stack trace:\n${r.stderr}`);
}

/** The lines of `stderr` that report a problem of `command`. */
function problemLines(r: { stderr: string }, command: string): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith(`imgcmp ${command}: `) || l.startsWith('imgcmp: '));
}

/** The pids the next processes will likely get: from the last one onwards. */
function nextPids(count: number): number[] {
  const last = spawnSync('true').pid!;
  return Array.from({ length: count }, (_, i) => last + 1 + i);
}

/** How to run a command as `nobody` here (setpriv or runuser), or undefined. */
function asNobody(): string[] | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (fs.existsSync(path.join(dir, 'setpriv'))) return [path.join(dir, 'setpriv'), '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (fs.existsSync(path.join(dir, 'runuser'))) return [path.join(dir, 'runuser'), '-u', 'nobody', '--'];
  }
  return undefined;
}

describe('more faults: links planted by another user', () => {
  it('report -o and cluster --json in a sticky 1777 folder write nothing through links nobody planted at temporary names', (t) => {
    if (process.getuid?.() !== 0) return t.skip('not root: needs root and the user nobody');
    const runAs = asNobody();
    if (!runAs) return t.skip('neither setpriv nor runuser is installed');
    const probe = spawnSync(runAs[0]!, [...runAs.slice(1), 'true']);
    if (probe.status !== 0) return t.skip(`cannot run as nobody: ${probe.stderr?.toString().trim()}`);

    const home = tempDir('mxuser');
    const db = path.join(home, 'fp.hdf');
    const pics = picturesOf([...PAIR, ...MORE]);
    assert.equal(imgcmp(['fingerprint', pics, '-f', db, '-q'], { home }).status, 0);
    const secretDir = tempDir('mxsecret');
    const secret = path.join(secretDir, 'root-only.txt');
    fs.writeFileSync(secret, 'root only\n', { mode: 0o600 });
    fs.chmodSync(secret, 0o600);
    const shared = tempDir('mxshared');
    fs.chmodSync(shared, 0o1777);

    // nobody plants links at every temporary name imgcmp would have used, and at random ones.
    const names: string[] = [];
    for (const pid of nextPids(300)) {
      for (const base of ['r.html', 'c.json']) {
        names.push(`${base}.${pid}.tmp`, `.${base}.${pid}.tmp`, `.${base}.${pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
      }
    }
    for (let i = 0; i < 20; i++) names.push(`.r_files.new-${crypto.randomBytes(3).toString('hex')}`);
    const plant = spawnSync(
      runAs[0]!,
      [...runAs.slice(1), process.execPath, '-e', 'const fs=require("fs"),p=require("path");const [d,t,...n]=process.argv.slice(1);for(const x of n)fs.symlinkSync(t,p.join(d,x));', shared, secret, ...names],
      { encoding: 'utf8' },
    );
    assert.equal(plant.status, 0, plant.stderr);
    const plantedOwner = fs.lstatSync(path.join(shared, names[0]!)).uid;
    assert.notEqual(plantedOwner, 0, 'the links belong to nobody');
    const before = { secret: treeSnapshot(secretDir), pics: treeSnapshot(pics), shared: treeSnapshot(shared) };

    const page = path.join(shared, 'r.html');
    const json = path.join(shared, 'c.json');
    for (let run = 0; run < 2; run++) {
      // The second run is the clean next run: it replaces imgcmp's own page and JSON.
      const rep = imgcmp(['report', '0.2', '--absolute', '-f', db, '-o', page, '-q'], { home });
      assert.equal(rep.status, 0, rep.stderr);
      noTrace(rep);
      const clu = imgcmp(['cluster', '0.2', '--absolute', '--no-tree', '-f', db, '--json', json], { home });
      assert.equal(clu.status, 0, clu.stderr);
      noTrace(clu);
      assert.deepEqual(problemLines(rep, 'report'), [], rep.stderr);
      assert.deepEqual(problemLines(clu, 'cluster'), [], clu.stderr);
      assert.equal(fs.readFileSync(secret, 'utf8'), 'root only\n', 'the root-only file was written through a planted link');
      assert.deepEqual(treeSnapshot(secretDir), before.secret);
      assert.deepEqual(treeSnapshot(pics), before.pics);
      assert.ok(fs.lstatSync(page).isFile() && fs.lstatSync(json).isFile(), 'the outputs are files of their own');
      assert.match(fs.readFileSync(page, 'utf8'), /<html/i);
      assert.equal(JSON.parse(fs.readFileSync(json, 'utf8')).clusters.length, 2);
      // Every planted link is left as it was; besides them, only imgcmp's outputs are there.
      const now = treeSnapshot(shared);
      for (const [rel, what] of Object.entries(before.shared)) assert.equal(now[rel], what, `${rel} changed`);
      const added = Object.keys(now).filter((rel) => !(rel in before.shared));
      assert.deepEqual(
        added.filter((rel) => rel !== 'r.html' && rel !== 'c.json' && !rel.startsWith(`r_files${path.sep}`) && rel !== 'r_files'),
        [],
        'no temporary file is left',
      );
    }
  });
});



describe('more faults: a full disk during resize', () => {
  it('each copy that does not fit is one line (exit 2), no partial copy or temporary is left, a rerun writes the rest', async (t) => {
    const src = picturesOf([...PAIR, ...MORE]);
    const srcBefore = treeSnapshot(src);
    const home = tempDir('mfullhome');
    // What each copy should be, from a run with room enough.
    const reference = tempDir('mfullref');
    const ref = imgcmp(['resize', '0.5', src, '-t', reference], { home });
    assert.equal(ref.status, 0, ref.stderr);
    const want = treeSnapshot(reference);
    const total = Object.keys(want).length;
    const sizes = Object.keys(want).map((f) => fs.statSync(path.join(reference, f)).size);
    const skipped = await withTmpfs('1m', (tgt) => {
      // Room for about a third of the copies.
      const { reserve, filler } = fillUp(tgt, Math.floor(sizes.reduce((a, b) => a + b, 0) / 3));
      fs.rmSync(reserve); // room for about a third of the copies
      const r = imgcmp(['resize', '0.5', src, '-t', tgt, '-n', '2'], { home });
      assert.equal(r.status, 2, r.stderr);
      noTrace(r);
      const lines = problemLines(r, 'resize');
      const m = /resize: (\d+) written, 0 skipped \(already there\), (\d+) failed/.exec(r.stderr);
      assert.ok(m, r.stderr);
      const [written, failed] = [Number(m[1]), Number(m[2])];
      assert.ok(failed >= 1, `some copies do not fit:\n${r.stderr}`);
      assert.equal(written + failed, total);
      assert.equal(lines.length, failed, `one line per copy that failed:\n${r.stderr}`);
      const failedSources = new Set<string>();
      for (const l of lines) {
        const hit = /^imgcmp resize: (.*): .*no space left on device/.exec(l);
        assert.ok(hit, `names the source and the full disk: ${l}`);
        failedSources.add(hit[1]!);
      }
      assert.equal(failedSources.size, failed, 'one line per source');
      // Only complete copies, named as they should be; no temporary.
      const there = fs.readdirSync(tgt).filter((f) => f !== path.basename(filler));
      assert.equal(there.length, written, `copies and nothing else: ${there.join(', ')}`);
      const now = treeSnapshot(tgt);
      for (const f of there) assert.equal(now[f], want[f], `${f} is a complete copy`);
      assert.deepEqual(treeSnapshot(src), srcBefore);
      // Space freed: the rerun writes the rest and skips what is there.
      fs.rmSync(filler);
      const again = imgcmp(['resize', '0.5', src, '-t', tgt], { home });
      assert.equal(again.status, 0, again.stderr);
      noTrace(again);
      assert.deepEqual(problemLines(again, 'resize'), [], again.stderr);
      assert.match(again.stderr, new RegExp(`resize: ${failed} written, ${written} skipped \\(already there\\), 0 failed`));
      assert.deepEqual(treeSnapshot(tgt), want);
      assert.deepEqual(treeSnapshot(src), srcBefore);
    });
    if (skipped) t.skip(skipped);
  });
});

/** Waits until `test()` holds, polling. */
async function until(test: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A tree without its marker (which names the pid that wrote it). */
function treeOf(dir: string): Record<string, string> {
  const tree = treeSnapshot(dir);
  assert.match(fs.readFileSync(path.join(dir, '.imgcmp-cluster'), 'utf8'), /^written by imgcmp cluster \(pid \d+ on /);
  delete tree['.imgcmp-cluster'];
  return tree;
}

describe('more faults: kill -9 during cluster', () => {
  it('builds killed at several moments are removed by the next run, whose tree equals an uninterrupted run\'s', async () => {
    const home = tempDir('mkill');
    const pics = tempDir('mkillpics');
    // Many links to a few photos: a tree large enough to be killed in the middle of its build.
    for (const n of [...PAIR, ...MORE]) {
      for (let i = 0; i < 40; i++) fs.symlinkSync(path.join(SAMPLES, n), path.join(pics, `${i}-${path.basename(n)}`));
    }
    const picsBefore = treeSnapshot(pics);
    const db = path.join(home, 'fp.hdf');
    assert.equal(imgcmp(['fingerprint', pics, '-L', '-f', db, '-q'], { home }).status, 0);
    const args = (out: string): string[] => ['cluster', '0.2', '--absolute', '-f', db, '-o', out];
    const ref = path.join(home, 'reference');
    assert.equal(imgcmp(args(ref), { home }).status, 0);
    const want = treeOf(ref);
    const out = path.join(home, 'cluster');
    const builds = (): string[] => fs.readdirSync(home).filter((f) => f.startsWith('.cluster.new-'));

    // Killed: as soon as its build appears, in the middle of it, and while it waits before the swap; a second time with an old tree in place.
    for (const [k, wait] of [0, 0, 5, 20, 100, 400, 0, 150].entries()) {
      if (k === 4) assert.equal(imgcmp(args(out), { home }).status, 0, 'an old tree to be replaced');
      const earlier = new Set(builds());
      const child = spawn(process.execPath, [BIN, ...args(out)], {
        cwd: ROOT,
        env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1', IMGCMP_TEST_SLOW_BUILD_MS: '3000' },
        stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      await until(() => builds().some((f) => !earlier.has(f)));
      if (wait) await new Promise((r) => setTimeout(r, wait));
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL', 'killed before it finished');
    }
    // Each run removes the builds of those killed before it; the last one's is left for the next run.
    assert.equal(builds().length, 1, `the last killed run left its build: ${builds().join(', ')}`);
    const r: Run = imgcmp(args(out), { home });
    assert.equal(r.status, 0, r.stderr);
    noTrace(r);
    assert.deepEqual(problemLines(r, 'cluster'), [], r.stderr);
    assert.deepEqual(
      fs.readdirSync(home).filter((f) => f.includes('.new-') || f.includes('.kept-')),
      [],
      'no build of a killed run is left',
    );
    assert.deepEqual(treeOf(out), want, 'the tree is complete');
    assert.deepEqual(treeSnapshot(pics), picsBefore);
    assert.deepEqual(fs.readdirSync(home).sort(), ['cluster', 'fp.hdf', 'reference']);
  });
});

describe('more faults: sharp decodes under IMGCMP_DECODE_TIMEOUT', () => {
  it('a PNG that takes longer than the limit is one line naming it; the run goes on (exit 2) and a rerun hashes the rest', async () => {
    const dir = picturesOf(['chelsea.jpg', 'moon.jpg', 'kites.jpg']);
    // 8000 × 8000 grey, of large noise blocks: 1 MB, ≥ 200 ms to decode here; the limit is 1 ms.
    const tile = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .greyscale()
      .png()
      .toBuffer();
    const big = path.join(dir, 'big.png');
    await sharp(tile).resize(8000, 8000, { kernel: 'nearest' }).png({ compressionLevel: 6 }).toFile(big);
    const files = fs.readdirSync(dir).sort();
    const before = treeSnapshot(dir);
    const home = tempDir('mtimeout');
    const db = path.join(home, 'fp.hdf');
    const r = imgcmp(['fingerprint', dir, '--decoder', 'sharp', '-f', db, '-q'], { home, env: { IMGCMP_DECODE_TIMEOUT: '0.001' } });
    assert.equal(r.status, 2, r.stderr);
    noTrace(r);
    const lines = problemLines(r, 'fingerprint');
    const reason = ': decoding took longer than 0.001 s (IMGCMP_DECODE_TIMEOUT sets the limit)';
    assert.deepEqual(lines.filter((l) => l.startsWith(`imgcmp fingerprint: ${big}: `)), [`imgcmp fingerprint: ${big}${reason}`]);
    // The others may be over 1 ms too (or not): each is hashed or has its one line, nothing else.
    const failed = lines.map((l) => {
      const file = files.find((f) => l === `imgcmp fingerprint: ${path.join(dir, f)}${reason}`);
      assert.ok(file, `a line naming a file and the time limit: ${l}`);
      return file;
    });
    assert.equal(new Set(failed).size, failed.length, 'one line per file');
    const hashed = files.length - failed.length;
    assert.match(r.stderr, new RegExp(`fingerprint: ${hashed} hashed, 0 unchanged, ${failed.length} failed`));
    assert.deepEqual(treeSnapshot(dir), before);
    // Without the limit: the files that failed are hashed, the others are not decoded again.
    const again = imgcmp(['fingerprint', dir, '--decoder', 'sharp', '-f', db, '-q'], { home });
    assert.equal(again.status, 0, again.stderr);
    noTrace(again);
    assert.deepEqual(problemLines(again, 'fingerprint'), [], again.stderr);
    assert.match(again.stderr, new RegExp(`fingerprint: ${failed.length} hashed, ${hashed} unchanged, 0 failed; ${files.length} in the database`));
    assert.deepEqual(treeSnapshot(dir), before);
  });
});
