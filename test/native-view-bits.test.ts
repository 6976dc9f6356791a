/**
 * The native JPEG helper's bits of a picture's views (pixels/native/view-bits.c, which `imgcmp
 * find` uses for every JPEG it decodes natively) are exactly those of the TypeScript path
 * (hash/view-fingerprints.ts, both its plain and its fast composition) on the same decoded
 * source: every word of every view and coarse view, and the flat flag. On real JPEGs — the
 * sample photos, EXIF-rotated ones among them — and on JPEGs made from them with the cases
 * that take paths of their own: frames and letterbox bars (the frame view, symmetric frames),
 * a low-detail picture (every view its upright whole one), a flat one, a progressive one, a
 * grey one, small ones (other libjpeg scales) and every EXIF orientation; under find's settings
 * and others the helper takes. And a recipe the helper cannot take leaves the JPEG to the
 * TypeScript path, never to a different hash.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { nativeViewSpec, nativeViewsFit } from '../src/hash/native-spec.js';
import type { HashSettings } from '../src/hash/settings.js';
import { fastViewFingerprints, plainViewFingerprints } from '../src/hash/view-fingerprints.js';
import { greySource, jpegViewBits, MAX_INPUT_PIXELS } from '../src/pixels/decode.js';
import { fingerprintFile } from '../src/pixels/fingerprint.js';
import { HELPER_PATH, helperSetup, JpegDecoder } from '../src/pixels/jpeg.js';
import { findSettings } from '../src/stages/find.js';
import { SAMPLES, tempDir } from './helpers/env.js';

const noHelper = JpegDecoder.available() ? undefined : `the native JPEG decoder is not built (${HELPER_PATH}: needs a C compiler and libjpeg headers)`;
if (noHelper) console.log(`# skipping the native view bits' tests: ${noHelper}`);

const M = 128;
const FIND = findSettings('libjpeg');
const SETTINGS: [string, HashSettings][] = [
  ["find's default", FIND],
  ['no edit views', { ...FIND, edits: false }],
  ['no borders', { ...FIND, borders: false }],
  ['no crops', { ...FIND, crops: false }],
  ['upright only', { ...FIND, orientations: false }],
  ['no coarse views', { ...FIND, coarseX: 0 }],
  ['x = 8, coarse 4', { ...FIND, x: 8, coarseX: 4 }],
  ['x = 12, no coarse', { ...FIND, x: 12, coarseX: 0 }],
  ['--orientations --crops (x = 8)', { ...FIND, x: 8, borders: false, edits: false, coarseX: 0 }],
];

/** The sample photos' JPEGs (EXIF-rotated ones among the edited copies). */
function sampleJpegs(): string[] {
  const found: string[] = [];
  for (const dir of [SAMPLES, path.join(SAMPLES, 'edited')]) {
    for (const f of fs.readdirSync(dir).sort()) if (/\.jpe?g$/i.test(f)) found.push(path.join(dir, f));
  }
  return found;
}

/** JPEGs of the cases with paths of their own, made from a sample photo with sharp. */
async function madeJpegs(dir: string): Promise<string[]> {
  const photo = path.join(SAMPLES, 'chelsea.jpg');
  const base = sharp(photo).resize(600, 400, { fit: 'fill' });
  const out: string[] = [];
  const save = async (name: string, image: Sharp): Promise<void> => {
    const file = path.join(dir, name);
    await image.toFile(file);
    out.push(file);
  };
  const white = { r: 255, g: 255, b: 255 };
  await save('border.jpg', base.clone().extend({ top: 40, bottom: 40, left: 40, right: 40, background: white }).jpeg({ quality: 90 }));
  await save('letterbox.jpg', base.clone().extend({ top: 70, bottom: 70, background: { r: 0, g: 0, b: 0 } }).jpeg({ quality: 90 }));
  await save('bar-top-only.jpg', base.clone().extend({ top: 60, background: { r: 0, g: 0, b: 0 } }).jpeg({ quality: 95 }));
  await save('pillarbox.jpg', base.clone().extend({ left: 90, right: 90, background: { r: 20, g: 20, b: 20 } }).jpeg({ quality: 90 }));
  await save('progressive.jpg', base.clone().jpeg({ progressive: true }));
  await save('grey.jpg', base.clone().greyscale().jpeg());
  await save('small.jpg', base.clone().resize(200, 150).jpeg());
  await save('tiny.jpg', base.clone().resize(40, 30).jpeg());
  await save('large.jpg', sharp(photo).resize(1400, 1100, { fit: 'fill' }).jpeg());
  for (let orientation = 2; orientation <= 8; orientation++) {
    await save(`orientation-${orientation}.jpg`, base.clone().jpeg().withMetadata({ orientation }));
  }
  // Low detail: a flag's three stripes (rank 3 and less); flat: one grey.
  const flag = Buffer.alloc(300 * 200 * 3);
  for (let y = 0; y < 200; y++) for (let x = 0; x < 300; x++) flag.set(y < 67 ? [255, 255, 255] : y < 133 ? [0, 60, 160] : [220, 20, 40], (y * 300 + x) * 3);
  await save('flag.jpg', sharp(flag, { raw: { width: 300, height: 200, channels: 3 } }).jpeg({ quality: 95 }));
  await save('flat.jpg', sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg());
  return out;
}

