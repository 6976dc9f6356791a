/**
 * Dedupe you can trust (issue 12, second part), through the real binary: a file is a file
 * whatever path reaches it (device and inode; links in folders followed only with -L), the
 * database follows the files (apply and undo update it; gone and changed files are named), and
 * moves across file systems (copy, fsync, sha256 check, journal, then removal; undo the same).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BIN, imgcmp, SAMPLES, tempDir, treeSnapshot } from './helpers/env.js';


const ORIGINALS = ['chelsea.jpg', 'coffee.jpg', 'moon.jpg', 'rocket.jpg'];

/** A library of duplicate pairs (a/ and b/ hold the same pictures), fingerprinted in `home`. */
function pairs(home: string, lib = path.join(home, 'lib')): string {
  for (const side of ['a', 'b']) {
    fs.mkdirSync(path.join(lib, side), { recursive: true });
    for (const f of ORIGINALS) fs.copyFileSync(path.join(SAMPLES, f), path.join(lib, side, f));
  }
  const r = imgcmp(['fingerprint', lib, '-q'], { home });
  assert.equal(r.status, 0, r.stderr);
  return lib;
}

const SIM = ['0.05', '--absolute'];
const moves = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('  move '));
const journalIn = (dupes: string): string => {
  const found = fs.readdirSync(dupes).filter((f) => f.endsWith('.journal'));
  assert.equal(found.length, 1, `one journal in ${dupes}`);
  return path.join(dupes, found[0]!);
};

