#!/usr/bin/env node
/**
 * The fast phash path against the plain one on every image of some folders: each image is
 * decoded once (to the 128-pixel source, by the default recipe: the native decoder for JPEGs,
 * sharp for the rest, with the picture's aspect, which the edit views are turned in), then
 * fingerprinted both ways under find's settings and a few others, and
 * every word of every view compared; and, for the JPEGs the native helper hashes itself under
 * the settings it takes (pixels/native/view-bits.c, what `imgcmp find` uses), the helper's bits
 * against the plain path's too. Prints the number of images whose bits differ (it must be
 * 0) and exits with 1 if any does. For corpora too large for the unit tests
 * (test/view-fingerprints.test.ts, test/native-view-bits.test.ts), e.g. the benchmarks'
 * negative pool.
 *
 *   node test/bench/view-identity.mjs DIR... [--limit N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fastViewFingerprints, plainViewFingerprints } from '../../dist/src/hash/view-fingerprints.js';
import { nativeViewSpec, nativeViewsFit } from '../../dist/src/hash/native-spec.js';
import { greySource, jpegViewBits } from '../../dist/src/pixels/decode.js';
import { helperSetup } from '../../dist/src/pixels/jpeg.js';
import { defaultJpegDecoder } from '../../dist/src/pixels/recipe.js';
import { findSettings } from '../../dist/src/stages/find.js';
import { mapLimited } from '../../dist/src/util/pool.js';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const limit = Number(option(args, '--limit', '1000000'));
const files = args
  .flatMap((d) => fs.readdirSync(d, { recursive: true }).map((f) => path.join(d, String(f))))
  .filter((f) => /\.(jpe?g|png|webp|tiff?|gif|bmp|heic|heif|avif)$/i.test(f) && fs.statSync(f).isFile())
  .sort()
  .slice(0, limit);
const decoder = defaultJpegDecoder();
const base = findSettings(decoder);
const variants = {
  "find's default": base,
  'no borders': { ...base, borders: false },
  'x = 8, upright, whole': { ...base, x: 8, orientations: false, crops: false, borders: false, coarseX: 0 },
};
// The helper's recipe for each variant it takes (one Buffer each: sent to a helper once).
const recipes = Object.fromEntries(Object.entries(variants).filter(([, s]) => decoder === 'libjpeg' && nativeViewsFit(s)).map(([name, s]) => [name, helperSetup(nativeViewSpec(s))]));
const nativeDiffers = Object.fromEntries(Object.keys(recipes).map((k) => [k, []]));
let nativeCompared = 0;
const same = (a, b) => a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, k) => v === b[k]));
const differs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
let decoded = 0;
let failed = 0;
const t0 = performance.now();
await mapLimited(files, 4, async (file) => {
  let pixels;
  let aspect;
  try {
    ({ pixels, aspect } = await greySource(file, 128, decoder, true));
  } catch {
    failed++;
    return;
  }
  decoded++;
  for (const [name, s] of Object.entries(variants)) {
    const a = plainViewFingerprints(pixels, 128, s, aspect);
    const b = fastViewFingerprints(pixels, 128, s, { aspect });
    if (!(same(a.bits, b.bits) && same(a.views, b.views) && same(a.coarse, b.coarse) && a.flat === b.flat)) differs[name].push(file);
    if (!recipes[name]) continue;
    const native = await jpegViewBits(file, 128, recipes[name]);
    if (!native || native === 'sharp') continue; // not a JPEG the helper hashes
    if (name === "find's default") nativeCompared++;
    const words = Uint32Array.from([...(a.views ?? a.bits), ...(a.coarse ?? [])]);
    if (!(same(native.words, words) && native.flat === a.flat)) nativeDiffers[name].push(file);
  }
});
console.log(`fast vs plain phash views: ${decoded} images decoded (${failed} could not be), ${decoder} recipe, ${((performance.now() - t0) / 1000).toFixed(0)} s (${os.cpus().length} cores)`);
let any = 0;
for (const [name, list] of Object.entries(differs)) {
  console.log(`  ${name.padEnd(24)} bits differ on ${list.length} of ${decoded}${list.length ? `: ${list.slice(0, 5).join(', ')}` : ''}`);
  any += list.length;
}
console.log(`native helper vs plain phash views: ${nativeCompared} JPEGs hashed by the helper`);
for (const [name, list] of Object.entries(nativeDiffers)) {
  console.log(`  ${name.padEnd(24)} bits differ on ${list.length} of ${nativeCompared}${list.length ? `: ${list.slice(0, 5).join(', ')}` : ''}`);
  any += list.length;
}
process.exit(any ? 1 : 0);
