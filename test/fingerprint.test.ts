/** Hash methods, orientations, flat pictures and the incremental database, on real image files. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { readDb } from '../src/db/database.js';
import { METHODS, methodNamed } from '../src/hash/methods.js';
import { ORIENTATIONS, orientDct, orientMatrix } from '../src/hash/orient.js';
import { lowDct } from '../src/hash/phash.js';
import { centralCrop } from '../src/hash/views.js';
import { greyThumbnail } from '../src/pixels/decode.js';
import { BIN, imgcmp, SAMPLES, tempDir } from './helpers/env.js';
import { methodVectors } from './helpers/pictures.js';

const hamming = (a: Uint8Array, b: Uint8Array): number => a.reduce((s, v, i) => s + (v !== b[i] ? 1 : 0), 0);

async function bitsOf(file: string, method: string, x = 8): Promise<Uint8Array> {
  const m = methodNamed(method);
  return m.bits(await greyThumbnail(file, m.side(x)), x);
}

/** A PNG of `width` × `height` whose grey value at (r, c) is f(r, c). */
async function writeGrey(file: string, width: number, height: number, f: (r: number, c: number) => number): Promise<void> {
  const px = Buffer.alloc(width * height);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) px[r * width + c] = f(r, c);
  await sharp(px, { raw: { width, height, channels: 1 } }).png().toFile(file);
}

describe('hash methods', () => {
  const dir = tempDir('methods');

  it('ahash and whash mark the bright half of a half-bright picture', async () => {
    const file = path.join(dir, 'halves.png');
    await writeGrey(file, 128, 128, (_r, c) => (c < 64 ? 20 : 230));
    for (const method of ['ahash', 'whash']) {
      const bits = await bitsOf(file, method);
      assert.equal(Array.from(bits).join(''), '00001111'.repeat(8), method);
    }
  });

  it('dhash is all ones where brightness rises to the right, all zeros where it falls', async () => {
    const up = path.join(dir, 'up.png');
    const down = path.join(dir, 'down.png');
    await writeGrey(up, 90, 90, (_r, c) => 10 + 2 * c);
    await writeGrey(down, 90, 90, (_r, c) => 250 - 2 * c);
    assert.ok((await bitsOf(up, 'dhash')).every((b) => b === 1));
    assert.ok((await bitsOf(down, 'dhash')).every((b) => b === 0));
  });

  it('pins each method on a sample photo (test vectors)', async () => {
    // Known image → known bits (hex, first bit most significant). A change here changes every
    // user's database: bump HASH_VERSION in src/db/database.ts when it is intended.
    // phash's vector is also what the Python imgcmp (shared/reference) computes for this file.
    const expected: Record<string, string> = {
      phash: 'b15fe6465121175e',
      ahash: 'c2c08e4b09237377',
      dhash: '14545a9a9beb8787',
      whash: 'c2c28e4b09a37777',
    };
    assert.deepEqual(await methodVectors(path.join(SAMPLES, 'chelsea.jpg'), 'sharp'), expected);
  });

  it('takes -x: x² bits for every method', async () => {
    for (const method of METHODS.keys()) {
      for (const x of [4, 16]) assert.equal((await bitsOf(path.join(SAMPLES, 'coffee.jpg'), method, x)).length, x * x);
    }
  });

  it('tells a photo from its edited copies and from other photos', async () => {
    for (const method of METHODS.keys()) {
      const a = await bitsOf(path.join(SAMPLES, 'coffee.jpg'), method);
      const copy = await bitsOf(path.join(SAMPLES, 'edited', 'coffee_brighter.jpg'), method);
      const other = await bitsOf(path.join(SAMPLES, 'rocket.jpg'), method);
      assert.ok(hamming(a, copy) <= 8, `${method}: copy at ${hamming(a, copy)} bits`);
      assert.ok(hamming(a, other) >= 16, `${method}: other photo at ${hamming(a, other)} bits`);
    }
  });
});

describe('crop views', () => {
  it('resamples the central part of a picture by area averaging', () => {
    // A 12 × 12 image whose pixel (r, c) is c. The middle half spans columns 3–9: its first output
    // pixel covers column 3 and half of column 4, so it is (3 + 4 · 0.5) / 1.5 = 10/3, and so on.
    const m = 12;
    const px = Array.from({ length: m * m }, (_, i) => i % m);
    const whole = centralCrop(px, m, 4, 1);
    assert.deepEqual([...whole.slice(0, 4)].map((v) => +v.toFixed(9)), [1, 4, 7, 10]);
    const mid = centralCrop(px, m, 4, 0.5);
    assert.deepEqual([...mid.slice(0, 4)].map((v) => +v.toFixed(9)), [10 / 3, 14 / 3, 19 / 3, 23 / 3].map((v) => +v.toFixed(9)));
    assert.ok(Math.abs(mid.reduce((s, v) => s + v, 0) / 16 - 5.5) < 1e-9, 'the mean is kept');
  });
});

