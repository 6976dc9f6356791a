#!/usr/bin/env node
/**
 * Where `imgcmp find`'s fingerprinting spends its CPU, per JPEG, under find's settings (phash
 * x = 16 in 38 views, their 64-bit coarse views, from a 128-pixel source): CPU time (not wall
 * time, so that a shared machine changes the figures less), in one run.
 *   - the native helper's decode to the 128-pixel source (its own process, counted by the kernel),
 *     and for scale to a 32-pixel thumbnail (the size Pillow's draft path decodes for);
 *   - imgcmp's side of one file, fingerprintFile end to end less the helper: checks, the pipe,
 *     the orientation, the hashing (4 images in flight, as find runs it);
 *   - the hashing alone, stage by stage along the plain path (views.ts and methods.ts as they
 *     read), and the fast path (hash/view-fingerprints.ts) that find takes, with a check that
 *     the two give the same bits on every file; then the edit views' share of each path: the
 *     path without them, their thumbnails (four turns, two strips) and the detail measure;
 *   - Pillow's draft path and phash (x = 8), one process, for scale;
 *   - with --before CHECKOUT, imgcmp's side of one file in another built checkout.
 *
 *   node test/bench/find-cost.mjs DIR [--limit N] [--before CHECKOUT]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { methodNamed } from '../../dist/src/hash/methods.js';
import { detailResidual, detailResidualFast } from '../../dist/src/hash/detail.js';
import { fastEditThumbnails, fastViewFingerprints, plainViewFingerprints } from '../../dist/src/hash/view-fingerprints.js';
import { dctKernel } from '../../dist/src/hash/wasm/dct.js';
import { centralRect, editThumbnails, frameOf, halvedThumbnails, hashViews, resampleRect, viewThumbnails } from '../../dist/src/hash/views.js';
import { greySource, MAX_INPUT_PIXELS } from '../../dist/src/pixels/decode.js';
import { HELPER_PATH, helperRequest, JpegDecoder } from '../../dist/src/pixels/jpeg.js';
import { findSettings } from '../../dist/src/stages/find.js';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const limit = Number(option(args, '--limit', '100000'));
const before = option(args, '--before', undefined);
const dir = path.resolve(args[0] ?? '');
const files = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, limit).map((f) => path.join(dir, f));
if (!JpegDecoder.available()) {
  console.log('find-cost: the native JPEG decoder is not built; nothing to measure');
  process.exit(0);
}
const settings = findSettings('libjpeg');
const SOURCE = 128;

/** CPU ms per file of `work` over all files, `inFlight` at a time, after a warm-up on a few. */
async function cpuPerFile(work, inFlight = 1) {
  for (const f of files.slice(0, 5)) await work(f);
  const c0 = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < files.length) await work(files[next++]);
  }));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / files.length;
}

/** CPU ms per file of the helper decoding every file to a `side` square (the source's by default), timed by the kernel. */
function helperCpuMs(side = SOURCE) {
  const request = Buffer.concat(files.map((f) => helperRequest(Buffer.from(f), side)));
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', HELPER_PATH, String(MAX_INPUT_PIXELS)], { input: request, maxBuffer: 1 << 30 });
  const [user, sys] = r.stderr.toString().trim().split('\n').pop().split(' ').map(Number);
  return ((user + sys) * 1000) / files.length;
}

