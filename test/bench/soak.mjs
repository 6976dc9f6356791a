#!/usr/bin/env node
/**
 * Soak test: N generated images (small, varied: random blocks of colour, JPEG and PNG, several
 * sizes, a tenth of them near copies of another) through resize → fingerprint → cluster, the
 * real binary, at 5k, 10k and 20k images, with each stage's peak RSS. Memory must stay flat as
 * the number of images grows: the stages stream and hold no pixels beyond the images in flight.
 *
 *   node test/bench/soak.mjs [--sizes 5000,10000,20000] [--keep DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { option, splitmix32, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const args = process.argv.slice(2);
const sizes = option(args, '--sizes', '5000,10000,20000').split(',').map(Number);
const keep = option(args, '--keep', undefined);
const work = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-soak-'));
const images = path.join(work, 'images');
fs.mkdirSync(images, { recursive: true });

/** Uniform numbers in [0, 1) from a seed. */
const rng = (seed) => {
  const next = splitmix32(seed);
  return () => next() / 2 ** 32;
};

/** Raw RGB pixels of a picture made of random coloured blocks. */
function picture(seed, width, height) {
  const next = rng(seed);
  const px = Buffer.alloc(width * height * 3);
  const blocks = 3 + Math.floor(next() * 8);
  for (let b = 0; b < blocks; b++) {
    const [x0, y0] = [Math.floor(next() * width), Math.floor(next() * height)];
    const [w, h] = [1 + Math.floor(next() * width * 0.7), 1 + Math.floor(next() * height * 0.7)];
    const colour = [next() * 255, next() * 255, next() * 255];
    for (let y = y0; y < Math.min(height, y0 + h); y++) {
      for (let x = x0; x < Math.min(width, x0 + w); x++) for (let c = 0; c < 3; c++) px[(y * width + x) * 3 + c] = colour[c];
    }
  }
  return px;
}

async function generate(from, to) {
  const t0 = Date.now();
  for (let i = from; i < to; i++) {
    const next = rng(i * 7 + 1);
    const copyOf = i % 10 === 9 ? i - 1 : i; // every tenth image: a brighter copy of the one before
    const width = [120, 160, 200][i % 3];
    const height = [90, 120, 150][(i >> 1) % 3];
    let img = sharp(picture(copyOf, width, height), { raw: { width, height, channels: 3 } });
    if (copyOf !== i) img = img.modulate({ brightness: 1.1 });
    const file = path.join(images, `${String(i).padStart(6, '0')}.${next() < 0.8 ? 'jpg' : 'png'}`);
    await img.toFile(file);
  }
  return (Date.now() - t0) / 1000;
}

const stage = (_name, stageArgs, home) => timed(process.execPath, [bin, ...stageArgs], { IMGCMP_HOME: home });

console.log(`soak test in ${work} (${os.cpus().length} cores, node ${process.version})`);
console.log('images   stage          seconds   images/s   peak RSS MB');
let made = 0;
for (const n of sizes) {
  if (made < n) {
    const s = await generate(made, n);
    console.log(`(generated ${n - made} images in ${s.toFixed(1)} s)`);
    made = n;
  }
  // Each size runs in a home of its own, on the first n images (links keep the folder as is).
  const home = path.join(work, `home-${n}`);
  const subset = path.join(work, `subset-${n}`);
  fs.mkdirSync(subset, { recursive: true });
  for (const f of fs.readdirSync(images).sort().slice(0, n)) {
    const link = path.join(subset, f);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(images, f), link);
  }
  for (const [name, stageArgs] of [
    ['resize', ['resize', '0.5', subset, '-L']],
    ['fingerprint', ['fingerprint', '-q']],
    ['cluster', ['cluster', '0.1', '--absolute', '--no-tree', '--json', path.join(home, 'clusters.json')]],
  ]) {
    const r = stage(name, stageArgs, home);
    console.log(`${String(n).padStart(6)}   ${name.padEnd(12)} ${r.seconds.toFixed(1).padStart(8)}  ${(n / r.seconds).toFixed(0).padStart(8)}   ${r.rssMb.toFixed(0).padStart(8)}`);
  }
  const clusters = JSON.parse(fs.readFileSync(path.join(home, 'clusters.json'), 'utf8')).clusters;
  console.log(`         ${clusters.length} clusters of near copies found (${Math.floor(n / 10)} planted)`);
}
if (!keep) fs.rmSync(work, { recursive: true, force: true });
