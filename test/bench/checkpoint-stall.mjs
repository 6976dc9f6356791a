#!/usr/bin/env node
/**
 * How long an index's checkpoint stops its thread (every request of `serve` waits that long): a
 * synthetic database in find's layout (lib.mjs findLayoutDb) opened as an index, one image added,
 * then save() with a timer every 5 ms noting the longest gap between its ticks; and, on the same
 * entries, writeDb on this thread against writeDbApart (the worker thread checkpoints use from
 * 20,000 entries), each with the same timer. Each starts after a `sync` (the writes before it on
 * disk): a write of gigabytes otherwise waits for the previous one's.
 *
 *   node test/bench/checkpoint-stall.mjs [--n 1000000]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openIndex } from '../../dist/src/api/index.js';
import { readDb, writeDb } from '../../dist/src/db/database.js';
import { writeDbApart } from '../../dist/src/db/write-apart.js';
import { findLayoutDb, option } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const n = Number(option(process.argv.slice(2), '--n', '1000000'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-checkpoint-'));
const dbfile = path.join(work, 'index.hdf');

/** Runs `job`, noting the longest the event loop went without a 5 ms timer's tick. */
async function stall(job) {
  // The last write's dirty pages on their way to disk first, so that each write starts alike.
  spawnSync('sync');
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  await job();
  const used = process.cpuUsage(cpu);
  clearInterval(timer);
  worst = Math.max(worst, performance.now() - last);
  return `${((performance.now() - t0) / 1000).toFixed(1)} s, ${((used.user + used.system) / 1e6).toFixed(1)} s of CPU; the thread stopped at most ${(worst / 1000).toFixed(2)} s`;
}

console.log(`checkpoint stall at ${n.toLocaleString('en')} entries (${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)})`);
await findLayoutDb(dbfile, 'stall', n, 2026);
const index = await openIndex(dbfile);
await index.add(path.join(root, 'samples', 'astronaut.jpg'), { id: 'added', metadata: { n } });
console.log(`  index.save() after an add: ${await stall(() => index.save())}`);
await index.close();
const db = await readDb(dbfile);
console.log(`  writeDb on this thread: ${await stall(() => writeDb(path.join(work, 'here.hdf'), db))}`);
console.log(`  writeDbApart (a worker thread): ${await stall(() => writeDbApart(path.join(work, 'apart.hdf'), db))}`);
console.log(`  the same bytes: ${fs.readFileSync(path.join(work, 'here.hdf')).equals(fs.readFileSync(path.join(work, 'apart.hdf'))) ? 'yes' : 'NO'}; load average ${os.loadavg()[0].toFixed(1)}`);
fs.rmSync(work, { recursive: true, force: true });