/** imgcmp's side of one file in the checkout at `root` (its own process, helpers not counted). */
function sideOf(root) {
  const script = `
    const { fingerprintFile } = await import(${JSON.stringify(path.join(root, 'dist/src/pixels/fingerprint.js'))});
    const { findSettings } = await import(${JSON.stringify(path.join(root, 'dist/src/stages/find.js'))});
    const files = JSON.parse(process.argv[1]);
    const s = findSettings('libjpeg');
    for (const f of files.slice(0, 5)) await fingerprintFile(f, s);
    const c0 = process.cpuUsage();
    let next = 0;
    await Promise.all([0, 1, 2, 3].map(async () => { while (next < files.length) await fingerprintFile(files[next++], s); }));
    const c = process.cpuUsage(c0);
    console.log((c.user + c.system) / 1000 / files.length);
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(files)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${root}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return Number(r.stdout.trim());
}

const PILLOW = `
import sys, time, numpy as np
from PIL import Image
from scipy.fftpack import dct
def phash(p, x=8):
    im = Image.open(p); im.draft('L', (4 * x, 4 * x))
    a = np.asarray(im.convert('L').resize((4 * x, 4 * x), Image.BILINEAR), dtype=np.float64)
    low = dct(dct(a, axis=0), axis=1)[:x, :x]
    return (low > np.median(low)).ravel()
files = sys.argv[1:]
for f in files[:3]: phash(f)
t = time.process_time()
for f in files: phash(f)
print((time.process_time() - t) * 1000 / len(files))
`;

console.log(`find's fingerprinting, CPU per JPEG: ${files.length} files in ${dir} (${os.cpus().length} cores, node ${process.version}, load ${os.loadavg()[0].toFixed(1)})`);
const ms = (v) => `${v.toFixed(3)} ms`;
const helper = helperCpuMs();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const side = sideOf(root);
console.log(`  decode to the ${SOURCE}-pixel source (native helper)      ${ms(helper)}`);
// Pillow's draft path decodes for a 32-pixel thumbnail: libjpeg's smallest scale more often.
console.log(`  decode to a 32-pixel thumbnail instead, for scale       ${ms(helperCpuMs(32))}`);
console.log(`  imgcmp's side of a file (checks, pipe, hashing)        ${ms(side)}   total ${ms(helper + side)}`);
if (before) {
  const then = sideOf(path.resolve(before));
  console.log(`  imgcmp's side of a file, ${path.basename(path.resolve(before))}`.padEnd(57) + `${ms(then)}   total ${ms(helper + then)}`);
}

// The hashing alone, on sources decoded once.
const sources = [];
// With each picture's aspect (the edit views are turned in it), as find decodes them.
const aspects = new Map();
for (const f of files) {
  const { pixels, aspect } = await greySource(f, SOURCE, 'libjpeg', true);
  const px = Float64Array.from(pixels);
  aspects.set(px, aspect);
  sources.push(px);
}
const method = methodNamed('phash');
const each = (f) => {
  const c0 = process.cpuUsage();
  for (const p of sources) f(p);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / sources.length;
};
const stages = {
  'frame detection': (p) => frameOf(p, SOURCE),
  'view thumbnails (4 classes, 6 edit views; 64 px)': (p) => viewThumbnails(p, SOURCE, 64, settings),
};
const thumbs = sources.map((p) => viewThumbnails(p, SOURCE, 64, settings));
const halves = thumbs.map((t) => halvedThumbnails(t, 64));
let i = 0;
stages['DCTs, medians, bits at x = 16 (edit views upright)'] = () => hashViews(method, thumbs[i++ % thumbs.length], 16, settings);
stages['halved thumbnails (32 px)'] = () => halvedThumbnails(thumbs[i++ % thumbs.length], 64);
stages['DCTs, medians, bits at x = 8 (edit views upright)'] = () => hashViews(method, halves[i++ % halves.length], 8, settings);
each((p) => plainViewFingerprints(p, SOURCE, settings, aspects.get(p))); // warm-up
each((p) => fastViewFingerprints(p, SOURCE, settings, { aspect: aspects.get(p) }));
console.log('  hashing alone, the plain path, stage by stage:');
let sum = 0;
for (const [name, f] of Object.entries(stages)) {
  i = 0;
  const t = each(f);
  sum += t;
  console.log(`    ${name.padEnd(52)}${ms(t)}`);
}
const plain = each((p) => plainViewFingerprints(p, SOURCE, settings, aspects.get(p)));
const fast = each((p) => fastViewFingerprints(p, SOURCE, settings, { aspect: aspects.get(p) }));
console.log(`    ${'(sum of the stages)'.padEnd(52)}${ms(sum)}`);
console.log(`  hashing alone, plain path                                ${ms(plain)}`);
console.log(`  hashing alone, fast path (what find runs)                ${ms(fast)}   ${(plain / fast).toFixed(2)}× as fast`);
const same = (a, b) => a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, k) => v === b[k]));
let differ = 0;
for (const p of sources) {
  const a = plainViewFingerprints(p, SOURCE, settings, aspects.get(p));
  const b = fastViewFingerprints(p, SOURCE, settings, { aspect: aspects.get(p) });
  if (!(same(a.bits, b.bits) && same(a.views, b.views) && same(a.coarse, b.coarse) && a.flat === b.flat)) differ++;
}
console.log(`  the two paths' bits differ on ${differ} of ${sources.length} files`);
// The edit views' share: each path without them, and their parts on each path.
const noEdits = { ...settings, edits: false };
const wholes = sources.map((p) => resampleRect(p, SOURCE, 64, centralRect(SOURCE, 1)));
const kernel = dctKernel();
let w = 0;
const editStages = [
  ['without the edit views', (p) => plainViewFingerprints(p, SOURCE, noEdits), (p) => fastViewFingerprints(p, SOURCE, noEdits)],
  ['with them (as above)', () => undefined, () => undefined],
  ['  their thumbnails (4 turns, 2 strips; 64 px)', (p) => editThumbnails(p, SOURCE, 64, settings, aspects.get(p)), (p) => fastEditThumbnails(p, SOURCE, 64, settings, aspects.get(p))],
  ['  the detail measure (rank-3 residual, 64 px)', () => detailResidual(wholes[w++ % wholes.length], 64), () => detailResidualFast(wholes[w++ % wholes.length], 64, kernel)],
];
console.log(`  the edit views' share, CPU per JPEG                   plain      fast`);
for (const [name, plainStage, fastStage] of editStages) {
  const [a, b] = name.startsWith('with them') ? [plain, fast] : [each(plainStage), each(fastStage)];
  console.log(`    ${name.padEnd(50)}${ms(a)}  ${ms(b)}`);
}
const r = spawnSync('/usr/bin/python3', ['-c', PILLOW, ...files], { encoding: 'utf8', maxBuffer: 1 << 26 });
console.log(`  Pillow draft + phash (x = 8), one process               ${r.status === 0 ? ms(Number(r.stdout)) : 'not measured (Debian python3-pil, python3-scipy missing)'}`);
process.exit(differ ? 1 : 0);
