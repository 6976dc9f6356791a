/** The libjpeg recipe: the native JPEG helper, orientation and resampling, through real files. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { readDb } from '../src/db/database.js';
import { hammingRows } from '../src/hash/bits.js';
import { methodNamed } from '../src/hash/methods.js';
import { greyThumbnail, MAX_INPUT_PIXELS } from '../src/pixels/decode.js';
import { HEADER_BYTES, HELPER_DEPTH, HELPER_PATH, helperRequest, JpegDecoder } from '../src/pixels/jpeg.js';
import { RECIPE } from '../src/pixels/recipe.js';
import { applyOrientation } from '../src/pixels/orientation.js';
import { BIN, imgcmp, missingPython, python, ROOT, SAMPLES, tempDir } from './helpers/env.js';
import { methodVectors, STORED_FOR_ORIENTATION } from './helpers/pictures.js';

/** Process ids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": the name may hold spaces, so read after its closing parenthesis.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

const noHelper = JpegDecoder.available() ? undefined : `the native JPEG decoder is not built (${HELPER_PATH}: needs a C compiler and libjpeg headers)`;
if (noHelper) console.log(`# skipping the native decoder's tests: ${noHelper}`);

/** Replies of one helper process to requests for `files` (least side `side`), raw. */
function helperReplies(
  files: readonly string[],
  side: number,
  env: NodeJS.ProcessEnv = {},
): { status: number; width: number; height: number; orientation: number; size: bigint; mtimeSec: bigint; mtimeNsec: number; body: Buffer }[] {
  const request = Buffer.concat(files.map((f) => helperRequest(Buffer.from(f), side)));
  const r = spawnSync(HELPER_PATH, [String(MAX_INPUT_PIXELS)], { input: request, env: { ...process.env, ...env }, maxBuffer: 1 << 28, timeout: 60_000 });
  assert.equal(r.status, 0, String(r.stderr));
  const out: ReturnType<typeof helperReplies> = [];
  let at = 0;
  while (at < r.stdout.length) {
    const length = r.stdout.readUInt32LE(at + 16);
    out.push({
      status: r.stdout.readUInt32LE(at),
      width: r.stdout.readUInt32LE(at + 4),
      height: r.stdout.readUInt32LE(at + 8),
      orientation: r.stdout.readUInt32LE(at + 12),
      size: r.stdout.readBigUInt64LE(at + 20),
      mtimeSec: r.stdout.readBigInt64LE(at + 28),
      mtimeNsec: r.stdout.readUInt32LE(at + 36),
      body: r.stdout.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length),
    });
    at += HEADER_BYTES + length;
  }
  assert.equal(out.length, files.length, 'one reply per request');
  return out;
}

describe('orientation (pure)', () => {
  it('turns every EXIF orientation upright, as sharp rotates and mirrors', async () => {
    // An asymmetric 5 × 3 picture: every pixel distinct, so any wrong turn shows.
    const width = 5;
    const height = 3;
    const upright = Uint8Array.from({ length: width * height }, (_, i) => 10 * i + 7);
    const raw = { raw: { width, height, channels: 1 as const } };
    for (const [o, f] of Object.entries(STORED_FOR_ORIENTATION)) {
      // Each transform in its own pipeline step: sharp applies a flop before a rotate otherwise.
      const turned = await f(sharp(await sharp(Buffer.from(upright), raw).png().toBuffer())).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      const oriented = applyOrientation({ width: turned.info.width, height: turned.info.height, pixels: turned.data }, Number(o));
      assert.deepEqual([oriented.width, oriented.height], [width, height], `orientation ${o}: size`);
      assert.deepEqual(Array.from(oriented.pixels), Array.from(upright), `orientation ${o}: pixels`);
    }
    const same = { width, height, pixels: upright };
    assert.equal(applyOrientation(same, 1), same);
    assert.equal(applyOrientation(same, 0), same, 'an out-of-range value is taken as upright');
  });
});

