#!/usr/bin/env node
/**
 * Decoder cost per image, in process: CPU milliseconds per image for imgcmp's decode-to-thumbnail
 * (sharp, 4 images in flight, as the fingerprint stage runs it) and for Pillow's draft path (one
 * process), on the small and the large JPEGs of a folder.
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
import { greyThumbnail } from '../../dist/src/pixels/decode.js';
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

async function oursCpuMs(files) {
  for (const f of files.slice(0, 3)) await greyThumbnail(f, 32, 32);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all([0, 1, 2, 3].map(async () => {
    while (next < files.length) await greyThumbnail(files[next++], 32, 32);
  }));
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000 / files.length, wall: (performance.now() - t0) / files.length };
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
  console.log(`${name.padEnd(6)} ${String(files.length).padStart(5)} files: imgcmp ${ours.cpu.toFixed(2)} ms CPU (${ours.wall.toFixed(2)} ms wall, 4 in flight); Pillow draft ${pillow}`);
}