describe('orientations', () => {
  it('derives the DCT of an oriented picture from the upright coefficients', () => {
    const side = 16;
    const px = Array.from({ length: side * side }, (_, i) => (i * 37) % 251);
    const low = lowDct(px, side, 4);
    for (let o = 0; o < ORIENTATIONS; o++) {
      const direct = lowDct(orientMatrix(px, side, o), side, 4);
      orientDct(low, 4, o).forEach((v, i) => assert.ok(Math.abs(v - direct[i]!) < 1e-6, `o=${o} coef ${i}`));
    }
  });

  it('one orientation of each picture matches each rotated or mirrored copy of it', async () => {
    const dir = tempDir('rotated');
    const src = path.join(SAMPLES, 'chelsea.jpg');
    const copies = {
      rot90: sharp(src).rotate(90),
      rot180: sharp(src).rotate(180),
      rot270: sharp(src).rotate(270),
      mirror: sharp(src).flop(),
      flip: sharp(src).flip(),
    };
    for (const method of METHODS.keys()) {
      const m = methodNamed(method);
      const all = m.oriented(await greyThumbnail(src, m.side(8)), 8);
      assert.deepEqual([...all[0]!], [...(await bitsOf(src, method))], `${method}: orientation 0 is upright`);
      for (const [name, pipeline] of Object.entries(copies)) {
        const file = path.join(dir, `${name}.png`);
        await pipeline.clone().png().toFile(file);
        const copy = await bitsOf(file, method);
        const best = Math.min(...all.map((bits) => hamming(bits, copy)));
        const upright = hamming(all[0]!, copy);
        // The thumbnail of a rotated picture is not exactly the rotated thumbnail (the resampling
        // of a non-square picture differs per axis): a few bits may differ.
        assert.ok(best <= 6, `${method} ${name}: best orientation at ${best} bits`);
        assert.ok(upright >= 12 || name === 'flip', `${method} ${name}: upright already matches (${upright})`);
      }
    }
  });
});

/** Copies `names` from samples/ into a fresh folder. */
function folderOf(names: string[]): string {
  const dir = tempDir('photos');
  for (const n of names) fs.copyFileSync(path.join(SAMPLES, n), path.join(dir, path.basename(n)));
  return dir;
}

