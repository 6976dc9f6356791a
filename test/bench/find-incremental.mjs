#!/usr/bin/env node
/**
 * `imgcmp find` on a folder, run twice: the first run (every file fingerprinted: images/s) and a
 * second run on the same, unchanged folder (nothing to fingerprint: the database is read, the
 * files are looked at, find's clustering runs again). Wall time and peak RSS of the real binary.
 *
 *   node test/bench/find-incremental.mjs [--files N] [--seed S] [DIR ...]
 *
 * Without DIR, a folder of N (default 10,000) small distinct JPEGs (64 × 48 random blocks and
 * noise, made with sharp from a seeded generator) in a temporary folder. With DIRs, those
 * folders as they are (for example a copy of ../shared's corpus). Target: the unchanged second
 * run under 5 s at 10,000 files.
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
const count = Number(option(args, '--files', '10000'));
const seed = Number(option(args, '--seed', '1'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-find-bench-'));

/** N distinct 64 × 48 JPEGs: an 8 × 6 grid of random colour blocks with pixel noise on top. */
async function makeJpegs(dir, n) {
  fs.mkdirSync(dir, { recursive: true });
  const next = splitmix32(seed);
  const W = 64;
  const H = 48;
  const made = [];
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(W * H * 3);
    const blocks = Array.from({ length: 48 * 3 }, () => next() & 255);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const b = ((y >> 3) * 8 + (x >> 3)) * 3;
        for (let c = 0; c < 3; c++) px[(y * W + x) * 3 + c] = Math.max(0, Math.min(255, blocks[b + c] + ((next() & 31) - 16)));
      }
    }
    const sub = path.join(dir, String(Math.floor(i / 1000)).padStart(3, '0'));
    if (i % 1000 === 0) fs.mkdirSync(sub, { recursive: true });
    made.push(sharp(px, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 85 }).toFile(path.join(sub, `img${String(i).padStart(6, '0')}.jpg`)));
    if (made.length >= 64) await Promise.all(made.splice(0));
  }
  await Promise.all(made);
}

function countImages(dir) {
  return fs.readdirSync(dir, { recursive: true }).filter((f) => /\.(jpe?g|png|webp|tiff?|gif)$/i.test(String(f))).length;
}

function bench(label, dirs) {
  const n = dirs.reduce((s, d) => s + countImages(d), 0);
  const db = path.join(work, `${label.replace(/\W+/g, '_')}.hdf`);
  const env = { IMGCMP_HOME: path.join(work, 'home') };
  const run = () => timed(process.execPath, [bin, 'find', ...dirs, '-q', '--no-tree', '-f', db], env);
  const first = run();
  const second = run();
  const mb = (fs.statSync(db).size / 2 ** 20).toFixed(1);
  console.log(`${label}: ${n} images, database ${mb} MiB`);
  console.log(`  first run (all fingerprinted)  ${first.seconds.toFixed(2).padStart(7)} s  ${(n / first.seconds).toFixed(1).padStart(7)} images/s  peak RSS ${first.rssMb.toFixed(0).padStart(5)} MB`);
  console.log(`  second run (unchanged)         ${second.seconds.toFixed(2).padStart(7)} s  ${' '.repeat(16)}  peak RSS ${second.rssMb.toFixed(0).padStart(5)} MB  (target < 5 s)`);
  const summary = (second.stdout + second.stderr).trim().split('\n').slice(-3).join(' | ');
  if (summary) console.log(`  its summary: ${summary}`);
}

console.log(`find incremental benchmark (${os.cpus().length} cores, node ${process.version})`);
if (args.length) {
  bench(args.join(' '), args.map((a) => path.resolve(a)));
} else {
  const dir = path.join(work, 'jpegs');
  const t0 = Date.now();
  await makeJpegs(dir, count);
  console.log(`made ${count} JPEGs (64 × 48, seed ${seed}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  bench(`${count} small JPEGs`, [dir]);
}
fs.rmSync(work, { recursive: true, force: true });
