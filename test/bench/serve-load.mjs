#!/usr/bin/env node
/**
 * Load benchmark of `imgcmp serve` (the real binary; clients in this process, on the same machine):
 *
 *  1. search at N entries (default 1,000,000; a synthetic database in find's layout with planted
 *     near copies, lib.mjs findLayoutDb): by an indexed filepath
 *     over HTTP with 16 concurrent clients (p50, p99, worst, requests/s), and by a fingerprint in
 *     process (the same search without HTTP: PictureSearch one at a time, and the scan of every row
 *     it replaces; LivePictures on its search threads, as serve runs it, 16 concurrent);
 *  2. adds over HTTP with 8 concurrent clients, and searches by upload, against `imgcmp
 *     fingerprint` with find's settings on the same files (images/s; goal: ≥ 0.8 ×): the same
 *     hash settings on both sides (checked), both beyond start-up, the clients sending multipart
 *     bodies encoded before the clock over keep-alive connections; --runs rounds of both,
 *     interleaved, each side's fastest round taken (the one least slowed by other jobs);
 *  3. 64 concurrent clients for --seconds (60) mixing good uploads, truncated files, non-images,
 *     100-megapixel pictures (PNG and JPEG) and bodies over --max-size: every answer checked (good:
 *     200 and the ok envelope; bad: its 4xx and the fail envelope), the server still up, the peak
 *     RSS of the server and its decoder processes.
 *
 *   node test/bench/serve-load.mjs [--n 1000000] [--queries 3000] [--warmup 3000] [--images DIR] [--files 60] [--runs 3] [--seconds 60] [--only search,adds,mixed]
 *
 * Bounded: the N-entry part stops after --queries searches or 120 s; the mixed part after --seconds.
 * The 16 clients' searches are measured after --warmup searches of other entries by the same 16
 * clients (printed apart): the first seconds after the tables are made are those of V8 compiling
 * the search's path and collecting the tables' building garbage, not of a server that has run a while.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readDb } from '../../dist/src/db/database.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../../dist/src/hash/views.js';
import { coarseCutFor, cutBits } from '../../dist/src/index/cut.js';
import { LivePictures } from '../../dist/src/index/live.js';
import { PictureSearch } from '../../dist/src/index/picture-search.js';
import { distancesToQuery } from '../../dist/src/index/views.js';
import { findSettings, SIMILARITY } from '../../dist/src/stages/find.js';
import { collectGarbage, findLayoutDb, flag, option, splitmix32, startServe } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const args = process.argv.slice(2);
const n = Number(option(args, '--n', '1000000'));
const queries = Number(option(args, '--queries', '3000'));
const warmups = Number(option(args, '--warmup', '3000'));
const imagesDir = option(args, '--images', fs.existsSync('/tmp/bench/corpus/images') ? '/tmp/bench/corpus/images' : path.join(root, 'samples'));
const fileCount = Number(option(args, '--files', '60'));
const seconds = Number(option(args, '--seconds', '60'));
const runs = Number(option(args, '--runs', '3'));
const only = option(args, '--only', 'search,adds,mixed').split(',');
const skipBig = flag(args, '--skip-big') || !only.includes('search');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-serve-load-'));
const home = path.join(work, 'home');
fs.mkdirSync(home);

const ms = (x) => `${x.toFixed(1)} ms`;
function percentiles(times) {
  const s = Float64Array.from(times).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1], count: s.length };
}

/** Peak resident memory (MB) of a process and its descendants, sampled every 250 ms until stop(). */
function rssSampler(pid) {
  let peak = 0;
  // The children from /proc, not by spawning pgrep: a spawn from this process (which holds the
  // in-process search's gigabyte) blocked the clients' event loop for tens of ms every 250 ms,
  // and those blocks were most of the latency tail this benchmark measured.
  const childrenOf = (p) => {
    try {
      return fs.readdirSync(`/proc/${p}/task`).flatMap((t) => fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      return [];
    }
  };
  const tree = (p) => [p, ...childrenOf(p).flatMap(tree)];
  const rssOf = (p) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  };
  const timer = setInterval(() => {
    peak = Math.max(peak, tree(pid).reduce((s, p) => s + rssOf(p), 0));
  }, 250);
  return {
    stop: () => (clearInterval(timer), peak),
    hwm: () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
  };
}