describe('imgcmp fingerprint: orientations, flat pictures', () => {
  it('clusters rotated and mirrored copies only with --orientations', async () => {
    const dir = folderOf(['coffee.jpg', 'rocket.jpg', 'moon.jpg', 'snake.jpg']);
    await sharp(path.join(dir, 'coffee.jpg')).rotate(90).toFile(path.join(dir, 'coffee_rot90.jpg'));
    await sharp(path.join(dir, 'rocket.jpg')).flop().toFile(path.join(dir, 'rocket_mirror.jpg'));
    const home = tempDir('orient-home');
    for (const [flag, expected] of [
      [[], []],
      [['--orientations'], [['coffee.jpg', 'coffee_rot90.jpg'], ['rocket.jpg', 'rocket_mirror.jpg']]],
    ] as const) {
      const db = path.join(home, `db${flag.length}.hdf`);
      assert.equal(imgcmp(['fingerprint', dir, '-q', '-f', db, ...flag], { home }).status, 0);
      const r = imgcmp(['cluster', '0.15', '--absolute', '-f', db, '--no-tree', '--json', '-'], { home });
      assert.equal(r.status, 0, r.stderr);
      const clusters = JSON.parse(r.stdout).clusters.map((c: string[]) => c.map((p) => path.basename(p)));
      assert.deepEqual(clusters, expected, `flags ${flag.join(' ')}`);
    }
    // The extra orientations live in their own dataset; files/fps stay as they were.
    const db = await readDb(path.join(home, 'db1.hdf'));
    assert.equal(db.settings.orientations, true);
    assert.equal(db.views!.count, 6 * ORIENTATIONS);
  });

  it('clusters cropped copies only with --crops', async () => {
    const dir = folderOf(['sunset.jpg', 'pizza.jpg', 'snake.jpg']);
    const meta = await sharp(path.join(dir, 'sunset.jpg')).metadata();
    const [w, h] = [meta.width, meta.height];
    // The middle 80 % of the picture, as make-variants.py's crop_10 cuts it.
    await sharp(path.join(dir, 'sunset.jpg'))
      .extract({ left: Math.round(w * 0.1), top: Math.round(h * 0.1), width: Math.round(w * 0.8), height: Math.round(h * 0.8) })
      .toFile(path.join(dir, 'sunset_cropped.jpg'));
    const home = tempDir('crops-home');
    for (const [flag, expected] of [
      [[], []],
      [['--crops'], [['sunset.jpg', 'sunset_cropped.jpg']]],
    ] as const) {
      const db = path.join(home, `db${flag.length}.hdf`);
      assert.equal(imgcmp(['fingerprint', dir, '-q', '-f', db, ...flag], { home }).status, 0);
      const r = imgcmp(['cluster', '0.2', '--absolute', '-f', db, '--no-tree', '--json', '-'], { home });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).clusters.map((c: string[]) => c.map((p) => path.basename(p))), expected, `flags ${flag.join(' ')}`);
    }
    const db = await readDb(path.join(home, 'db1.hdf'));
    assert.equal(db.settings.crops, true);
    assert.equal(db.views!.count, 4 * 3, 'three views per file: whole, 90 %, 80 %');
  });

  it('records flat pictures and leaves them out of clusters unless asked', async () => {
    const dir = folderOf(['coffee.jpg', 'rocket.jpg']);
    await writeGrey(path.join(dir, 'grey.png'), 200, 150, () => 128);
    await writeGrey(path.join(dir, 'dark.png'), 120, 90, (r, c) => 30 + ((r + c) % 2));
    const home = tempDir('flat');
    assert.equal(imgcmp(['fingerprint', dir, '-q'], { home }).status, 0);
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    assert.deepEqual(
      db.files.filter((_, i) => db.flat[i] === 1).map((f) => path.basename(f)),
      ['dark.png', 'grey.png'],
    );
    const left = imgcmp(['cluster', '0.2', '--absolute', '--no-tree', '--json', '-'], { home });
    assert.equal(left.status, 0, left.stderr);
    assert.deepEqual(JSON.parse(left.stdout).clusters, []);
    assert.match(left.stderr, /2 flat pictures left out/);
    const all = imgcmp(['cluster', '0.2', '--absolute', '--include-flat', '--no-tree', '--json', '-'], { home });
    assert.deepEqual(JSON.parse(all.stdout).clusters, [[path.join(dir, 'dark.png'), path.join(dir, 'grey.png')]]);
  });
});

