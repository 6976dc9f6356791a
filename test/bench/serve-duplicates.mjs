#!/usr/bin/env node
/**
 * GET /duplicates of `imgcmp serve` (the real binary) at N entries (default 100,000; a synthetic
 * database in find's layout with planted near copies, lib.mjs findLayoutDb): the first call (the
 * whole index clustered), the same call repeated (--repeats, answered from the clusters kept until
 * the index changes), then one add over HTTP followed by --concurrent identical calls at once (one
 * clustering shared by all, the new entry in the answer). For each step the wall time and the
 * server's CPU seconds (from /proc), which say how much clustering was done whatever the load.
 *
 *   node test/bench/serve-duplicates.mjs [--n 100000] [--repeats 5] [--concurrent 8] [--bin bin/imgcmp]
 *
 * --bin runs another build (e.g. one from before the clusters were kept) on the same database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLayoutDb, option, startServe } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const n = Number(option(args, '--n', '100000'));
const repeats = Number(option(args, '--repeats', '5'));
const concurrent = Number(option(args, '--concurrent', '8'));
const bin = path.resolve(option(args, '--bin', path.join(root, 'bin', 'imgcmp')));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-serve-duplicates-'));

/** CPU seconds (user + system) of a process so far. */
function cpuOf(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 per second on Linux)
}

const serve = (dbfile) => startServe(bin, work, ['-f', dbfile]);

async function duplicates(url) {
  const res = await fetch(`${url}/duplicates`);
  const body = await res.json();
  if (res.status !== 200 || body.status !== 'ok') throw new Error(`/duplicates: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  return body.result;
}

/** Wall seconds and server CPU seconds of `work`. */
async function measured(pid, work) {
  const cpu0 = cpuOf(pid);
  const t0 = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - t0) / 1000, cpu: cpuOf(pid) - cpu0 };
}

const fmt = (m) => `${m.seconds.toFixed(3)} s wall, ${m.cpu.toFixed(2)} s server CPU`;

try {
  const { file, groups } = await findLayoutDb(path.join(work, 'index.hdf'), 'dup', n, 1);
  console.log(`serve-duplicates: ${n} entries (${groups.length} planted groups), ${path.relative(root, bin) || bin}, load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  const s = await serve(file);
  try {
    const first = await measured(s.child.pid, () => duplicates(s.url));
    console.log(`first call:    ${fmt(first)} (${first.result.length} clusters)`);
    const again = [];
    for (let i = 0; i < repeats; i++) again.push(await measured(s.child.pid, () => duplicates(s.url)));
    const same = again.every((m) => JSON.stringify(m.result) === JSON.stringify(first.result));
    const wall = again.map((m) => m.seconds).sort((a, b) => a - b);
    console.log(`repeated ×${repeats}: median ${wall[Math.floor(repeats / 2)].toFixed(3)} s wall, ${again.reduce((t, m) => t + m.cpu, 0).toFixed(2)} s server CPU in all; same clusters: ${same}`);
    // One add (a picture of the samples), then identical calls at once.
    const form = new FormData();
    form.append('image', new Blob([fs.readFileSync(path.join(root, 'samples', 'chelsea.jpg'))]), 'chelsea.jpg');
    form.append('filepath', '/bench/added/chelsea.jpg');
    const added = await fetch(`${s.url}/add`, { method: 'POST', body: form });
    if (added.status !== 200) throw new Error(`/add: ${added.status} ${await added.text()}`);
    const burst = await measured(s.child.pid, () => Promise.all(Array.from({ length: concurrent }, () => duplicates(s.url))));
    const agree = burst.result.every((r) => JSON.stringify(r) === JSON.stringify(burst.result[0]));
    console.log(`after an add, ${concurrent} at once: ${fmt(burst)}; all answers equal: ${agree}; clusters ${burst.result[0].length}`);
    console.log(`ratios: repeated/first wall ${(wall[Math.floor(repeats / 2)] / first.seconds).toFixed(3)}; ${concurrent} at once/first CPU ${(burst.cpu / Math.max(first.cpu, 0.01)).toFixed(2)}`);
  } finally {
    await s.stop();
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
