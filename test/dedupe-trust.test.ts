/**
 * Dedupe you can trust (issue 12), through the real binary: a journal written ahead that --undo
 * can always follow (kill -9, a full disk, a link that fails after the move, a cut last line,
 * removed folders, malformed journals), moves that never replace anything, the `original` keep
 * rule, and the dry run's frictions.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { chooseKeeper, parseKeepRules, type MemberInfo } from '../src/actions/keep.js';
import { BIN, imgcmp, ROOT, SAMPLES, sampleImages, tempDir, treeSnapshot } from './helpers/env.js';


/** A library of duplicate pairs: each sample picture copied into a/ and b/; fingerprinted in `home`. */
function pairs(home: string): string {
  const lib = path.join(home, 'lib');
  for (const f of sampleImages()) {
    const name = path.relative(SAMPLES, f).replace(/\//g, '_');
    for (const side of ['a', 'b']) {
      fs.mkdirSync(path.join(lib, side), { recursive: true });
      fs.copyFileSync(f, path.join(lib, side, name));
    }
  }
  const r = imgcmp(['fingerprint', lib, '-q'], { home });
  assert.equal(r.status, 0, r.stderr);
  return lib;
}

const journalOf = (stderr: string, dupes: string): string => {
  const named = /journal (\S+\.journal)/.exec(stderr)?.[1];
  if (named) return named;
  const found = fs.existsSync(dupes) ? fs.readdirSync(dupes).filter((f) => f.endsWith('.journal')) : [];
  assert.equal(found.length, 1, `one journal in ${dupes}`);
  return path.join(dupes, found[0]!);
};

function undo(journal: string, home: string): { status: number | null; stderr: string } {
  const u = imgcmp(['dedupe', '--undo', journal], { home });
  assert.doesNotMatch(u.stderr, /internal error|\n\s+at /, 'no stack trace');
  return u;
}

/** A file system other than the one of `dir`, writable, or undefined. */
function otherFileSystem(dir: string): string | undefined {
  return ['/dev/shm', '/run/user', '/var/tmp'].find((d) => {
    try {
      return fs.statSync(d).dev !== fs.statSync(dir).dev && (fs.accessSync(d, fs.constants.W_OK), true);
    } catch {
      return false;
    }
  });
}

describe('dedupe: the journal is written ahead', () => {
  it('kill -9 at random moments of --apply: --undo restores every file byte for byte', async () => {
    const home = tempDir('trust-kill');
    const lib = pairs(home);
    const before = treeSnapshot(lib);
    const dupes = path.join(home, 'dupes');
    let midRun = 0;
    let tries = 0;
    for (; tries < 25 && midRun < 3; tries++) {
      fs.rmSync(dupes, { recursive: true, force: true });
      const child = spawn(process.execPath, [BIN, 'dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--link', 'symlink', '--apply'], {
        env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1' },
        stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      // Wait for the journal (the moves start), then a random moment more, and kill.
      const delay = Math.random() * 30 * (tries % 3);
      const start = Date.now();
      while (Date.now() - start < 20000 && child.exitCode === null) {
        if (fs.existsSync(dupes) && fs.readdirSync(dupes).some((f) => f.endsWith('.journal'))) break;
      }
      const at = Date.now();
      while (Date.now() - at < delay) {
        /* a random moment into the moves */
      }
      child.kill('SIGKILL');
      const killed = (await exited) === 'SIGKILL';
      if (!fs.existsSync(dupes) || !fs.readdirSync(dupes).some((f) => f.endsWith('.journal'))) continue;
      const journal = journalOf('', dupes);
      const text = fs.readFileSync(journal, 'utf8');
      const begun = (text.match(/"from":/g) ?? []).length;
      const done = (text.match(/"done":/g) ?? []).length;
      if (begun > 0 && killed) midRun++;
      const u = undo(journal, home);
      assert.equal(u.status, 0, u.stderr);
      assert.deepEqual(treeSnapshot(lib), before, `try ${tries}: killed after ${done} moves confirmed (${begun} begun); undo restored all`);
    }
    assert.ok(midRun > 0, `a kill landed in the middle of the moves within ${tries} tries`);
  });

  it('a full disk while writing the journal: --undo restores every file', () => {
    const home = tempDir('trust-full');
    const lib = pairs(home);
    const before = treeSnapshot(lib);
    const dupes = path.join(home, 'dupes');
    // The journal may grow to 2 KiB only (RLIMIT_FSIZE; node ignores SIGXFSZ, so writes fail with EFBIG).
    const r = spawnSync('/bin/sh', ['-c', 'ulimit -f 2 && exec "$@"', 'sh', process.execPath, BIN, 'dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--link', 'symlink', '--apply'], {
      cwd: ROOT,
      env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot write the journal/);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    const journal = journalOf('', dupes);
    const u = undo(journal, home);
    assert.equal(u.status, 0, u.stderr);
    assert.deepEqual(treeSnapshot(lib), before);
  });

  it('a --link hardlink that cannot be made after the move: --undo restores the file', (t) => {
    const home = tempDir('trust-exdev');
    const other = otherFileSystem(home);
    if (!other) return t.skip(`no writable folder on another file system than ${home}`);
    const ref = fs.mkdtempSync(path.join(other, 'imgcmp-ref-'));
    try {
      const lib = path.join(home, 'lib');
      fs.mkdirSync(lib);
      fs.copyFileSync(path.join(SAMPLES, 'chelsea.jpg'), path.join(ref, 'chelsea.jpg'));
      fs.copyFileSync(path.join(SAMPLES, 'chelsea.jpg'), path.join(lib, 'chelsea.jpg'));
      assert.equal(imgcmp(['fingerprint', ref, lib, '-q'], { home }).status, 0);
      const before = treeSnapshot(lib);
      const dupes = path.join(home, 'dupes');
      const r = imgcmp(['dedupe', '0.2', '--absolute', '--keep', `path-prefix=${ref}`, '--move-to', dupes, '--link', 'hardlink', '--apply'], { home });
      assert.equal(r.status, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
      assert.match(r.stderr, /another file system/);
      const u = undo(journalOf(r.stderr, dupes), home);
      assert.equal(u.status, 0, u.stderr);
      assert.deepEqual(treeSnapshot(lib), before);
    } finally {
      fs.rmSync(ref, { recursive: true, force: true });
    }
  });

  it('never replaces a dangling symbolic link at a target', () => {
    const home = tempDir('trust-dangling');
    const lib = pairs(home);
    const dupes = path.join(home, 'dupes');
    const target = path.join(dupes, lib.slice(1), 'b', 'chelsea.jpg');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(path.join(home, 'nowhere'), target);
    const dry = imgcmp(['dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/a`, '--move-to', dupes], { home });
    assert.equal(dry.status, 2, `a dry run with a refusal exits 2:\n${dry.stderr}`);
    assert.match(dry.stderr, /b\/chelsea\.jpg: would not be moved: .* exists/);
    const r = imgcmp(['dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(fs.readlinkSync(target), path.join(home, 'nowhere'), 'the link is still there, untouched');
    assert.ok(fs.lstatSync(path.join(lib, 'b', 'chelsea.jpg')).isFile(), 'the refused file stays');
  });

  it('--undo restores every complete entry of a journal whose last line is cut, and recreates removed folders', () => {
    const home = tempDir('trust-cut');
    const lib = pairs(home);
    const before = treeSnapshot(lib);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 0, r.stderr);
    const journal = journalOf(r.stderr, dupes);
    // b/ is empty now (no links asked for): the user removes it.
    assert.deepEqual(fs.readdirSync(path.join(lib, 'b')), []);
    fs.rmdirSync(path.join(lib, 'b'));
    const text = fs.readFileSync(journal, 'utf8');
    const lines = text.trimEnd().split('\n');
    fs.writeFileSync(journal, `${text}${lines[lines.length - 2]!.slice(0, 25)}`);
    const u = undo(journal, home);
    assert.equal(u.status, 0, u.stderr);
    const cut = u.stderr.split('\n').filter((l) => l.includes(`line ${lines.length + 1} is cut short`));
    assert.equal(cut.length, 1, `one message names the cut line:\n${u.stderr}`);
    assert.deepEqual(treeSnapshot(lib), before);
  });

  it('refuses a malformed journal in one line, exit 1, touching nothing', () => {
    const home = tempDir('trust-malformed');
    const dupes = path.join(home, 'dupes');
    fs.mkdirSync(dupes);
    const victim = path.join(home, 'victim.jpg');
    fs.writeFileSync(victim, 'mine');
    const header = JSON.stringify({ imgcmp: 'imgcmp dedupe journal', version: 2, moveTo: dupes });
    const intent = (o: object): string => JSON.stringify({ intent: 1, from: victim, to: path.join(dupes, victim), keeper: '/k.jpg', link: null, bytes: 4, mtimeMs: 1, ...o });
    const journals: Record<string, string> = {
      'a null line': `null\n`,
      'a crafted target': `${header}\n${intent({ to: '/etc/passwd' })}\n{"done":1}\n`,
      'a relative path': `${header}\n${intent({ from: 'victim.jpg' })}\n`,
      'a NUL in a path': `${header}\n${intent({ from: `${victim}\u0000x`, to: path.join(dupes, `${victim}\u0000x`) })}\n`,
      'a confirmation of nothing': `${header}\n{"done":7}\n`,
      'garbage in the middle': `${header}\n{oops\n${intent({})}\n`,
    };
    const cases: [string, string][] = Object.entries(journals).map(([what, text]) => {
      const j = path.join(dupes, `${what.replace(/ /g, '-')}.journal`);
      fs.writeFileSync(j, text);
      return [what, j];
    });
    cases.push(['a folder', dupes]);
    for (const [what, journal] of cases) {
      const u = undo(journal, home);
      assert.equal(u.status, 1, `${what}: ${u.stderr}`);
      const lines = u.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one line:\n${u.stderr}`);
      assert.ok(lines[0]!.startsWith(`imgcmp dedupe: ${journal}: `), `${what}: names the journal: ${lines[0]}`);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'mine', what);
    }
  });
});

describe('dedupe: keep the original', () => {
  it('keeps the EXIF-dated camera original over an export, a rotated, an upscaled and a byte-identical copy', async () => {
    const home = tempDir('trust-original');
    const lib = path.join(home, 'lib');
    for (const d of ['DCIM', 'exports', 'backup']) fs.mkdirSync(path.join(lib, d), { recursive: true });
    const src = path.join(SAMPLES, 'chelsea.jpg');
    const exif = { IFD0: { Make: 'Canon', Model: 'EOS 5D' }, IFD2: { DateTimeOriginal: '2019:05:04 10:11:12' } };
    const original = path.join(lib, 'DCIM', 'IMG_0001.jpg');
    await sharp(src).withExif(exif).jpeg({ quality: 85 }).toFile(original);
    // A re-saved export without EXIF, at a higher quality: more bytes, no date, no camera.
    await sharp(original).jpeg({ quality: 98 }).toFile(path.join(lib, 'exports', 'IMG_0001-export.jpg'));
    // A rotated copy: the same EXIF, pixels turned, shown upright by its orientation tag.
    await sharp(original).rotate(270).withExif(exif).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toFile(path.join(lib, 'exports', 'IMG_0001-rotated.jpg'));
    const meta = await sharp(original).metadata();
    await sharp(original).resize(meta.width * 2).jpeg({ quality: 95 }).toFile(path.join(lib, 'exports', 'IMG_0001-big.jpg'));
    fs.copyFileSync(original, path.join(lib, 'backup', 'IMG_0001.jpg'));
    // The export and the copies are older files than the original (as after a restore from backup).
    for (const f of ['exports/IMG_0001-export.jpg', 'exports/IMG_0001-big.jpg', 'backup/IMG_0001.jpg']) fs.utimesSync(path.join(lib, f), new Date(1e12), new Date(1e12));
    assert.equal(imgcmp(['fingerprint', lib, '-q'], { home }).status, 0);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', '0.2', '--absolute', '--move-to', dupes], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith('keep ')), [`keep ${original}`], r.stdout);
    assert.equal((r.stdout.match(/^ {2}move /gm) ?? []).length, 4, 'the four others would move');
    const largest = imgcmp(['dedupe', '0.2', '--absolute', '--keep', 'largest', '--move-to', dupes], { home });
    assert.match(largest.stdout, /^keep .*IMG_0001-big\.jpg$/m, 'largest, asked for, still keeps the upscaled copy');
    const oldest = imgcmp(['dedupe', '0.2', '--absolute', '--keep', 'oldest', '--move-to', dupes], { home });
    assert.match(oldest.stdout, /^keep .*IMG_0001-big\.jpg$/m, 'oldest: the capture date where there is one, else the file date (1e12 ms is before 2019)');
  });

  it('original: date, then camera, then pixels, then upright, then bytes; newest/oldest prefer the capture date', () => {
    const m = (file: string, extra: Partial<MemberInfo> = {}): MemberInfo => ({ file, width: 100, height: 100, bytes: 1000, mtimeMs: 5e12, ...extra });
    const keep = (rules: string, members: MemberInfo[]): string => chooseKeeper(parseKeepRules([rules]), members).file;
    assert.equal(keep('original', [m('/a', { takenMs: 2e12 }), m('/b', { takenMs: 1e12 }), m('/c', { width: 900 })]), '/b');
    assert.equal(keep('original', [m('/a', { width: 900 }), m('/b', { camera: true })]), '/b');
    assert.equal(keep('original', [m('/a', { orientation: 6, bytes: 9000 }), m('/b', { orientation: 1 }), m('/c', { width: 90 })]), '/b');
    assert.equal(keep('original', [m('/a'), m('/b', { bytes: 2000 })]), '/b');
    assert.equal(keep('original', [m('/b'), m('/a')]), '/a', 'then the path');
    assert.equal(keep('newest', [m('/a', { takenMs: 1e12, mtimeMs: 9e12 }), m('/b', { mtimeMs: 2e12 })]), '/b');
    assert.equal(keep('oldest', [m('/a', { takenMs: 1e12, mtimeMs: 9e12 }), m('/b', { mtimeMs: 2e12 })]), '/a');
    assert.equal(keep('path-prefix=/z,original', [m('/a', { takenMs: 1 }), m('/z/b')]), '/z/b', 'rules still chain');
  });
});

describe('dedupe: small frictions', () => {
  it('--dry-run is the default made explicit; missing arguments are named at once; the plan says what it frees', () => {
    const home = tempDir('trust-frictions');
    const lib = pairs(home);
    const dupes = path.join(home, 'dupes');
    const r = imgcmp(['dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/a`, '--move-to', dupes, '--dry-run'], { home });
    assert.equal(r.status, 0, r.stderr);
    const moved = r.stdout.split('\n').filter((l) => l.startsWith('  move ')).map((l) => /^ {2}move (.*) -> /.exec(l)![1]!);
    const bytes = moved.reduce((s, f) => s + fs.statSync(f).size, 0);
    assert.match(r.stderr, new RegExp(`would move ${moved.length} files to ${dupes}, freeing ${bytes} bytes`));
    assert.ok(!fs.existsSync(dupes));
    assert.equal(imgcmp(['dedupe', '0.2', '--move-to', dupes, '--dry-run', '--apply'], { home }).status, 1, '--dry-run and --apply conflict');
    const none = imgcmp(['dedupe'], { home });
    assert.equal(none.status, 1);
    assert.deepEqual(none.stderr.trim().split('\n'), ['imgcmp dedupe: dedupe needs SIM (or --from-json FILE) and --move-to DIR (nothing is ever deleted)']);
  });
});