const same = (a: Uint32Array | undefined, b: Uint32Array | undefined): boolean => a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, k) => v === b[k]));

describe('native view bits', { skip: noHelper }, () => {
  let dir: string;
  let files: string[];
  before(async () => {
    dir = tempDir('native-views');
    files = [...sampleJpegs(), ...(await madeJpegs(dir))];
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are the TypeScript path\'s, word for word, on real JPEGs under find\'s settings and others', async () => {
    let compared = 0;
    let lowDetail = 0;
    let flat = 0;
    for (const [name, settings] of SETTINGS) {
      assert.ok(nativeViewsFit(settings), `${name}: the helper takes these settings`);
      for (const file of files) {
        const what = `${path.basename(file)}, ${name}`;
        const { pixels, aspect } = await greySource(file, M, 'libjpeg', true);
        const plain = plainViewFingerprints(pixels, M, settings, aspect);
        assert.ok(same(fastViewFingerprints(pixels, M, settings, { aspect }).views, plain.views), `${what}: the fast path as the plain one`);
        const native = await jpegViewBits(file, M, helperSetup(nativeViewSpec(settings)));
        assert.ok(native && native !== 'sharp', `${what}: the helper answered with bits`);
        assert.deepEqual(native.words, Uint32Array.from([...(plain.views ?? plain.bits), ...(plain.coarse ?? [])]), `${what}: the helper's words`);
        assert.equal(native.flat, plain.flat, `${what}: the helper's flat flag`);
        // Through imgcmp's own use: fingerprintFile takes the helper's bits for a JPEG under these settings.
        const record = await fingerprintFile(file, settings);
        assert.deepEqual(record.bits, plain.bits, `${what}: view 0`);
        assert.deepEqual(record.views, plain.views, `${what}: views`);
        assert.deepEqual(record.coarse, plain.coarse, `${what}: coarse views`);
        assert.equal(record.flat, plain.flat, `${what}: flat`);
        compared++;
        const w = plain.bits.length;
        if (plain.views && plain.views.length > w && plain.views.every((v, i) => v === plain.views![i % w])) lowDetail++;
        if (plain.flat) flat++;
      }
    }
    assert.equal(compared, SETTINGS.length * files.length);
    // The cases were there: pictures of low detail (with edit views) and flat ones.
    assert.ok(lowDetail > 0, 'a low-detail picture was among them');
    assert.ok(flat > 0, 'a flat picture was among them');
  });

  it('come from the helper itself (not a fallback to the TypeScript path), with the file\'s stats', async () => {
    const recipe = helperSetup(nativeViewSpec(FIND));
    const file = path.join(SAMPLES, 'chelsea.jpg');
    const native = await jpegViewBits(file, M, recipe);
    assert.ok(native && native !== 'sharp', 'the helper answered with bits');
    const st = fs.statSync(file);
    assert.equal(native.stamp.size, st.size);
    assert.equal(native.stamp.mtimeMs, st.mtimeMs);
    const { pixels, aspect } = await greySource(file, M, 'libjpeg', true);
    const plain = plainViewFingerprints(pixels, M, FIND, aspect);
    assert.deepEqual(native.words, Uint32Array.from([...plain.views!, ...plain.coarse!]));
  });

  it('leave a JPEG to the TypeScript path where the helper cannot take the recipe, and a non-JPEG to sharp', async () => {
    const decoder = new JpegDecoder(MAX_INPUT_PIXELS);
    const file = Buffer.from(path.join(SAMPLES, 'chelsea.jpg'));
    const malformed = await decoder.viewBits(file, M, helperSetup(Float64Array.of(1, 16, 8)));
    assert.deepEqual(malformed.ok ? 'bits' : malformed.noRecipe, true, 'a malformed recipe: the thumbnail is asked for instead');
    const otherSide = await decoder.viewBits(file, 64, helperSetup(nativeViewSpec(FIND)));
    assert.deepEqual(otherSide.ok ? 'bits' : otherSide.noRecipe, true, 'a source side other than the recipe\'s');
    const good = await decoder.viewBits(file, M, helperSetup(nativeViewSpec(FIND)));
    assert.equal(good.ok, true, 'a good recipe after a bad one');
    const png = await decoder.viewBits(Buffer.from(path.join(SAMPLES, 'edited', 'rocket_thumbnail.png')), M, helperSetup(nativeViewSpec(FIND)));
    assert.deepEqual(png.ok ? 'bits' : [png.noRecipe, png.reason], [false, 'not a JPEG']);
    // The settings the helper does not take: fingerprintFile hashes those in TypeScript.
    assert.equal(nativeViewsFit({ ...FIND, method: 'dhash' }), false);
    assert.equal(nativeViewsFit({ ...FIND, crops: false, borders: false, edits: false }), false);
    assert.equal(nativeViewsFit({ ...FIND, coarseX: 4 }), false);
  });
});