/**
 * The CPU seconds (user + system) a process and its descendants use from now until stop(): read
 * from /proc every 50 ms, each process's last reading counted (so the decoder helpers, which
 * exit with their parent, are included; a process started later counts from zero). On a shared
 * machine this does not depend on what else runs, as images/s does.
 */
function cpuSampler(pid) {
  const tick = 100; // USER_HZ, the unit of /proc's times
  const first = new Map();
  const last = new Map();
  let started = false;
  const read = (p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      return undefined;
    }
  };
  const children = (p) => {
    const out = [];
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        try {
          out.push(...fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
        } catch {
          // the thread ended meanwhile
        }
      }
    } catch {
      // the process ended meanwhile
    }
    return out;
  };
  const sample = () => {
    for (const todo = [pid]; todo.length; ) {
      const p = todo.pop();
      const c = read(p);
      if (c === undefined) continue;
      if (!first.has(p)) first.set(p, started ? 0 : c);
      last.set(p, c);
      todo.push(...children(p));
    }
    started = true;
  };
  sample();
  const timer = setInterval(sample, 50);
  return {
    stop: () => {
      sample();
      clearInterval(timer);
      let sum = 0;
      for (const [p, c] of last) sum += c - first.get(p);
      return sum;
    },
  };
}

/** Starts `imgcmp serve --port 0 ARGS`; resolves with its URL once it listens (lib.mjs). */
const serve = (serveArgs) => startServe(bin, home, serveArgs);

/** A form POST over a keep-alive connection (node:http: lighter on the client side than fetch): status and parsed body. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function postForm(url, fields) {
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `count` jobs on `clients` concurrent loops (or until `until` ms); returns the elapsed seconds. */
async function loops(clients, count, job, until = Infinity) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (next < count && performance.now() < until) await job(next++, c);
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function envelope(res) {
  const type = res.headers.get('content-type') ?? '';
  const body = await res.text();
  try {
    return { status: res.status, type, body: JSON.parse(body) };
  } catch {
    return { status: res.status, type, body: undefined, text: body.slice(0, 200) };
  }
}

