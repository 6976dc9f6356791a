#!/usr/bin/env node
/**
 * Sharding benchmark, through the real binary:
 *
 * 1. Shards must not cost: `imgcmp fingerprint DIR --shard i/4` for i = 0…3 one after another
 *    (each a fresh process and database, each walking the whole folder) against one
 *    `imgcmp fingerprint DIR`, on the same files; images/s of each, and the merged shards checked
 *    against the one run (same paths and fingerprints).
 * 2. `imgcmp merge` of 4 synthetic shard databases of 250,000 entries each (written with the
 *    project's own writer from dist/, paths spread over the shards by their hash as --shard
 *    spreads them), timed with its peak RSS.
 *
 *   node test/bench/shard.mjs [DIR] [--entries 250000] [--flags "-x 8"] [--skip-images] [--skip-merge]
 *
 * DIR defaults to /tmp/bench/variants/images (../shared/corpus/make-variants.py's output).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESAMPLE, readDb, writeDb } from '../../dist/src/db/database.js';
import { packRows } from '../../dist/src/hash/bits.js';
import { HASH_VERSION } from '../../dist/src/hash/settings.js';
import { shardOf } from '../../dist/src/walk/shard.js';
import { flag, option, splitmix32, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const argv = process.argv.slice(2);
const entries = Number(option(argv, '--entries', '250000'));
const flags = option(argv, '--flags', '').split(/\s+/).filter(Boolean);
const skipImages = flag(argv, '--skip-images');
const skipMerge = flag(argv, '--skip-merge');
const dir = argv[0] ?? '/tmp/bench/variants/images';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-shard-bench-'));
const env = { IMGCMP_HOME: work, JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '', SLURM_ARRAY_TASK_ID: '' };
const N = 4;

if (!skipImages) {
  const one = path.join(work, 'one.hdf');
  const whole = timed(process.execPath, [bin, 'fingerprint', dir, '-q', ...flags, '-f', one], env);
  const total = (await readDb(one)).files.length;
  let seconds = 0;
  let rss = 0;
  const shards = [];
  const counts = [];
  for (let i = 0; i < N; i++) {
    const db = path.join(work, `shard-${i}.hdf`);
    const r = timed(process.execPath, [bin, 'fingerprint', dir, '-q', ...flags, '--shard', `${i}/${N}`, '-f', db], env);
    seconds += r.seconds;
    rss = Math.max(rss, r.rssMb);
    shards.push(db);
    counts.push((await readDb(db)).files.length);
  }
  const merged = path.join(work, 'merged.hdf');
  timed(process.execPath, [bin, 'merge', merged, ...shards], env);
  const [a, b] = [await readDb(one), await readDb(merged)];
  const same = a.files.join('\n') === b.files.join('\n') && Buffer.from(a.fps.data.buffer).equals(Buffer.from(b.fps.data.buffer));
  console.log(`fingerprint ${flags.join(' ') || '(x = 8)'} of ${total} images in ${dir}`);
  console.log(`  one process:        ${whole.seconds.toFixed(2)} s, ${(total / whole.seconds).toFixed(1)} images/s, ${whole.rssMb.toFixed(0)} MB`);
  console.log(`  ${N} shards in turn:  ${seconds.toFixed(2)} s, ${(total / seconds).toFixed(1)} images/s, ${rss.toFixed(0)} MB (shards of ${counts.join(', ')})`);
  console.log(`  shards / one: ${(whole.seconds / seconds).toFixed(2)}× per image; merged shards ${same ? 'equal' : 'DIFFER FROM'} the one run`);
  if (!same) process.exitCode = 1;
}

if (!skipMerge) {
  const settings = { method: 'phash', x: 8, orientations: false, crops: false, resample: RESAMPLE, hashVersion: HASH_VERSION };
  const next = splitmix32(7);
  const n = N * entries;
  const byShard = Array.from({ length: N }, () => []);
  for (let i = 0; i < n; i++) {
    const file = `/data/photos/${String(i % 1000).padStart(3, '0')}/IMG_${String(i).padStart(8, '0')}.jpg`;
    byShard[shardOf(file, N)].push(file);
  }
  const inputs = [];
  for (let s = 0; s < N; s++) {
    const files = byShard[s].sort();
    const m = files.length;
    const bits = new Uint8Array(m * 64);
    for (let j = 0; j < bits.length; j++) bits[j] = next() & 1;
    const file = path.join(work, `synthetic-${s}.hdf`);
    await writeDb(file, {
      settings,
      files,
      fps: packRows(bits, m, 64),
      flat: new Uint8Array(m),
      size: Float64Array.from(files, () => 100_000 + (next() % 5_000_000)),
      mtime: Float64Array.from(files, () => 1.7e12 + (next() % 1e9)),
    });
    inputs.push(file);
  }
  const out = path.join(work, 'synthetic-merged.hdf');
  const r = timed(process.execPath, [bin, 'merge', out, ...inputs], env);
  const again = timed(process.execPath, [bin, 'merge', out, out, ...inputs], env);
  console.log(`merge of ${N} × ${entries.toLocaleString('en')} synthetic entries (x = 8): ${r.seconds.toFixed(2)} s, ${r.rssMb.toFixed(0)} MB; ` +
    `again into itself (OUT + the ${N} shards, ${(2 * n).toLocaleString('en')} entries read): ${again.seconds.toFixed(2)} s, ${again.rssMb.toFixed(0)} MB`);
  console.log(`  ${r.stderr.trim()}`);
}
fs.rmSync(work, { recursive: true, force: true });
