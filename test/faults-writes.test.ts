/**
 * Hardening of what imgcmp writes (issue 13, part A), each through the real binary: links planted
 * at temporary names, a full disk, a folder changed while a new tree is built, builds of killed
 * runs, and one lock per database whatever its spelling. Each test reproduces a fault first.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BIN, imgcmp, ROOT, SAMPLES, tempDir } from './helpers/env.js';
import { fillUp, withTmpfs } from './helpers/disk.js';

const EDITED = path.join(SAMPLES, 'edited');

/** A folder holding copies of the given sample pictures (paths relative to samples/). */
function picturesOf(names: readonly string[]): string {
  const dir = tempDir('wpics');
  for (const n of names) fs.copyFileSync(path.join(SAMPLES, n), path.join(dir, path.basename(n)));
  return dir;
}

const PAIR = ['chelsea.jpg', 'edited/chelsea_q25.jpg'];
const MORE = ['coffee.jpg', 'edited/coffee_brighter.jpg', 'pizza.jpg', 'sunset.jpg', 'kites.jpg', 'moon.jpg'];

/** The pids the next processes will likely get: from the last one onwards. */
function nextPids(count: number): number[] {
  const last = spawnSync('true').pid!;
  return Array.from({ length: count }, (_, i) => last + 1 + i);
}

/** A file outside the folder imgcmp writes, and a check that it is unchanged. */
function victim(): { file: string; unchanged: () => void } {
  const file = path.join(tempDir('victim'), 'precious.txt');
  fs.writeFileSync(file, 'the only copy\n');
  return { file, unchanged: () => assert.equal(fs.readFileSync(file, 'utf8'), 'the only copy\n', `${file} was written through a link`) };
}

/** The problem lines of a run's standard error (progress and summaries aside). */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('imgcmp'));
}

const temporaries = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock') || f.includes('.new-'));