describe('dedupe: a file is a file, whatever path reaches it', () => {
  it('a folder fingerprinted as real/photos and through a linked alias/photos is one set of pictures: nothing moves', () => {
    const home = tempDir('id-alias');
    const photos = path.join(home, 'real', 'photos');
    fs.mkdirSync(photos, { recursive: true });
    for (const f of ORIGINALS) fs.copyFileSync(path.join(SAMPLES, f), path.join(photos, f));
    fs.symlinkSync(path.join(home, 'real'), path.join(home, 'alias'));
    const before = treeSnapshot(photos);
    for (const arg of [photos, path.join(home, 'alias', 'photos')]) assert.equal(imgcmp(['fingerprint', arg, '-q'], { home }).status, 0);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', ...SIM, '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(moves(r.stdout), []);
    assert.deepEqual(treeSnapshot(photos), before, 'every unique photo is still in the archive');
  });

  it('a link fav.jpg → orig1.jpg: not fingerprinted without -L; with -L the link is never kept over its target, and nothing moves', () => {
    const home = tempDir('id-fav');
    const dir = path.join(home, 'lib');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(SAMPLES, 'chelsea.jpg'), path.join(dir, 'orig1.jpg'));
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(dir, 'other.jpg'));
    fs.symlinkSync('orig1.jpg', path.join(dir, 'fav.jpg'));
    const before = treeSnapshot(dir);
    const plain = imgcmp(['fingerprint', dir], { home });
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stderr, /\b2 in the database/, 'the link is not fingerprinted');
    const followed = imgcmp(['fingerprint', dir, '-L'], { home });
    assert.match(followed.stderr, /\b3 in the database/, plain.stderr);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', ...SIM, '--keep', 'path-prefix=' + path.join(dir, 'fav.jpg'), '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(moves(r.stdout), []);
    assert.deepEqual(treeSnapshot(dir), before);
  });

  it('dedupe --link symlink --apply, fingerprint --prune, plan again: nothing real moves', () => {
    const home = tempDir('id-relink');
    const lib = pairs(home);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--link', 'symlink', '--apply'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(moves(r.stdout).length, ORIGINALS.length);
    const after = treeSnapshot(lib);
    for (const [k, args] of [['fingerprint', lib, '--prune', '-q'], ['fingerprint', lib, '--prune', '-q', '-L']].entries()) {
      assert.equal(imgcmp(args, { home }).status, 0);
      const again = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/b`, '--move-to', path.join(home, `dupes${k + 2}`), '--apply'], { home });
      assert.ok(again.status === 0 || /clustering needs/.test(again.stderr), again.stderr);
      assert.deepEqual(moves(again.stdout), [], args.join(' '));
      assert.deepEqual(treeSnapshot(lib), after);
    }
  });

  it('a FIFO named like a picture and a path longer than PATH_MAX in a searched folder each get one line', () => {
    const home = tempDir('id-odd');
    const dir = path.join(home, 'lib');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(dir, 'moon.jpg'));
    assert.equal(spawnSync('mkfifo', [path.join(dir, 'pipe.jpg')]).status, 0, 'mkfifo');
    // Folders nested past PATH_MAX (4096 bytes), made a step at a time from inside.
    const made = spawnSync('python3', ['-c', `import os, shutil, sys\nos.chdir(sys.argv[1])\nfor i in range(20):\n    os.mkdir('${'d'.repeat(240)}')\n    os.chdir('${'d'.repeat(240)}')\nshutil.copy(sys.argv[2], 'deep.jpg')`, dir, path.join(SAMPLES, 'chelsea.jpg')]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const r = imgcmp(['fingerprint', dir], { home });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('imgcmp fingerprint: '));
    assert.equal(lines.filter((l) => l.includes('pipe.jpg') && /not a regular file \(a named pipe/.test(l)).length, 1, r.stderr);
    assert.equal(lines.filter((l) => /PATH_MAX|too long/.test(l)).length, 1, r.stderr);
  });
});

describe('dedupe: the database follows the files', () => {
  it('apply takes the moved entries out, undo brings them back; cluster writes no dangling link', () => {
    const home = tempDir('id-db');
    const lib = pairs(home);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 0, r.stderr);
    const out = path.join(home, 'clusters');
    const c = imgcmp(['cluster', ...SIM, '-o', out], { home });
    assert.doesNotMatch(c.stderr, /missing/, c.stderr);
    if (fs.existsSync(out)) for (const [rel, v] of Object.entries(treeSnapshot(out))) if (v.startsWith('link')) assert.ok(fs.existsSync(path.join(out, rel)), `${rel} dangles`);
    const u = imgcmp(['dedupe', '--undo', journalIn(dupes)], { home });
    assert.equal(u.status, 0, u.stderr);
    const plan = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes], { home });
    assert.equal(plan.status, 0, plan.stderr);
    assert.equal(moves(plan.stdout).length, ORIGINALS.length, 'the restored entries are back in the database');
  });

  it('a member deleted by hand is named and skipped (no abort); a file replaced by another picture is not moved', () => {
    const home = tempDir('id-stale');
    const lib = pairs(home);
    fs.rmSync(path.join(lib, 'b', 'moon.jpg'));
    fs.copyFileSync(path.join(SAMPLES, 'nature.jpg'), path.join(lib, 'b', 'coffee.jpg'));
    const before = treeSnapshot(lib);
    const dupes = path.join(home, 'dupes');
    const dry = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes], { home });
    assert.equal(dry.status, 2, dry.stderr);
    assert.match(dry.stderr, /b\/moon\.jpg: .*gone since it was fingerprinted.*fingerprint --prune/);
    assert.match(dry.stderr, /b\/coffee\.jpg: .*changed since it was fingerprinted/);
    const r = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(moves(r.stdout).length, ORIGINALS.length - 2);
    assert.ok(fs.existsSync(path.join(lib, 'b', 'coffee.jpg')), 'the changed file stays');
    assert.equal(treeSnapshot(lib)['b/coffee.jpg'], before['b/coffee.jpg']);
    const c = imgcmp(['cluster', ...SIM, '--no-tree'], { home });
    assert.match(c.stderr, /1 entry of .* missing on disk .*imgcmp fingerprint --prune/, c.stderr);
  });
});

/** Mounts a small tmpfs at a new folder of `home` (root only); undefined when it cannot. */
function tmpfs(home: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = path.join(home, 'other-fs');
  fs.mkdirSync(dir);
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=50m', 'tmpfs', dir]).status === 0 ? dir : undefined;
}

describe('dedupe: moves across file systems', () => {
  it('copies, checks and journals each move to a tmpfs; undo puts the tree back byte for byte; kill -9 loses nothing', async (t) => {
    const home = tempDir('id-xdev');
    const other = tmpfs(home);
    if (!other) return t.skip('needs root to mount a tmpfs (mount -t tmpfs) as a second file system');
    try {
      const lib = pairs(home);
      const before = treeSnapshot(lib);
      const dupes = path.join(other, 'dupes');
      const args = ['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--link', 'symlink'];
      const dry = imgcmp(args, { home });
      assert.equal(dry.status, 0, dry.stderr);
      assert.equal(moves(dry.stdout).filter((l) => l.endsWith('(another file system: copied, checked, then removed)')).length, ORIGINALS.length);
      assert.match(dry.stderr, /4 to another file system, with room for them/);
      const r = imgcmp([...args, '--apply'], { home });
      assert.equal(r.status, 0, r.stderr);
      const journal = journalIn(dupes);
      assert.equal((fs.readFileSync(journal, 'utf8').match(/"sha256":"[0-9a-f]{64}"/g) ?? []).length, ORIGINALS.length);
      for (const f of ORIGINALS) assert.ok(fs.lstatSync(path.join(lib, 'b', f)).isSymbolicLink());
      assert.equal(imgcmp(['dedupe', '--undo', journal], { home }).status, 0);
      assert.deepEqual(treeSnapshot(lib), before);
      // Kill -9 at random moments of a cross-device apply: undo always agrees with the journal.
      let landed = 0;
      for (let tries = 0; tries < 12 && landed < 3; tries++) {
        fs.rmSync(dupes, { recursive: true, force: true });
        const child = spawn(process.execPath, [BIN, ...args, '--apply'], { env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1' }, stdio: 'ignore' });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
        const start = Date.now();
        while (Date.now() - start < 20000 && child.exitCode === null) if (fs.existsSync(dupes) && fs.readdirSync(dupes).some((f) => f.endsWith('.journal'))) break;
        const at = Date.now();
        const delay = Math.random() * 8 * (tries % 3);
        while (Date.now() - at < delay) {
          /* a random moment into the copies */
        }
        child.kill('SIGKILL');
        const killed = (await exited) === 'SIGKILL';
        if (!fs.existsSync(dupes) || !fs.readdirSync(dupes).some((f) => f.endsWith('.journal'))) continue;
        if (killed && /"from":/.test(fs.readFileSync(journalIn(dupes), 'utf8'))) landed++;
        const u = imgcmp(['dedupe', '--undo', journalIn(dupes)], { home });
        assert.equal(u.status, 0, u.stderr);
        assert.deepEqual(treeSnapshot(lib), before, `try ${tries}`);
        const left = Object.entries(treeSnapshot(dupes)).filter(([rel, v]) => v !== 'dir' && !rel.endsWith('.journal') && !rel.endsWith('.journal.hdf') && !rel.endsWith('.imgcmp-dedupe'));
        assert.deepEqual(left, [], 'no copy left behind');
      }
      assert.ok(landed > 0, 'a kill landed during the moves');
    } finally {
      spawnSync('umount', ['-l', other]);
    }
  });

  it('a --move-to inside the searched folder: a warning, and fingerprint never searches it', () => {
    const home = tempDir('id-inside');
    const lib = pairs(home);
    const dupes = path.join(lib, 'dupes');
    const r = imgcmp(['dedupe', ...SIM, '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*dupes is inside .*lib, where the pictures are/);
    const f = imgcmp(['fingerprint', lib], { home });
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stderr, new RegExp(`\\b${ORIGINALS.length} in the database`), f.stderr);
  });
});
