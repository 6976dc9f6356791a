#!/usr/bin/env node
/**
 * Decoder cost per image: CPU milliseconds per image for imgcmp's decode-to-thumbnail with each
 * JPEG decoder — sharp (4 images in flight, as the fingerprint stage runs it) and the native
 * libjpeg helper (its own CPU, counted by the kernel, plus imgcmp's side: the pipe and the
 * orientation) — and for Pillow's draft path (one process), on the small and the large JPEGs
 * of a folder.
 *
 *   node test/bench/decode-cost.mjs DIR [--small-max 300] [--large-min 1500]
 *
 * Small: long side ≤ --small-max pixels; large: long side ≥ --large-min.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { greyThumbnail, MAX_INPUT_PIXELS } from '../../dist/src/pixels/decode.js';
import { HELPER_PATH, helperRequest, JpegDecoder } from '../../dist/src/pixels/jpeg.js';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const smallMax = Number(option(args, '--small-max', 300));
const largeMin = Number(option(args, '--large-min', 1500));
const dir = path.resolve(args[0] ?? '');
const jpegs = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).map((f) => path.join(dir, f)).sort();
const sized = await Promise.all(jpegs.map(async (f) => ({ f, side: Math.max(...Object.values((await sharp(f).metadata()).autoOrient)) })));
const sets = {
  small: sized.filter((s) => s.side <= smallMax).map((s) => s.f),
  large: sized.filter((s) => s.side >= largeMin).map((s) => s.f),
};

async function oursCpuMs(files, decoder = 'sharp') {
  for (const f of files.slice(0, 3)) await greyThumbnail(f, 32, decoder);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all([0, 1, 2, 3].map(async () => {
    while (next < files.length) await greyThumbnail(files[next++], 32, decoder);
  }));
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000 / files.length, wall: (performance.now() - t0) / files.length };
}

/**
 * CPU ms per image of the native helper itself: one process decoding every file, timed by the
 * kernel (the list is repeated up to 1000 decodes: the kernel counts in 10 ms steps).
 */
function helperCpuMs(files) {
  const rounds = Math.max(1, Math.ceil(1000 / files.length));
  const request = Buffer.concat(Array.from({ length: rounds }, () => files).flat().map((f) => helperRequest(Buffer.from(f), 32)));
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', HELPER_PATH, String(MAX_INPUT_PIXELS)], { input: request, maxBuffer: 1 << 30 });
  const [user, sys] = r.stderr.toString().trim().split('\n').pop().split(' ').map(Number);
  return ((user + sys) * 1000) / (files.length * rounds);
}

const PILLOW = `
import sys, time, numpy as np
from PIL import Image
files = sys.argv[1:]
def thumb(p):
    im = Image.open(p); im.draft('L', (32, 32))
    return np.asarray(im.convert('L').resize((32, 32), Image.BILINEAR))
for f in files[:3]: thumb(f)
t = time.process_time()
for f in files: thumb(f)
print((time.process_time() - t) * 1000 / len(files))
`;

console.log(`decoder cost per JPEG in ${dir} (${os.cpus().length} cores, node ${process.version})`);
for (const [name, files] of Object.entries(sets)) {
  if (!files.length) continue;
  const ours = await oursCpuMs(files);
  const r = spawnSync('/usr/bin/python3', ['-c', PILLOW, ...files], { encoding: 'utf8' });
  const pillow = r.status === 0 ? `${Number(r.stdout).toFixed(2)} ms CPU` : 'not measured (Debian python3-pil missing)';
  console.log(`${name.padEnd(6)} ${String(files.length).padStart(5)} files: Pillow draft ${pillow}`);
  console.log(`${''.padEnd(19)}imgcmp, sharp:  ${ours.cpu.toFixed(2)} ms CPU (${ours.wall.toFixed(2)} ms wall, 4 in flight)`);
  if (JpegDecoder.available()) {
    const side = await oursCpuMs(files, 'libjpeg');
    const helper = helperCpuMs(files);
    console.log(`${''.padEnd(19)}imgcmp, libjpeg: ${(helper + side.cpu).toFixed(2)} ms CPU (helper ${helper.toFixed(2)} + imgcmp ${side.cpu.toFixed(2)}; ${side.wall.toFixed(2)} ms wall, 4 in flight)`);
  } else {
    console.log(`${''.padEnd(19)}imgcmp, libjpeg: not measured (the native decoder is not built)`);
  }
}