console.log(`imgcmp serve load benchmark (${os.cpus().length} cores, node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);

// ─── 1. Search at N entries ────────────────────────────────────────────────────────────────────
if (!skipBig) {
  const db = path.join(work, `n${n}.hdf`);
  const made = await findLayoutDb(db, 'load', n, 2026);
  console.log(`\n1. search at ${n.toLocaleString('en')} entries (find's layout: ${viewsPerFile(findSettings('libjpeg'))} views of 256 bits + 64-bit coarse views; ${made.groups.length} planted groups; db ${(made.bytes / 2 ** 20).toFixed(0)} MiB, written in ${made.writeSeconds.toFixed(1)} s)`);
  const rng = splitmix32(7);
  const ids = Array.from({ length: queries }, (_, q) => (q % 2 ? made.groups[rng() % made.groups.length][0] : `/bench/load/img${String(rng() % n).padStart(7, '0')}.jpg`));

  // By indexed filepath, over HTTP, 16 clients: first, while this process (the clients') holds
  // nothing but the entries' names, its garbage collected (the database written here). Measured
  // after the in-process parts below, the clients shared the machine with the collection of their
  // gigabytes (a million entries read, their tables), which slowed the server too.
  collectGarbage();
  const s = await serve(['-f', db, '--queue', '64']);
  const mem = rssSampler(s.child.pid);
  let t = performance.now();
  let r = await envelope(await fetch(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ filepath: ids[1] }) }));
  console.log(`   serve: started in ${s.startSeconds.toFixed(1)} s (reading the database, making the search tables); first search ${((performance.now() - t) / 1000).toFixed(1)} s: ${JSON.stringify(r.body).slice(0, 160)}`);
  const serverCpu = () => {
    const f = fs.readFileSync(`/proc/${s.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, clock ticks of 10 ms
  };
  // 16 clients searching `list` (entries' paths) until done or 120 s: latencies, server CPU, matches.
  const load = async (list) => {
    const times = [];
    const cpu0 = serverCpu();
    let bad = 0;
    let hits = 0;
    const elapsed = await loops(
      16,
      list.length,
      async (q) => {
        const t0 = performance.now();
        const e = await postForm(`${s.url}/search`, { filepath: list[q] });
        times.push(performance.now() - t0);
        if (e.status !== 200 || e.body?.status !== 'ok') bad++;
        else hits += e.body.result.length;
      },
      performance.now() + 120_000,
    );
    const p = percentiles(times);
    return { p, elapsed, bad, hits, cpuPer: (serverCpu() - cpu0) / p.count };
  };
  const said = ({ p, elapsed, bad, hits, cpuPer }) =>
    `${p.count} searches in ${elapsed.toFixed(1)} s (${(p.count / elapsed).toFixed(0)}/s): p50 ${ms(p.p50)}, p99 ${ms(p.p99)}, worst ${ms(p.max)}; server CPU ${ms(cpuPer)} per search; ${hits} matches, ${bad} failed; load average ${os.loadavg()[0].toFixed(1)}`;
  if (warmups > 0) {
    // Other entries than the measured ones (another seed), by the same 16 clients.
    const warmRng = splitmix32(11);
    const warm = Array.from({ length: warmups }, (_, q) => (q % 2 ? made.groups[warmRng() % made.groups.length][0] : `/bench/load/img${String(warmRng() % n).padStart(7, '0')}.jpg`));
    console.log(`   warm-up, by indexed filepath, HTTP, 16 clients: ${said(await load(warm))}`);
  }
  console.log(`   by indexed filepath, HTTP, 16 clients: ${said(await load(ids))} (goal: p99 < 20 ms)`);
  await s.stop();
  console.log(`   server peak RSS ${mem.stop().toFixed(0)} MB (with its decoder processes)`);

  // The entries read back once for both in-process parts, whose queries are the stored pictures'
  // own fingerprints (at find's default cut).
  const t0 = performance.now();
  const back = await readDb(db);
  const readSeconds = (performance.now() - t0) / 1000;
  const within = Math.floor(cutBits(SIMILARITY.default, 256));
  const coarseWithin = Math.floor(cutBits(coarseCutFor(SIMILARITY.default), 64));
  const k = viewsPerFile(back.settings);
  const row = new Map(back.files.map((f, i) => [f, i]));
  const queryOf = (id) => {
    const i = row.get(id);
    return { upright: back.fps.data.subarray(i * 8, i * 8 + 8), views: back.views.data.subarray(i * k * 8, (i + 1) * k * 8), coarse: back.coarse.data.subarray(i * k * 2, (i + 1) * k * 2) };
  };

  // By fingerprint, in process: through PictureSearch (what serve runs) and through the scan of
  // every row, same answers.
  {
    const stored = { upright: back.fps, views: back.views, coarse: back.coarse, perFile: k, selfViews: selfViewsPerFile(back.settings), viewPenalty: viewPenaltyOf(back.settings) };
    const search = new PictureSearch(stored);
    const t1 = performance.now();
    search.distances(queryOf(ids[0]), within, coarseWithin);
    const buildSeconds = (performance.now() - t1) / 1000;
    const indexed = [];
    const scanned = [];
    let same = 0;
    const deadline = performance.now() + 60_000;
    let cpu = 0;
    for (let q = 0; q < Math.min(queries, 1000) && performance.now() < deadline; q++) {
      const query = queryOf(ids[q]);
      let t = performance.now();
      const c = process.cpuUsage();
      const a = search.distances(query, within, coarseWithin);
      const used = process.cpuUsage(c);
      cpu += (used.user + used.system) / 1000;
      indexed.push(performance.now() - t);
      if (q < 20) {
        t = performance.now();
        const b = distancesToQuery(stored, query, within, coarseWithin);
        scanned.push(performance.now() - t);
        if (JSON.stringify(a) === JSON.stringify(b)) same++;
      }
    }
    const pi = percentiles(indexed);
    const ps = percentiles(scanned);
    console.log(`   by fingerprint, in process, one at a time: read ${readSeconds.toFixed(1)} s, tables built in ${buildSeconds.toFixed(1)} s; ${pi.count} queries: p50 ${ms(pi.p50)}, p99 ${ms(pi.p99)}, worst ${ms(pi.max)}; CPU time ${ms(cpu / pi.count)} per query`);
    console.log(`   the scan of every row it replaces (distancesToQuery): p50 ${ms(ps.p50)} over ${ps.count} queries; same answers: ${same} of ${ps.count}`);
  }


  // By fingerprint, in process, 16 concurrent: the index's search without HTTP (LivePictures on its
  // search threads, as serve and the library's index run it), the stored entries' fingerprints
  // as queries (the same ones as over HTTP), after as many warm-up searches of other entries.
  {
    collectGarbage(); // the one-at-a-time part's tables
    const threads = os.availableParallelism();
    const live = new LivePictures(back.settings, undefined, { searchThreads: threads });
    const t0 = performance.now();
    back.files.forEach((id, i) => {
      live.set(id, { file: id, bits: back.fps.data.subarray(i * 8, i * 8 + 8), views: back.views.data.subarray(i * k * 8, (i + 1) * k * 8), coarse: back.coarse.data.subarray(i * k * 2, (i + 1) * k * 2), flat: back.flat[i] === 1, size: back.size[i], mtime: back.mtime[i] });
    });
    await live.withinAsync(queryOf(ids[1]), within, coarseWithin);
    const madeSeconds = (performance.now() - t0) / 1000;
    const concurrent = async (list) => {
      const times = [];
      const cpu = process.cpuUsage();
      const elapsed = await loops(16, list.length, async (q) => {
        const t = performance.now();
        await live.withinAsync(queryOf(list[q]), within, coarseWithin);
        times.push(performance.now() - t);
      });
      const used = process.cpuUsage(cpu);
      const p = percentiles(times);
      return `${p.count} searches in ${elapsed.toFixed(1)} s (${(p.count / elapsed).toFixed(0)}/s): p50 ${ms(p.p50)}, p99 ${ms(p.p99)}, worst ${ms(p.max)}; ${ms((used.user + used.system) / 1000 / p.count)} of CPU per search; load average ${os.loadavg()[0].toFixed(1)}`;
    };
    const warmRng = splitmix32(13);
    const warm = Array.from({ length: warmups }, () => back.files[warmRng() % n]);
    console.log(`   by fingerprint, in process, 16 concurrent on ${threads} search threads (entries and tables made in ${madeSeconds.toFixed(1)} s): warm-up ${await concurrent(warm)}`);
    console.log(`   by fingerprint, in process, 16 concurrent: ${await concurrent(ids)} (goal: p99 < 20 ms)`);
    await live.close();
  }
  fs.rmSync(db, { force: true });
  fs.rmSync(`${db}.metadata.json`, { force: true });
}

// ─── 2. Adds and searches by upload vs imgcmp fingerprint ──────────────────────────────────────
if (!only.includes('adds') && !only.includes('mixed')) {
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
const files = fs
  .readdirSync(imagesDir)
  .filter((f) => /\.(jpe?g|png)$/i.test(f))
  .sort()
  .slice(0, fileCount)
  .map((f) => path.join(imagesDir, f));
const bytes = files.map((f) => fs.readFileSync(f));
const fpArgs = ['fingerprint', '-x', '16', '--orientations', '--crops', '--borders', '--edits', '--coarse', '8', '-q'];
/** `imgcmp fingerprint` of `list` into a fresh database: its wall seconds and CPU seconds (with its decoders). */
async function fingerprintRun(list, name) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, ...fpArgs, '-f', path.join(work, name), ...list], { env: { ...process.env, IMGCMP_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
  const cpu = cpuSampler(child.pid);
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const status = await new Promise((resolve) => child.on('exit', resolve));
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpu.stop();
  if (status !== 0) throw new Error(`imgcmp fingerprint failed: ${err}`);
  return { seconds, cpuSeconds };
}
/** A multipart form: fields, and `data` as the file `image`. */
function upload(fields, name, data) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (data) form.append('image', new Blob([data]), name);
  return form;
}
/**
 * A multipart form encoded (by undici, as fetch sends it) before any clock starts: the timed
 * clients only send bytes over keep-alive connections (node:http), so that the load generator,
 * which shares the 2 cores with the server, takes as little of them as it can.
 */
async function encoded(form) {
  const r = new Request('http://localhost/', { method: 'POST', body: form });
  return { type: r.headers.get('content-type'), body: Buffer.from(await r.arrayBuffer()) };
}
function postEncoded(url, { type, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode, body: undefined });
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
if (only.includes('adds')) {
  console.log(`\n2. ${files.length} files of ${imagesDir} (${(bytes.reduce((s, b) => s + b.length, 0) / 2 ** 20).toFixed(0)} MiB); ${runs} round(s), each side's fastest taken (the run least slowed by others on a shared machine)`);
  // Both sides beyond their start-up: fingerprint's rate leaves out a run of one file; the server
  // has done one search by upload (its decoders started) before the clock starts.
  const warmUp = async (url) => {
    const e = await postEncoded(`${url}/search`, await encoded(upload({ limit: '1' }, path.basename(files[0]), bytes[0])));
    if (e.status !== 200) throw new Error(`warm-up search failed: ${e.status} ${JSON.stringify(e.body)}`);
  };
  let adds = await Promise.all(files.map((f, i) => encoded(upload({ filepath: path.basename(f) }, path.basename(f), bytes[i]))));
  let searches = await Promise.all(files.map((f, i) => encoded(upload({ limit: '1' }, path.basename(f), bytes[i]))));
  const best = { fp: 0, add: 0, search: 0 };
  const cpuMs = { fp: [], add: [], client: [] };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (let round = 1; round <= runs; round++) {
    // Interleaved: fingerprint, then the server, in every round, into fresh databases.
    const one = await fingerprintRun(files.slice(0, 1), `fp1-${round}.hdf`);
    const all = await fingerprintRun(files, `fpN-${round}.hdf`);
    const fpRate = (files.length - 1) / (all.seconds - one.seconds);
    cpuMs.fp.push(((all.cpuSeconds - one.cpuSeconds) / (files.length - 1)) * 1000);
    const s = await serve(['-f', path.join(work, `adds-${round}.hdf`)]);
    await warmUp(s.url);
    let failed = 0;
    const serverCpu = cpuSampler(s.child.pid);
    const clientCpu = process.cpuUsage();
    const addSeconds = await loops(8, files.length, async (i) => {
      const e = await postEncoded(`${s.url}/add`, adds[i]);
      if (e.status !== 200) failed++;
    });
    cpuMs.add.push((serverCpu.stop() / files.length) * 1000);
    const c = process.cpuUsage(clientCpu);
    cpuMs.client.push((c.user + c.system) / 1000 / files.length);
    const addRate = files.length / addSeconds;
    let found = 0;
    const searchSeconds = await loops(8, files.length, async (i) => {
      const e = await postEncoded(`${s.url}/search`, searches[i]);
      if (e.body?.result?.[0]?.filepath === path.basename(files[i])) found++;
    });
    const searchRate = files.length / searchSeconds;
    await s.stop();
    // A fair comparison hashes the same views: the server's database (find's settings) and fingerprint's.
    const [served, fingerprinted] = [(await readDb(path.join(work, `adds-${round}.hdf`))).settings, (await readDb(path.join(work, `fpN-${round}.hdf`))).settings];
    const same = JSON.stringify(served, Object.keys(served).sort()) === JSON.stringify(fingerprinted, Object.keys(served).sort()) && Object.keys(served).length === Object.keys(fingerprinted).length;
    console.log(
      `   round ${round} (load ${os.loadavg()[0].toFixed(1)}): imgcmp fingerprint with find's settings ${all.seconds.toFixed(1)} s for ${files.length}, ${one.seconds.toFixed(1)} s for 1: ${fpRate.toFixed(1)} images/s beyond start-up, ${cpuMs.fp.at(-1).toFixed(1)} ms CPU per image; ` +
        `adds, HTTP, 8 clients: ${addRate.toFixed(1)} images/s = ${(addRate / fpRate).toFixed(2)} ×, ${cpuMs.add.at(-1).toFixed(1)} ms CPU per add (server and its decoders) + ${cpuMs.client.at(-1).toFixed(1)} ms (clients), ${failed} failed; searches by upload, 8 clients: ${searchRate.toFixed(1)} images/s = ${(searchRate / fpRate).toFixed(2)} ×, ${found} of ${files.length} found themselves first; the same hash settings on both sides: ${same ? 'yes' : `NO: serve ${JSON.stringify(served)}, fingerprint ${JSON.stringify(fingerprinted)}`}`,
    );
    best.fp = Math.max(best.fp, fpRate);
    best.add = Math.max(best.add, addRate);
    best.search = Math.max(best.search, searchRate);
  }
  console.log(`   imgcmp fingerprint with find's settings: ${best.fp.toFixed(1)} images/s beyond start-up (fastest round)`);
  console.log(`   adds, HTTP, 8 clients: ${best.add.toFixed(1)} images/s = ${(best.add / best.fp).toFixed(2)} × fingerprint (goal ≥ 0.8)`);
  console.log(`   searches by upload, HTTP, 8 clients: ${best.search.toFixed(1)} images/s = ${(best.search / best.fp).toFixed(2)} × fingerprint (goal ≥ 0.8)`);
  console.log(
    `   CPU per image (median of the rounds; does not depend on the machine's load): fingerprint ${median(cpuMs.fp).toFixed(1)} ms; an add ${median(cpuMs.add).toFixed(1)} ms in the server and its decoders ` +
      `(${(median(cpuMs.fp) / median(cpuMs.add)).toFixed(2)} × fingerprint's images per CPU second), ${median(cpuMs.client).toFixed(1)} ms in the clients`,
  );
  {
    // The same adds with --thumbnails (once): a JPEG thumbnail made (with sharp) of every picture added.
    const s = await serve(['-f', path.join(work, 'thumbs.hdf'), '--thumbnails']);
    await warmUp(s.url);
    let failed = 0;
    const addSeconds = await loops(8, files.length, async (i) => {
      const e = await postEncoded(`${s.url}/add`, adds[i]);
      if (e.status !== 200) failed++;
    });
    const made = fs.readdirSync(path.join(work, 'thumbs.hdf.thumbnails')).length;
    const addRate = files.length / addSeconds;
    console.log(`   adds with --thumbnails, 8 clients: ${addSeconds.toFixed(1)} s, ${addRate.toFixed(1)} images/s = ${(addRate / best.fp).toFixed(2)} × fingerprint's fastest; ${made} thumbnails; ${failed} failed`);
    await s.stop();
  }
  adds = searches = undefined;
}

// ─── 3. 64 clients, good and bad requests mixed ────────────────────────────────────────────────
if (only.includes('mixed')) {
  const maxMb = 8;
  const bombPng = await sharp({ create: { width: 10000, height: 10000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
  const bombJpeg = await sharp({ create: { width: 10000, height: 10000, channels: 3, background: '#406080' } }).jpeg({ quality: 50 }).toBuffer();
  const jpegs = bytes.filter((b) => b[0] === 0xff && b[1] === 0xd8);
  const kinds = [
    { name: 'good upload', weight: 8, body: (i) => upload({ limit: '3' }, 'good.jpg', bytes[i % bytes.length]), want: 200 },
    { name: 'truncated JPEG', weight: 2, body: (i) => upload({}, 'cut.jpg', jpegs[i % jpegs.length].subarray(0, 600)), want: 415 },
    { name: 'not an image', weight: 2, body: (i) => upload({}, 'text.jpg', Buffer.from(`not a picture ${i} `.repeat(500))), want: 415 },
    { name: '100-megapixel PNG', weight: 1, body: () => upload({}, 'bomb.png', bombPng), want: 'answer' },
    { name: '100-megapixel JPEG', weight: 1, body: () => upload({}, 'bomb.jpg', bombJpeg), want: 'answer' },
    { name: `body over ${maxMb} MB`, weight: 1, body: () => upload({}, 'huge.jpg', Buffer.alloc((maxMb + 1) * 2 ** 20, 0xff)), want: 413 },
  ];
  const total = kinds.reduce((s, k) => s + k.weight, 0);
  const rng = splitmix32(64);
  const pick = () => {
    let r = rng() % total;
    for (const k of kinds) if ((r -= k.weight) < 0) return k;
  };
  const s = await serve(['-f', path.join(work, 'mixed.hdf'), '--max-size', String(maxMb), '--queue', '64']);
  const mem = rssSampler(s.child.pid);
  const tally = new Map(kinds.map((k) => [k.name, { sent: 0, right: 0, statuses: new Map(), times: [] }]));
  const wrong = [];
  const until = performance.now() + seconds * 1000;
  let i = 0;
  await loops(
    64,
    Infinity,
    async () => {
      const k = pick();
      const t = tally.get(k.name);
      t.sent++;
      const t0 = performance.now();
      let e;
      try {
        e = await envelope(await fetch(`${s.url}/search`, { method: 'POST', body: k.body(i++) }));
      } catch (err) {
        e = { status: `connection: ${err.cause?.code ?? err.message}` };
      }
      t.times.push(performance.now() - t0);
      t.statuses.set(e.status, (t.statuses.get(e.status) ?? 0) + 1);
      const isEnvelope = e.body && /^application\/json/.test(e.type) && Array.isArray(e.body.error) && Array.isArray(e.body.result) && e.body.method === 'search';
      const right =
        isEnvelope &&
        (k.want === 200
          ? e.status === 200 && e.body.status === 'ok'
          : k.want === 'answer'
            ? (e.status === 200 && e.body.status === 'ok') || (e.status >= 400 && e.status < 500 && e.body.status === 'fail')
            : e.status === k.want && e.body.status === 'fail' && e.body.error.length > 0);
      if (right) t.right++;
      else if (wrong.length < 5) wrong.push(`${k.name}: ${e.status} ${JSON.stringify(e.body ?? e.text)}`.slice(0, 200));
    },
    until,
  );
  const alive = await envelope(await fetch(`${s.url}/ping`)).catch(() => ({ status: 'down' }));
  const peak = mem.stop();
  const hwm = mem.hwm();
  await s.stop();
  console.log(`\n3. 64 clients for ${seconds} s, mixed (--max-size ${maxMb}, --decodes 4, --queue 64):`);
  for (const [name, t] of tally) {
    const p = percentiles(t.times.length ? t.times : [0]);
    console.log(`   ${name.padEnd(20)} ${String(t.sent).padStart(5)} sent, ${String(t.right).padStart(5)} answered as they should; statuses ${[...t.statuses].map(([k, v]) => `${k}×${v}`).join(' ')}; p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`);
  }
  console.log(`   server up afterwards: ${alive.status === 200 ? 'yes' : `NO (${alive.status})`}; peak RSS ${hwm.toFixed(0)} MB (server), ${peak.toFixed(0)} MB (server and decoder processes, sampled)`);
  if (wrong.length) console.log(`   wrong answers (first ${wrong.length}):\n     ${wrong.join('\n     ')}`);
}
console.log(`\nload average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
fs.rmSync(work, { recursive: true, force: true });