describe('native JPEG decoder', { skip: noHelper }, () => {
  const dir = tempDir('jpeg');

  it('pins each method on a sample photo (test vectors of the libjpeg recipe)', async () => {
    // Known image → known bits, as for the libvips recipe in fingerprint.test.ts. A change here
    // changes every database made with the native decoder: bump HASH_VERSION when intended.
    const expected: Record<string, string> = {
      phash: 'b15fe6465121975a',
      ahash: '80808e4b09e373e7',
      dhash: '04545a9a9bcf8787',
      whash: 'c2c48e4b09a377e7',
    };
    assert.deepEqual(await methodVectors(path.join(SAMPLES, 'chelsea.jpg'), 'libjpeg'), expected);
  });

  const noPillow = missingPython(['PIL', 'numpy']);
  it('makes the thumbnail Pillow makes in draft mode with BILINEAR (Pillow is the oracle)', { skip: noPillow }, async () => {
    const files: string[] = [];
    for (const [name, width, progressive] of [
      ['chelsea.jpg', 1353, false],
      ['rocket.jpg', 700, true],
      ['coffee.jpg', 240, false],
    ] as const) {
      const file = path.join(dir, `oracle-${width}-${name}`);
      await sharp(path.join(SAMPLES, name)).resize(width).jpeg({ progressive, quality: 92 }).toFile(file);
      files.push(file);
    }
    for (const side of [32, 128]) {
      const ours = helperReplies(files, side);
      const theirs = JSON.parse(
        python(
          `import sys, json, numpy as np
from PIL import Image
side = int(sys.argv[1])
out = []
for f in sys.argv[2:]:
    im = Image.open(f)
    im.draft('L', (side, side))
    out.append({'size': im.size, 'pixels': np.asarray(im.convert('F').resize((side, side), Image.BILINEAR)).ravel().tolist()})
print(json.dumps(out))`,
          [String(side), ...files],
        ),
      ) as { size: [number, number]; pixels: number[] }[];
      ours.forEach((r, i) => {
        const where = `${path.basename(files[i]!)} at ${side}`;
        assert.equal(r.status, 0, where);
        assert.deepEqual([r.width, r.height], theirs[i]!.size, `${where}: decoded at Pillow's draft scale`);
        const thumb = new Float64Array(r.body.buffer.slice(r.body.byteOffset, r.body.byteOffset + r.body.length));
        const worst = Math.max(...theirs[i]!.pixels.map((v, j) => Math.abs(v - thumb[j]!)));
        assert.ok(worst < 1e-3, `${where}: differs from Pillow by up to ${worst}`);
      });
    }
  });

  it('decodes progressive files from their DC scans to exactly the pixels of a whole decode', async () => {
    const files: string[] = [];
    const widths: number[] = [];
    for (const [name, scale] of [
      ['chelsea.jpg', 3],
      ['rocket.jpg', 2],
      ['moon.jpg', 4],
    ] as const) {
      const src = path.join(SAMPLES, name);
      const { width } = await sharp(src).metadata();
      const file = path.join(dir, `progressive-${name}`);
      await sharp(src).resize(width * scale).jpeg({ progressive: true, quality: 90 }).toFile(file);
      files.push(file);
      const grey = path.join(dir, `progressive-grey-${name}`);
      await sharp(src).resize(width * scale).greyscale().jpeg({ progressive: true, quality: 90 }).toFile(grey);
      files.push(grey);
      widths.push(Math.ceil((width * scale) / 8), Math.ceil((width * scale) / 8));
    }
    const fast = helperReplies(files, 32);
    const whole = helperReplies(files, 32, { IMGCMP_JPEG_WHOLE_FILES: '1' });
    fast.forEach((r, i) => {
      assert.equal(r.status, 0, `${files[i]}: ${r.body.toString()}`);
      assert.equal(r.width, widths[i], 'decoded at 1/8 scale');
      assert.equal(r.body.length, 32 * 32 * 8, 'a 32 × 32 thumbnail of doubles');
      assert.ok(r.body.equals(whole[i]!.body), `${path.basename(files[i]!)}: the same pixels as a whole decode`);
    });
  });

  it('leaves what it cannot decode to sharp, and says why', async () => {
    const png = path.join(dir, 'picture.png');
    await sharp(path.join(SAMPLES, 'moon.jpg')).png().toFile(png);
    const cmyk = path.join(dir, 'cmyk.jpg');
    await sharp(path.join(SAMPLES, 'moon.jpg')).toColourspace('cmyk').jpeg().toFile(cmyk);
    const truncated = path.join(dir, 'truncated.jpg');
    const whole = fs.readFileSync(path.join(SAMPLES, 'moon.jpg'));
    fs.writeFileSync(truncated, whole.subarray(0, whole.length >> 1));
    const [p, c, t, missing] = helperReplies([png, cmyk, truncated, path.join(dir, 'missing.jpg')], 32);
    assert.deepEqual([p!.status, p!.body.toString()], [1, 'not a JPEG']);
    assert.deepEqual([c!.status, c!.body.toString()], [1, 'colour space other than YCbCr or grey']);
    assert.equal(t!.status, 2, 'damaged data is refused, not papered over');
    assert.match(t!.body.toString(), /premature end|corrupt/i);
    assert.deepEqual([missing!.status, missing!.body.toString()], [1, 'cannot read']);
    // Through the recipe: sharp takes the CMYK file and hashes it near its YCbCr original.
    const m = methodNamed('phash');
    const a = m.bits(await greyThumbnail(cmyk, 32, 'libjpeg'), 8);
    const b = m.bits(await greyThumbnail(path.join(SAMPLES, 'moon.jpg'), 32, 'libjpeg'), 8);
    assert.ok(a.reduce((s, v, i) => s + (v !== b[i] ? 1 : 0), 0) <= 6);
  });

  it('reads only regular files, without blocking, and sends the stats of the file it read', async () => {
    const fifo = path.join(dir, 'pipe.jpg');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const photo = path.join(dir, 'stamped.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'chelsea.jpg'), photo);
    // A modification time with a fraction of a millisecond, as file systems keep them.
    fs.utimesSync(photo, 1_700_000_000.123456, 1_700_000_000.123456789);
    const [f, d, ok] = helperReplies([fifo, dir, photo], 32);
    assert.deepEqual([f!.status, f!.body.toString(), f!.size], [1, 'not a regular file', 0n], 'a FIFO is declined, not read (a read would block)');
    assert.deepEqual([d!.status, d!.body.toString()], [1, 'not a regular file']);
    const st = fs.statSync(photo, { bigint: true });
    assert.equal(ok!.status, 0);
    assert.deepEqual([ok!.size, ok!.mtimeSec, BigInt(ok!.mtimeNsec)], [st.size, st.mtimeNs / 1_000_000_000n, st.mtimeNs % 1_000_000_000n]);
    // Through the decoder class: the stamp is what fs.Stats says, to the last bit of mtimeMs.
    const decoder = new JpegDecoder(MAX_INPUT_PIXELS);
    const reply = await decoder.decode(Buffer.from(photo), 32);
    assert.ok(reply.ok);
    assert.deepEqual(reply.stamp, { size: fs.statSync(photo).size, mtimeMs: fs.statSync(photo).mtimeMs });
  });

  it('sends thumbnails through its shared file, byte for byte what the pipe carries, and leaves no file behind', async () => {
    const files = ['chelsea.jpg', 'moon.jpg'].map((f) => path.join(SAMPLES, f));
    const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;
    const ours = (): string[] => (shm ? fs.readdirSync(shm).filter((f) => f.startsWith(`.imgcmp-jpeg-${process.pid}-`)) : []);
    const before = ours();
    // Several in flight on one helper (each its own slot), sides of 32 and 128 pixels, twice over
    // so that slots are reused; and a side too large for a slot, which comes through the pipe.
    const decoder = new JpegDecoder(MAX_INPUT_PIXELS, 60_000, 1);
    for (const side of [32, 128, 400]) {
      const piped = helperReplies(files, side).map((r) => r.body);
      const shared = await Promise.all([...files, ...files].map((f) => decoder.decode(Buffer.from(f), side)));
      shared.forEach((r, i) => {
        assert.ok(r.ok, `side ${side}`);
        assert.ok(Buffer.from(r.thumbnail.buffer, r.thumbnail.byteOffset, r.thumbnail.byteLength).equals(piped[i % files.length]!), `side ${side}, request ${i}`);
      });
    }
    assert.deepEqual(ours(), before, 'the shared file is unlinked as soon as it is made');
  });

  it('keeps every helper HELPER_DEPTH requests deep, the rest waiting in imgcmp, and reuses a thumbnail buffer given back', async () => {
    const files = ['chelsea.jpg', 'moon.jpg'].map((f) => path.join(SAMPLES, f));
    const piped = helperReplies(files, 128).map((r) => r.body);
    const decoder = new JpegDecoder(MAX_INPUT_PIXELS, 60_000, 2);
    const inside = decoder as unknown as { helpers: { pending: unknown[] }[]; queue: unknown[] };
    const n = 5 * HELPER_DEPTH;
    const replies = Array.from({ length: n }, (_, i) => decoder.decode(Buffer.from(files[i % 2]!), 128));
    assert.deepEqual(inside.helpers.map((h) => h.pending.length), [HELPER_DEPTH, HELPER_DEPTH], 'each helper as deep as allowed');
    assert.equal(inside.queue.length, n - 2 * HELPER_DEPTH, 'the rest wait in order');
    const bytes = (r: Awaited<(typeof replies)[number]>): Buffer => {
      assert.ok(r.ok);
      return Buffer.from(r.thumbnail.buffer, r.thumbnail.byteOffset, r.thumbnail.byteLength);
    };
    const all = await Promise.all(replies);
    all.forEach((r, i) => assert.ok(bytes(r).equals(piped[i % 2]!), `request ${i}`));
    // While few wait, a helper is given a fair share of them, not HELPER_DEPTH (so that at the end
    // of a run the helpers finish together), and never fewer than 4.
    const few = Array.from({ length: 10 }, (_, i) => decoder.decode(Buffer.from(files[i % 2]!), 128));
    assert.deepEqual(inside.helpers.map((h) => h.pending.length), [4, 4]);
    assert.equal(inside.queue.length, 2);
    (await Promise.all(few)).forEach((r, i) => assert.ok(bytes(r).equals(piped[i % 2]!), `request ${i} of 10`));
    // Large thumbnails are sent less far ahead: 16 MiB of them per helper (13 of 400 × 400 doubles).
    const large = Array.from({ length: 65 }, (_, i) => decoder.decode(Buffer.from(files[i % 2]!), 400));
    assert.deepEqual(inside.helpers.map((h) => h.pending.length), [13, 13]);
    assert.equal(inside.queue.length, 65 - 26);
    for (const r of await Promise.all(large)) assert.ok(r.ok && r.thumbnail.length === 400 * 400);
    assert.deepEqual(inside.helpers.map((h) => h.pending.length), [0, 0]);
    // A buffer given back holds the next thumbnail (no other was given back), decoded as before.
    const given = all[3]!;
    assert.ok(given.ok);
    given.release();
    const next = await decoder.decode(Buffer.from(files[0]!), 128);
    assert.ok(next.ok);
    assert.equal(next.thumbnail.buffer, given.thumbnail.buffer, 'the same buffer');
    assert.ok(bytes(next).equals(piped[0]!));
  });

  it('reads the EXIF orientation, leaving it to imgcmp to apply', async () => {
    const files: string[] = [];
    for (let o = 1; o <= 8; o++) {
      const file = path.join(dir, `exif-${o}.jpg`);
      await sharp(path.join(SAMPLES, 'chelsea.jpg')).withMetadata({ orientation: o }).jpeg().toFile(file);
      files.push(file);
    }
    assert.deepEqual(
      helperReplies(files, 32).map((r) => r.orientation),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
  });
});

describe('imgcmp fingerprint --decoder', { skip: noHelper }, () => {
  it('goes on when a decoder process dies: the file it held fails, every other is hashed', { skip: fs.existsSync('/proc/self/stat') ? undefined : 'no /proc here' }, async (t) => {
    const dir = tempDir('crash');
    const names = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg'));
    for (let k = 0; k < 12; k++) for (const n of names) fs.copyFileSync(path.join(SAMPLES, n), path.join(dir, `${k}_${n}`));
    const total = fs.readdirSync(dir).length;
    const clean = tempDir('crash-clean');
    assert.equal(imgcmp(['fingerprint', dir, '-q'], { home: clean }).status, 0);
    const reference = await readDb(path.join(clean, 'fingerprints.hdf'));

    const home = tempDir('crash-home');
    const child = spawn(process.execPath, [BIN, 'fingerprint', dir, '-q'], { env: { ...process.env, IMGCMP_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    let victim: number | undefined;
    while (victim === undefined && child.exitCode === null) {
      victim = childrenOf(child.pid!)[0];
      if (victim === undefined) await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(victim !== undefined, 'a decoder process was seen');
    process.kill(victim, 'SIGKILL');
    const status = await exited;

    const failed = stderr.split('\n').filter((l) => l.startsWith('imgcmp fingerprint: '));
    assert.ok(failed.length <= 1, `at most the file in hand fails:\n${stderr}`);
    t.diagnostic(`killed decoder process ${victim}; files failed: ${failed.length} of ${total}`);
    for (const line of failed) assert.match(line, /: the JPEG decoder crashed \(stopped by SIGKILL\)$/);
    assert.equal(status, failed.length ? 2 : 0, stderr);
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    assert.equal(db.files.length, total - failed.length);
    db.files.forEach((f, i) => {
      const j = reference.files.indexOf(f);
      assert.equal(hammingRows(db.fps, i, reference.fps, j), 0, `${f}: hashed as in a run without the crash`);
    });
  });

  it('records the recipe, keeps to a database\'s own, and never mixes the two', async () => {
    const home = tempDir('decoder');
    const dir = tempDir('decoder-in');
    for (const name of ['coffee.jpg', 'rocket.jpg']) fs.copyFileSync(path.join(SAMPLES, name), path.join(dir, name));
    const viaSharp = path.join(home, 'sharp.hdf');
    const viaLibjpeg = path.join(home, 'libjpeg.hdf');
    assert.equal(imgcmp(['fingerprint', dir, '-q', '--decoder', 'sharp', '-f', viaSharp], { home }).status, 0);
    assert.equal(imgcmp(['fingerprint', dir, '-q', '-f', viaLibjpeg], { home }).status, 0);
    const [s, l] = [await readDb(viaSharp), await readDb(viaLibjpeg)];
    assert.equal(s.settings.resample, RECIPE.sharp);
    assert.equal(l.settings.resample, RECIPE.libjpeg, 'the native decoder is the default where built');
    for (let i = 0; i < 2; i++) assert.ok(hammingRows(s.fps, i, l.fps, i) <= 6, 'the two recipes agree but for a few bits');

    // A later run on the sharp database keeps to sharp without being told...
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(dir, 'moon.jpg'));
    const more = imgcmp(['fingerprint', dir, '-q', '-f', viaSharp], { home });
    assert.equal(more.status, 0, more.stderr);
    assert.match(more.stderr, /1 hashed, 2 unchanged/);
    assert.equal((await readDb(viaSharp)).settings.resample, RECIPE.sharp);
    // ...and is refused when told otherwise.
    const mixed = imgcmp(['fingerprint', dir, '-q', '--decoder', 'libjpeg', '-f', viaSharp], { home });
    assert.equal(mixed.status, 1);
    assert.match(mixed.stderr, /made with other settings \(resampling libvips-linear vs libjpeg-scaled-bilinear\)/);
  });
});

describe('an installation without the native decoder', () => {
  it('decodes JPEGs with sharp, records it, and refuses what needs the native decoder', async () => {
    // A copy of the installed program without dist/native/, as `npm install` leaves it on a
    // machine without a C compiler or libjpeg's headers.
    const install = tempDir('no-native');
    fs.cpSync(path.join(ROOT, 'bin'), path.join(install, 'bin'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'dist'), path.join(install, 'dist'), { recursive: true, filter: (src) => src !== path.join(ROOT, 'dist', 'native') });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(install, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(install, 'node_modules'));
    assert.ok(!fs.existsSync(path.join(install, 'dist', 'native')));
    const run = (args: string[], home: string): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [path.join(install, 'bin', 'imgcmp'), ...args], { env: { ...process.env, IMGCMP_HOME: home }, encoding: 'utf8' });

    const home = tempDir('no-native-home');
    const db = path.join(home, 'fingerprints.hdf');
    const plain = run(['fingerprint', path.join(SAMPLES, 'chelsea.jpg'), '-q'], home);
    assert.equal(plain.status, 0, String(plain.stderr));
    assert.equal((await readDb(db)).settings.resample, RECIPE.sharp, 'sharp by default');
    const asked = run(['fingerprint', path.join(SAMPLES, 'moon.jpg'), '-q', '--decoder', 'libjpeg', '-f', path.join(home, 'other.hdf')], home);
    assert.equal(asked.status, 1);
    assert.match(String(asked.stderr), /native JPEG decoder \(libjpeg\) is not built/);
    assert.equal(String(asked.stderr).trim().split('\n').length, 1, 'one line');
    assert.ok(!fs.existsSync(path.join(home, 'other.hdf')), 'nothing written');
  });
});
