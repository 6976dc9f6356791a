#!/usr/bin/env node
/**
 * Search benchmark: latency of nearest-neighbour queries against a database of N entries
 * (default 1,000,000: random fingerprints with planted near copies of the query pictures), in
 * process and through the real binary.
 *
 *   node test/bench/search.mjs [--n 1000000] [--queries 200]
 *
 * Prints: index build time, per-query latency (median, 95th percentile, worst) for queries with
 * near copies in the database and for queries without, and the `imgcmp search` wall time
 * (database load included).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDb, RESAMPLE } from '../../dist/src/db/database.js';
import { HASH_VERSION } from '../../dist/src/hash/settings.js';
import { packBits, packRows } from '../../dist/src/hash/bits.js';
import { nearest, nearestIndex } from '../../dist/src/index/nearest.js';
import { fingerprintFile } from '../../dist/src/pixels/fingerprint.js';
import { methodNamed } from '../../dist/src/hash/methods.js';
import { option, splitmix32 } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const n = Number(option(args, '--n', 1_000_000));
const queries = Number(option(args, '--queries', 200));
const nbits = 64;

const rng = splitmix32;

const next = rng(42);
const bits = new Uint8Array(n * nbits);
for (let i = 0; i < bits.length; i++) bits[i] = next() & 1;
// Planted: queries 0..Q-1 are rows 0..Q-1 with up to 4 bits flipped; each has 3 near copies.
const queryBits = [];
for (let q = 0; q < queries; q++) {
  const row = bits.slice(q * nbits, (q + 1) * nbits);
  for (let c = 1; c <= 3; c++) {
    const at = (q * 3 + c) * 997 % n;
    const copy = row.slice();
    for (let f = next() % 5; f > 0; f--) copy[next() % nbits] ^= 1;
    bits.set(copy, at * nbits);
  }
  queryBits.push(row);
}
const fps = packRows(bits, n, nbits);

const t0 = performance.now();
const index = nearestIndex(fps);
const buildMs = performance.now() - t0;

function latencies(list) {
  const times = [];
  for (const q of list) {
    const t = performance.now();
    nearest(index, [q], 10);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  return `median ${pct(0.5)} ms, 95th ${pct(0.95)} ms, worst ${times[times.length - 1].toFixed(2)} ms`;
}
const near = queryBits.map((b) => packBits(b));
const far = Array.from({ length: queries }, () => packBits(Array.from({ length: nbits }, () => next() & 1)));
// With orientations a query is 8 fingerprints; time that too (8 searches per query).
const eight = near.map((q) => Array.from({ length: 8 }, (_, o) => (o ? far[(o * 31) % far.length] : q)));

console.log(`search benchmark: ${n} entries × ${nbits} bits (${os.cpus().length} cores, node ${process.version})`);
console.log(`index built in ${buildMs.toFixed(0)} ms`);
console.log(`k = 10, queries with near copies:     ${latencies(near)}`);
console.log(`k = 10, queries without near copies:  ${latencies(far)}  (falls back to looking at every row)`);
{
  const times = [];
  for (const q of eight) {
    const t = performance.now();
    nearest(index, q, 10);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`k = 10, 8 orientations per query:     median ${times[times.length >> 1].toFixed(2)} ms`);
}

// Through the binary: a database of n entries and one real image whose copy is in it.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-search-bench-'));
const image = path.join(root, 'samples', 'chelsea.jpg');
const settings = { method: 'phash', x: 8, orientations: false, resample: RESAMPLE, hashVersion: HASH_VERSION };
const record = await fingerprintFile(image, settings);
fps.data.set(record.bits, 5 * fps.words);
const files = Array.from({ length: n }, (_, i) => `/bench/img${String(i).padStart(7, '0')}.jpg`);
files[5] = image;
const db = path.join(work, 'big.hdf');
await writeDb(db, { settings, files, fps, flat: new Uint8Array(n), size: new Float64Array(n), mtime: new Float64Array(n) });
const t1 = performance.now();
const r = spawnSync(process.execPath, [path.join(root, 'bin', 'imgcmp'), 'search', image, '-f', db, '-k', '3', '--json'], { encoding: 'utf8' });
const wall = performance.now() - t1;
const first = JSON.parse(r.stdout).results[0].matches[0];
console.log(`imgcmp search (one image, ${n}-entry database): ${wall.toFixed(0)} ms wall, database load and index build included; nearest: ${path.basename(first.file)} at ${first.bits} bits`);
fs.rmSync(work, { recursive: true, force: true });