describe('incremental database', () => {
  it('hashes only new and changed files, prunes deleted ones, refuses other settings', async () => {
    const dir = folderOf(['coffee.jpg', 'rocket.jpg', 'moon.jpg']);
    const home = tempDir('incr');
    const run = (...args: string[]): ReturnType<typeof imgcmp> => imgcmp(['fingerprint', dir, '-q', ...args], { home });
    assert.match(run().stderr, /3 hashed, 0 unchanged/);
    assert.match(run().stderr, /0 hashed, 3 unchanged/);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'moon.jpg'), later, later);
    fs.copyFileSync(path.join(SAMPLES, 'snake.jpg'), path.join(dir, 'snake.jpg'));
    assert.match(run().stderr, /2 hashed, 2 unchanged/);
    fs.rmSync(path.join(dir, 'rocket.jpg'));
    const kept = run();
    assert.match(kept.stderr, /4 in the database/, 'without --prune a vanished file is kept');
    const pruned = run('--prune');
    assert.match(pruned.stderr, /1 pruned; 3 in the database/);
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    assert.deepEqual(db.files.map((f) => path.basename(f)), ['coffee.jpg', 'moon.jpg', 'snake.jpg']);
    for (const other of [['-x', '16'], ['--method', 'dhash'], ['--orientations']]) {
      const r = run(...other);
      assert.equal(r.status, 1, other.join(' '));
      assert.match(r.stderr, /made with other settings .*use another --dbfile/);
    }
    assert.equal((await readDb(path.join(home, 'fingerprints.hdf'))).files.length, 3, 'refused runs change nothing');
  });

  it('keeps finished work through kill -9, and a re-run completes it to the same database', async () => {
    const dir = tempDir('many');
    const names = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg'));
    for (let k = 0; k < 4; k++) for (const n of names) fs.copyFileSync(path.join(SAMPLES, n), path.join(dir, `${k}_${n}`));
    const total = fs.readdirSync(dir).length;
    const fresh = tempDir('uninterrupted');
    assert.equal(imgcmp(['fingerprint', dir, '-q'], { home: fresh }).status, 0);
    const reference = await readDb(path.join(fresh, 'fingerprints.hdf'));

    const home = tempDir('killed');
    const db = path.join(home, 'fingerprints.hdf');
    let killedWith = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      const before = fs.existsSync(db) ? fs.statSync(db).mtimeMs : 0;
      const child = spawn(process.execPath, [BIN, 'fingerprint', dir, '-q', '--checkpoint', '3', '-n', '1'], {
        env: { ...process.env, IMGCMP_HOME: home },
        stdio: 'ignore',
      });
      const exited = new Promise((r) => child.once('exit', r));
      if (attempt % 2 === 0) {
        // At an arbitrary moment: during start-up, decoding, or a write.
        await new Promise((r) => setTimeout(r, 40 + ((attempt * 97) % 700)));
      } else {
        // Just after a checkpoint landed (or when the run ends), while the next is being made.
        const t0 = Date.now();
        while (Date.now() - t0 < 20000 && child.exitCode === null && (!fs.existsSync(db) || fs.statSync(db).mtimeMs === before)) {
          await new Promise((r) => setTimeout(r, 5));
        }
        await new Promise((r) => setTimeout(r, (attempt * 13) % 60));
      }
      child.kill('SIGKILL');
      await exited;
      if (fs.existsSync(db)) {
        const partial = await readDb(db); // always a complete, valid file
        assert.ok(partial.files.length <= total);
        killedWith = partial.files.length;
        if (killedWith === total) break;
      }
    }
    assert.ok(killedWith > 0, 'some work was saved before a kill');
    const resumed = imgcmp(['fingerprint', dir, '-q'], { home });
    assert.equal(resumed.status, 0, resumed.stderr);
    const m = /(\d+) hashed, (\d+) unchanged/.exec(resumed.stderr)!;
    assert.ok(Number(m[2]) >= killedWith, `resumed from saved work: ${resumed.stderr}`);
    const final = await readDb(db);
    assert.deepEqual(final.files, reference.files);
    assert.deepEqual([...final.fps.data], [...reference.fps.data]);
    assert.deepEqual(fs.readdirSync(home).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')), [], 'temporary files of killed runs are cleaned up');
  });

  it('stops soon on Ctrl-C with many JPEGs queued for the decoder: none reported failed, the next run does the rest', async () => {
    // The native decoder's queue holds hundreds of JPEGs; interrupted, those not yet sent to a
    // helper are dropped (not failed), and the ones sent are finished and saved.
    const dir = tempDir('queued');
    const names = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg'));
    for (let k = 0; k < 60; k++) for (const n of names) fs.symlinkSync(path.join(SAMPLES, n), path.join(dir, `${String(k).padStart(2, '0')}_${n}`));
    const total = fs.readdirSync(dir).length;
    const home = tempDir('sigint');
    const db = path.join(home, 'fingerprints.hdf');
    const child = spawn(process.execPath, [BIN, 'fingerprint', dir, '-L', '-q', '-x', '16', '--orientations', '--crops', '--borders', '--edits', '--coarse', '8'], {
      env: { ...process.env, IMGCMP_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Once the decoders are at work (their processes started), interrupt.
    const t0 = Date.now();
    while (Date.now() - t0 < 20000 && child.exitCode === null) {
      const kids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim();
      if (kids) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await exited;
    const lines = stderr.split('\n').filter((l) => l.startsWith('imgcmp fingerprint: '));
    assert.deepEqual(lines.filter((l) => l.startsWith(`imgcmp fingerprint: ${dir}`)), [], 'no file reported');
    if (code === 0) return; // it finished before the signal came: nothing more to check here
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    const saved = (await readDb(db)).files.length;
    assert.ok(saved > 0 && saved < total, `${saved} of ${total} saved`);
    const resumed = imgcmp(['fingerprint', dir, '-L', '-q', '-x', '16', '--orientations', '--crops', '--borders', '--edits', '--coarse', '8'], { home });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`${total - saved} hashed, ${saved} unchanged, 0 failed`));
  });

  it('refuses a second writer at once, and takes over a stale lock', () => {
    const dir = folderOf(['coffee.jpg']);
    const home = tempDir('lock');
    const db = path.join(home, 'fingerprints.hdf');
    fs.mkdirSync(home, { recursive: true });
    const holder = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(`${db}.lock`, `${holder.pid} ${os.hostname()}\n`);
      const r = imgcmp(['fingerprint', dir, '-q'], { home });
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`another imgcmp \\(pid ${holder.pid}\\) is writing this database`));
      assert.ok(!fs.existsSync(db));
    } finally {
      holder.kill();
    }
    const gone = spawnSync('true').pid!;
    fs.writeFileSync(`${db}.lock`, `${gone} ${os.hostname()}\n`);
    const r = imgcmp(['fingerprint', dir, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(`${db}.lock`), 'lock released');
  });
});