describe('writes: links planted at temporary names', () => {
  it('fingerprint writes no database through a link at the old temporary name .DB.<pid>.tmp', () => {
    const home = tempDir('wplant');
    const db = path.join(home, 'fp.hdf');
    const { file, unchanged } = victim();
    for (const pid of nextPids(400)) fs.symlinkSync(file, path.join(home, `.fp.hdf.${pid}.tmp`));
    const r = imgcmp(['fingerprint', picturesOf(PAIR), '-f', db, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    unchanged();
    assert.ok(fs.lstatSync(db).isFile(), 'the database is a file of its own, not a link');
  });

  it('report writes no page through a link at the old temporary name PAGE.<pid>.tmp', () => {
    const home = tempDir('wplant');
    const db = path.join(home, 'fp.hdf');
    assert.equal(imgcmp(['fingerprint', picturesOf(PAIR), '-f', db, '-q'], { home }).status, 0);
    const page = path.join(home, 'report.html');
    const { file, unchanged } = victim();
    for (const pid of nextPids(400)) fs.symlinkSync(file, `${page}.${pid}.tmp`);
    const r = imgcmp(['report', '0.2', '--absolute', '-f', db, '-o', page], { home });
    assert.equal(r.status, 0, r.stderr);
    unchanged();
    assert.ok(fs.lstatSync(page).isFile());
  });
});

describe('writes: cluster --json FILE', () => {
  it('refuses to overwrite a file that is not a cluster JSON imgcmp wrote, and replaces its own', () => {
    const home = tempDir('wjson');
    const db = path.join(home, 'fp.hdf');
    assert.equal(imgcmp(['fingerprint', picturesOf(PAIR), '-f', db, '-q'], { home }).status, 0);
    const photo = path.join(home, 'photo.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), photo);
    const before = fs.readFileSync(photo);
    const r = imgcmp(['cluster', '0.2', '--absolute', '--no-tree', '-f', db, '--json', photo], { home });
    assert.equal(r.status, 1);
    assert.deepEqual(problemLines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /was not written by imgcmp cluster; refusing to overwrite it/);
    assert.ok(fs.readFileSync(photo).equals(before), 'the photo is unchanged');
    // A link at the name is refused too, whatever it points at.
    const { file, unchanged } = victim();
    const link = path.join(home, 'link.json');
    fs.symlinkSync(file, link);
    assert.equal(imgcmp(['cluster', '0.2', '--absolute', '--no-tree', '-f', db, '--json', link], { home }).status, 1);
    unchanged();
    // Its own JSON it replaces.
    const json = path.join(home, 'c.json');
    for (let k = 0; k < 2; k++) {
      const ok = imgcmp(['cluster', '0.2', '--absolute', '--no-tree', '-f', db, '--json', json], { home });
      assert.equal(ok.status, 0, ok.stderr);
    }
    assert.equal(JSON.parse(fs.readFileSync(json, 'utf8')).clusters.length, 1);
    assert.deepEqual(temporaries(home), []);
  });
});



/** Bytes of every file of `dir` by name, to compare before and after. */
function snapshot(dir: string, names: readonly string[]): Map<string, Buffer> {
  return new Map(names.map((n) => [n, fs.readFileSync(path.join(dir, n))]));
}

describe('writes: a full disk', () => {
  it('fingerprint, cluster --json and report fail with one line, leaving the old files and no temporary', async (t) => {
    const skipped = await withTmpfs('300k', (dir) => {
      const home = tempDir('wfullhome');
      const db = path.join(dir, 'fp.hdf');
      const json = path.join(dir, 'c.json');
      const page = path.join(dir, 'r.html');
      const pics = picturesOf([...PAIR, ...MORE]);
      const few = picturesOf(PAIR);
      assert.equal(imgcmp(['fingerprint', few, '-f', db, '-q'], { home }).status, 0);
      assert.equal(imgcmp(['cluster', '0.2', '--absolute', '--no-tree', '-f', db, '--json', json], { home }).status, 0);
      const rep = imgcmp(['report', '0.2', '--absolute', '-f', db, '-o', page], { home });
      assert.equal(rep.status, 0, rep.stderr);
      const names = ['fp.hdf', 'c.json', 'r.html', ...fs.readdirSync(path.join(dir, 'r_files')).map((f) => path.join('r_files', f))];
      const before = snapshot(dir, names);
      const unchanged = (what: string): void => {
        for (const [n, bytes] of snapshot(dir, names)) assert.ok(bytes.equals(before.get(n)!), `${what}: ${n} changed`);
        assert.deepEqual(temporaries(dir), [], `${what}: temporary files left`);
      };
      const failsInOneLine = (what: string, args: string[], why: RegExp): void => {
        const r = imgcmp(args, { home });
        assert.equal(r.status, 1, `${what}: ${r.stderr}`);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
        assert.match(lines[0]!, why, what);
        unchanged(what);
      };

      // Not even room for the lock: refused, and no empty lock left behind to block the next run.
      const { reserve } = fillUp(dir, 4096);
      failsInOneLine('lock', ['fingerprint', pics, '-f', db, '-q'], /fp\.hdf\.lock: could not be written \(no space left on device\)/);
      // Room for the lock, not for the database.
      fs.rmSync(reserve);
      failsInOneLine('database', ['fingerprint', pics, '-f', db, '-q'], /fp\.hdf: could not be written \(no space left on device\)/);
      fillUp(dir, 0);
      failsInOneLine('cluster --json', ['cluster', '0.3', '--absolute', '--no-tree', '-f', db, '--json', json], /c\.json: could not be written \(no space left on device\)/);
      failsInOneLine('report', ['report', '0.3', '--absolute', '-f', db, '-o', page, '-q'], /r(_files|\.html): could not be written \(no space left on device\)/);
    });
    if (skipped) t.skip(skipped);
  });
});

/** Waits until `test()` holds, polling. */
async function until(test: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs imgcmp in the background with extra environment; resolves with its status and stderr. */
function imgcmpAsync(args: readonly string[], home: string, env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1', ...env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr })));
}

describe('writes: replacing a cluster tree', () => {
  it('keeps what the user put in the old tree while the new one was built', async () => {
    const home = tempDir('wrace');
    const db = path.join(home, 'fp.hdf');
    const out = path.join(home, 'cluster');
    assert.equal(imgcmp(['fingerprint', picturesOf([...PAIR, 'coffee.jpg', 'edited/coffee_brighter.jpg']), '-f', db, '-q'], { home }).status, 0);
    assert.equal(imgcmp(['cluster', '0.2', '--absolute', '-f', db, '-o', out], { home }).status, 0);
    const { file, unchanged } = victim();
    // IMGCMP_TEST_SLOW_BUILD_MS (src/util/replace.ts): the build waits before the swap.
    const running = imgcmpAsync(['cluster', '0.25', '--absolute', '-f', db, '-o', out], home, { IMGCMP_TEST_SLOW_BUILD_MS: '1500' });
    await until(() => fs.readdirSync(home).some((f) => f.startsWith('.cluster.new-')));
    fs.copyFileSync(path.join(EDITED, 'chelsea_small.jpg'), path.join(out, 'cluster_with_2', 'mine.jpg'));
    fs.symlinkSync(file, path.join(out, 'cluster_with_2', 'cluster_0', 'my-link.txt'));
    const r = await running;
    assert.equal(r.status, 0, r.stderr);
    const kept = fs.readdirSync(home).filter((f) => f.startsWith('cluster.kept-'));
    assert.equal(kept.length, 1, `old tree kept: ${fs.readdirSync(home).join(', ')}`);
    const keptDir = path.join(home, kept[0]!);
    assert.ok(fs.readFileSync(path.join(keptDir, 'cluster_with_2', 'mine.jpg')).equals(fs.readFileSync(path.join(EDITED, 'chelsea_small.jpg'))));
    assert.equal(fs.readlinkSync(path.join(keptDir, 'cluster_with_2', 'cluster_0', 'my-link.txt')), file);
    unchanged();
    const lines = problemLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /2 items that imgcmp cluster did not write .* it is kept as .*cluster\.kept-/);
    assert.ok(fs.existsSync(path.join(out, '.imgcmp-cluster')), 'the new tree is in place');
  });

  it('removes the builds of killed runs carrying its marker, and only those', () => {
    const home = tempDir('wstale');
    const db = path.join(home, 'fp.hdf');
    const out = path.join(home, 'cluster');
    assert.equal(imgcmp(['fingerprint', picturesOf(PAIR), '-f', db, '-q'], { home }).status, 0);
    const stale = path.join(home, '.cluster.new-Ab12Cd');
    fs.mkdirSync(path.join(stale, 'cluster_with_2'), { recursive: true });
    fs.writeFileSync(path.join(stale, '.imgcmp-cluster'), 'written by imgcmp cluster (pid 999999999 on ' + os.hostname() + '); this folder is replaced on the next run\n');
    fs.symlinkSync(path.join(SAMPLES, 'moon.jpg'), path.join(stale, 'cluster_with_2', 'moon.jpg'));
    const unmarked = path.join(home, '.cluster.new-Zz99Yy');
    fs.mkdirSync(unmarked);
    fs.writeFileSync(path.join(unmarked, 'notes.txt'), 'mine');
    const withFile = path.join(home, '.cluster.new-Qq11Ww');
    fs.mkdirSync(withFile);
    fs.writeFileSync(path.join(withFile, '.imgcmp-cluster'), 'written by imgcmp cluster; this folder is replaced on the next run\n');
    fs.writeFileSync(path.join(withFile, 'photo.jpg'), 'a photo');
    const r = imgcmp(['cluster', '0.2', '--absolute', '-f', db, '-o', out], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(stale), 'the stale build is removed');
    assert.ok(fs.existsSync(path.join(SAMPLES, 'moon.jpg')));
    assert.equal(fs.readFileSync(path.join(unmarked, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(fs.readFileSync(path.join(withFile, 'photo.jpg'), 'utf8'), 'a photo');
  });
});

describe('writes: one database, one lock, whatever its spelling', () => {
  it('a second writer through a link to the database, or to its folder, is refused at once', () => {
    const home = tempDir('wspell');
    const real = path.join(home, 'db', 'fp.hdf');
    fs.mkdirSync(path.dirname(real));
    fs.symlinkSync(real, path.join(home, 'link.hdf'));
    fs.symlinkSync(path.join(home, 'db'), path.join(home, 'dblink'));
    const holder = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(`${real}.lock`, `${holder.pid} ${os.hostname()}\n`);
      for (const spelling of [path.join(home, 'link.hdf'), path.join(home, 'dblink', 'fp.hdf')]) {
        const r = imgcmp(['fingerprint', picturesOf(PAIR), '-f', spelling, '-q'], { home });
        assert.equal(r.status, 1, `${spelling}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`another imgcmp \\(pid ${holder.pid}\\) is writing this database`));
      }
      assert.ok(!fs.existsSync(real));
    } finally {
      holder.kill();
    }
  });

  it('writing through the user\'s link to the database replaces the database, not the link', async () => {
    const home = tempDir('wlink');
    const real = path.join(home, 'fp.hdf');
    const link = path.join(home, 'link.hdf');
    assert.equal(imgcmp(['fingerprint', picturesOf(PAIR), '-f', real, '-q'], { home }).status, 0);
    fs.symlinkSync('fp.hdf', link);
    const r = imgcmp(['fingerprint', picturesOf(['coffee.jpg', 'moon.jpg']), '-f', link, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link is still a link');
    assert.equal(fs.readlinkSync(link), 'fp.hdf');
    const { readDb } = await import('../src/db/database.js');
    assert.equal((await readDb(real)).files.length, 4);
    assert.deepEqual(temporaries(home), []);
  });

  it('an empty lock file is stale: said in one line, taken over', () => {
    const home = tempDir('wempty');
    const db = path.join(home, 'fp.hdf');
    fs.writeFileSync(`${db}.lock`, '');
    const r = imgcmp(['fingerprint', picturesOf(PAIR), '-f', db, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    const lines = problemLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /fp\.hdf\.lock: lock file empty; treating it as stale/);
    assert.ok(!fs.existsSync(`${db}.lock`));
    assert.ok(fs.existsSync(db));
  });
});
