#!/usr/bin/env node
/**
 * The index on PostgreSQL (api/postgres.ts), on a throwaway server (initdb/pg_ctl, as the tests
 * start it), with find's layout (K views of 256 bits per entry, 38 with find's settings, and their 64-bit coarse views):
 *
 * 1. Bulk load: N synthetic entries (a quarter random, the rest near copies of them: a few bits
 *    flipped in every view) written with COPY into imgcmp_entries — the table replicas load their
 *    copy from. (imgcmp_views, the hash blocks of the search in PostgreSQL, is loaded in step 5
 *    at its own size: at 32 rows per entry it is the bulk of a load.)
 * 2. A replica (`imgcmp serve --store`, a child process) starts: the time until it listens, with
 *    every entry in memory, and its peak RSS.
 * 3. Search: C concurrent HTTP clients (default 16) ask it `/search` by an indexed filepath (find's
 *    cut, all orientations; no image to decode, so the index's own time and HTTP) for S seconds:
 *    p50, p99 and searches/s.
 * 4. Adds: a writer in this process (the library, put() of synthetic records, W at a time) adds
 *    new entries for --api-seconds: adds/s. Then the replica is stopped (SIGSTOP: down, its
 *    connections left open) while A more entries are added as the store writes them (entries
 *    with change ids, change rows, the counter, NOTIFY; COPY, as put() one by one would take too
 *    long here; their view rows are left out, which replicas do not read); SIGCONT, and the time
 *    until the replica's /count has them all: its catch-up by the change sequence. Then a
 *    replica started afresh: its time to load everything.
 * 5. Search in PostgreSQL (`search: 'database'`: block equality on btree indexes, bit_count):
 *    a second database of M entries with imgcmp_views loaded (COPY, indexes built after), p50/p99
 *    with C concurrent searches through the library.
 *
 * With --memory N: only the replicas' in-memory search (index/live.ts) at N synthetic entries, no
 * PostgreSQL: its CPU time per search (what a search costs, whatever the machine's load).
 *
 *   node test/bench/pg-store.mjs --memory 1000000
 *   node test/bench/pg-store.mjs [--n 1000000] [--adds 100000] [--api-seconds 60] [--clients 16] [--seconds 20] [--writers 16] [--sql-n 100000]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openIndex } from '../../dist/src/api/index.js';
import { viewsPerFile } from '../../dist/src/hash/views.js';
import { chunkValue } from '../../dist/src/index/mih.js';
import { findSettings } from '../../dist/src/stages/find.js';
import { startPostgres } from '../../dist/test/helpers/postgres.js';
import { option, splitmix32 } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const argv = process.argv.slice(2);
const N = Number(option(argv, '--n', '1000000'));
const ADDS = Number(option(argv, '--adds', '100000'));
const CLIENTS = Number(option(argv, '--clients', '16'));
const SECONDS = Number(option(argv, '--seconds', '20'));
const WRITERS = Number(option(argv, '--writers', '16'));
const SQL_N = Number(option(argv, '--sql-n', '100000'));
const API_SECONDS = Number(option(argv, '--api-seconds', '60'));
const settings = findSettings('libjpeg');
/** Views per entry, as find's settings make them (38 with the edit views). */
const K = viewsPerFile(settings);

const say = (line) => console.log(line);
const since = (t0) => (performance.now() - t0) / 1000;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
/** Synthetic entries: entry i is random when i % 4 == 0, else a near copy of entry i - i % 4. */
const next = splitmix32(2026);
function randomRecord() {
  const views = Uint32Array.from({ length: K * 8 }, () => next());
  return { views, coarse: Uint32Array.from({ length: K * 2 }, () => next()) };
}
function nearCopy(r) {
  const views = r.views.slice();
  const coarse = r.coarse.slice();
  for (let v = 0; v < K; v++) {
    for (let f = 0; f < 6; f++) {
      const bit = next() % 256;
      views[v * 8 + (bit >>> 5)] ^= 1 << (bit & 31);
    }
    const bit = next() % 64;
    coarse[v * 2 + (bit >>> 5)] ^= 1 << (bit & 31);
  }
  return { views, coarse };
}
function* entries(n, prefix) {
  let original;
  for (let i = 0; i < n; i++) {
    const r = i % 4 === 0 ? (original = randomRecord()) : nearCopy(original);
    yield { id: `${prefix}${String(i).padStart(8, '0')}`, ...r };
  }
}
const BYTE_BITS = Array.from({ length: 256 }, (_, x) => Array.from({ length: 8 }, (_, b) => (x >> b) & 1).join(''));
function bitText(words, at, nwords) {
  let s = '';
  for (let w = at; w < at + nwords; w++) {
    const x = words[w];
    s += BYTE_BITS[x & 255] + BYTE_BITS[(x >>> 8) & 255] + BYTE_BITS[(x >>> 16) & 255] + BYTE_BITS[x >>> 24];
  }
  return s;
}
const hex = (words) => `\\\\x${Buffer.from(words.buffer, words.byteOffset, words.byteLength).toString('hex')}`;

// --memory N: the replicas' in-memory search alone (index/live.ts), no PostgreSQL: the CPU time of a search at N entries.
const MEMORY = Number(option(argv, '--memory', '0'));
if (MEMORY > 0) {
  const { LivePictures } = await import('../../dist/src/index/live.js');
  const live = new LivePictures(settings);
  const t0 = performance.now();
  for (const e of entries(MEMORY, 'e')) live.set(e.id, { file: e.id, bits: e.views.slice(0, 8), views: e.views, coarse: e.coarse, flat: false, size: 1, mtime: 0 });
  const filled = since(t0);
  const query = (q) => live.record(`e${String((q * 7919) % MEMORY).padStart(8, '0')}`);
  const t1 = performance.now();
  live.within({ upright: query(0).bits, views: query(0).views, coarse: query(0).coarse }, 32, 10);
  say(`in memory, ${MEMORY} entries: the first search (its tables made) ${since(t1).toFixed(1)} s`);
  for (let q = 1; q < 20; q++) live.within({ upright: query(q).bits, views: query(q).views, coarse: query(q).coarse }, 32, 10);
  for (const [label, cut, coarse, upright] of [['all orientations (coarse rule)', 32, 10, false], ['upright only', 32, Infinity, true]]) {
    const times = [];
    let found = 0;
    const cpu = process.cpuUsage();
    for (let q = 0; q < 200; q++) {
      const r = query(q);
      const t = performance.now();
      found += live.within(upright ? { upright: r.bits } : { upright: r.bits, views: r.views, coarse: r.coarse }, cut, coarse).length - 1;
      times.push(performance.now() - t);
    }
    const used = process.cpuUsage(cpu);
    times.sort((a, b) => a - b);
    say(`in memory, ${MEMORY} entries (filled in ${filled.toFixed(1)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB), ${label}: CPU time ${((used.user + used.system) / 1000 / 200).toFixed(2)} ms per search; wall p50 ${pct(times, 50).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms; ${(found / 200).toFixed(2)} matches per search; load ${os.loadavg()[0].toFixed(1)}`);
  }
  // Changes after the tables are made: adds of new entries and replacements of stored ones (near
  // copies of other entries), then the same searches (through the tables and their added parts).
  const changes = Math.min(20_000, Math.floor(MEMORY / 10));
  const fresh = entries(changes, 'n');
  let cpu = process.cpuUsage();
  for (let c = 0; c < changes; c++) {
    const e = fresh.next().value;
    const id = c % 2 ? e.id : `e${String((c * 104729) % MEMORY).padStart(8, '0')}`;
    live.set(id, { file: id, bits: e.views.slice(0, 8), views: e.views, coarse: e.coarse, flat: false, size: 1, mtime: 0 });
  }
  let used = process.cpuUsage(cpu);
  const perChange = (used.user + used.system) / changes;
  cpu = process.cpuUsage();
  let found = 0;
  for (let q = 0; q < 200; q++) {
    const r = query(q);
    found += live.within({ upright: r.bits, views: r.views, coarse: r.coarse }, 32, 10).length - 1;
  }
  used = process.cpuUsage(cpu);
  say(`in memory, after ${changes} changes (half adds, half replacements; ${perChange.toFixed(0)} µs of CPU each): all orientations ${((used.user + used.system) / 1000 / 200).toFixed(2)} ms of CPU per search; ${(found / 200).toFixed(2)} matches per search; load ${os.loadavg()[0].toFixed(1)}`);
  process.exit(0);
}

say(`pg-store bench: N = ${N}, adds = ${ADDS}, ${CLIENTS} search clients, ${WRITERS} writers; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

const pgServer = await startPostgres('bench', { shared_buffers: '1GB', max_wal_size: '8GB', checkpoint_timeout: '30min', max_connections: '100' });
if (typeof pgServer === 'string') {
  say(`no PostgreSQL server: ${pgServer}`);
  process.exit(1);
}
const cleanups = [() => pgServer.stop()];
const cleanup = () => {
  for (const f of cleanups.reverse()) {
    try {
      f();
    } catch {}
  }
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** COPY of n entries into imgcmp_entries (and, with views, imgcmp_views), through files of 20,000 entries. */
async function bulkLoad(url, n, prefix, withViews) {
  const admin = await import('pg').then((m) => new m.default.Client({ connectionString: url }));
  await admin.connect();
  const blocks = 11;
  const layout = Array.from({ length: blocks }, (_, c) => ({ offset: c * 23 + Math.min(c, 3), bits: 23 + (c < 3 ? 1 : 0) }));
  if (withViews) for (let c = 0; c < blocks; c++) await admin.query(`DROP INDEX imgcmp_views_b${c}`);
  const file = path.join(pgServer.dir, 'chunk.tsv');
  const viewsFile = path.join(pgServer.dir, 'views.tsv');
  const t0 = performance.now();
  let lines = [];
  let viewLines = [];
  const flush = async () => {
    fs.writeFileSync(file, lines.join(''), { mode: 0o644 });
    await admin.query(`COPY imgcmp_entries (id, seq, bits, views, coarse, flat, size, mtime, metadata) FROM '${file}'`);
    if (withViews) {
      fs.writeFileSync(viewsFile, viewLines.join(''), { mode: 0o644 });
      await admin.query(`COPY imgcmp_views FROM '${viewsFile}'`);
    }
    lines = [];
    viewLines = [];
  };
  for (const e of entries(n, prefix)) {
    lines.push(`${e.id}\t0\t${bitText(e.views, 0, 8)}\t${hex(e.views)}\t${hex(e.coarse)}\tf\t1000\t0\t\\N\n`);
    if (withViews) {
      for (let v = 0; v < K; v++) {
        const b = layout.map(({ offset, bits }) => chunkValue(e.views, v * 8, offset, bits));
        viewLines.push(`${e.id}\t${v}\t${bitText(e.views, v * 8, 8)}\t${bitText(e.coarse, v * 2, 2)}\t${b.join('\t')}\n`);
      }
    }
    if (lines.length === 20000) await flush();
  }
  if (lines.length) await flush();
  const copied = since(t0);
  const t1 = performance.now();
  if (withViews) for (let c = 0; c < blocks; c++) await admin.query(`CREATE INDEX imgcmp_views_b${c} ON imgcmp_views (b${c}, v)`);
  await admin.query('ANALYZE');
  const indexed = since(t1);
  const size = (await admin.query('SELECT pg_database_size(current_database()) AS b')).rows[0].b;
  await admin.end();
  fs.rmSync(file, { force: true });
  fs.rmSync(viewsFile, { force: true });
  return { copied, indexed, gb: Number(size) / 2 ** 30 };
}

/** ADDS new entries as the store's add writes them (but for their view rows), after change `from`, in one transaction per 20,000. */
async function bulkChanges(url, n, from) {
  const admin = await import('pg').then((m) => new m.default.Client({ connectionString: url }));
  await admin.connect();
  const file = path.join(pgServer.dir, 'changes.tsv');
  const entriesFile = path.join(pgServer.dir, 'adds.tsv');
  let seq = from;
  let lines = [];
  let changes = [];
  const flush = async () => {
    fs.writeFileSync(entriesFile, lines.join(''), { mode: 0o644 });
    fs.writeFileSync(file, changes.join(''), { mode: 0o644 });
    await admin.query('BEGIN');
    await admin.query(`COPY imgcmp_entries (id, seq, bits, views, coarse, flat, size, mtime, metadata) FROM '${entriesFile}'`);
    await admin.query(`COPY imgcmp_changes (seq, id, op) FROM '${file}'`);
    await admin.query('UPDATE imgcmp_counter SET seq = $1', [seq]);
    await admin.query(`SELECT pg_notify('imgcmp_changes', $1)`, [String(seq)]);
    await admin.query('COMMIT');
    lines = [];
    changes = [];
  };
  for (const e of entries(n, 'd')) {
    seq++;
    lines.push(`${e.id}\t${seq}\t${bitText(e.views, 0, 8)}\t${hex(e.views)}\t${hex(e.coarse)}\tf\t1000\t0\t\\N\n`);
    changes.push(`${seq}\t${e.id}\ta\n`);
    if (lines.length === 20000) await flush();
  }
  if (lines.length) await flush();
  await admin.end();
  fs.rmSync(file, { force: true });
  fs.rmSync(entriesFile, { force: true });
}

/** Peak resident memory (MB) of a running process, from /proc. */
function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Starts `imgcmp serve --store url`; resolves when it listens. */
function startReplica(url) {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--max-old-space-size=8192', bin, 'serve', '--store', url, '--port', '0', '--queue', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  cleanups.push(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve({ child, url: m[1], seconds: since(t0), exited, stderr: () => err });
    });
    child.on('exit', () => reject(new Error(`replica exited: ${err}`)));
  });
}

async function call(base, route, params) {
  const res = await fetch(`${base}${route}`, { method: 'POST', body: new URLSearchParams(params) });
  const body = await res.json();
  if (body.status !== 'ok') throw new Error(`${route}: ${JSON.stringify(body)}`);
  return body.result;
}

/** C clients asking `search(i)` for `seconds`: latencies (ms) sorted, and results found. */
async function loadTest(clients, seconds, search) {
  const times = [];
  let found = 0;
  const end = performance.now() + seconds * 1000;
  const pick = splitmix32(7);
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const got = (await search(pick())).length;
        times.push(performance.now() - t0);
        found += got;
      }
    }),
  );
  return { times: times.sort((a, b) => a - b), found };
}

// 1. Bulk load, 2. a replica starts.
const main = pgServer.url.replace(/\/postgres$/, '/bench');
pgServer.psql('CREATE DATABASE bench');
const writer = await openIndex(main, { settings, connections: 8, note: () => undefined });
const load = await bulkLoad(main, N, 'e', false);
say(`1. bulk load (COPY) of ${N} entries into imgcmp_entries: ${load.copied.toFixed(1)} s (${(N / load.copied).toFixed(0)} entries/s); database ${load.gb.toFixed(2)} GB`);
let replica = await startReplica(main);
const count = (await call(replica.url, '/count', {}))[0];
if (process.env.PG_BENCH_DEBUG) say(JSON.stringify(await call(replica.url, '/search', { filepath: 'e00000005' })));
say(`2. replica start (every entry read into memory): ${replica.seconds.toFixed(1)} s for ${count} entries`);

// 3. Search.
const s = await loadTest(CLIENTS, SECONDS, (r) => call(replica.url, '/search', { filepath: `e${String(r % N).padStart(8, '0')}` }));
say(
  `3. search by filepath, ${CLIENTS} clients, ${SECONDS} s: ${s.times.length} searches (${(s.times.length / SECONDS).toFixed(1)}/s), p50 ${pct(s.times, 50).toFixed(1)} ms, p99 ${pct(s.times, 99).toFixed(1)} ms, max ${s.times.at(-1).toFixed(1)} ms; ${(s.found / s.times.length).toFixed(2)} matches per search (3 planted)`,
);

// The same searches through the library in this process (no HTTP): the index's own time.
{
  const reader = await openIndex(main, { note: () => undefined });
  const r = await loadTest(CLIENTS, SECONDS, async (x) => reader.nearest({ id: `e${String(x % N).padStart(8, '0')}` }));
  say(`   the same through the library in one process (no HTTP), ${CLIENTS} concurrent: ${r.times.length} searches (${(r.times.length / SECONDS).toFixed(1)}/s), p50 ${pct(r.times, 50).toFixed(1)} ms, p99 ${pct(r.times, 99).toFixed(1)} ms`);
  const alone = [];
  const cpu = process.cpuUsage();
  for (let q = 0; q < 200; q++) {
    const t = performance.now();
    await reader.nearest({ id: `e${String((q * 7919) % N).padStart(8, '0')}` });
    alone.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  alone.sort((a, b) => a - b);
  // CPU time per search does not count the time the process waited for a core on a shared machine.
  say(`   one search at a time through the library: p50 ${pct(alone, 50).toFixed(2)} ms, p99 ${pct(alone, 99).toFixed(2)} ms; CPU time ${((used.user + used.system) / 1000 / 200).toFixed(2)} ms per search`);
  await reader.close();
}

// 4. Adds through the library for API_SECONDS; then ADDS more while the replica is down, and its catch-up.
const t0 = performance.now();
const added = entries(10 ** 7, 'a');
let apiAdds = 0;
await Promise.all(
  Array.from({ length: WRITERS }, async () => {
    while (since(t0) < API_SECONDS) {
      const e = added.next().value;
      await writer.put(e.id, { file: e.id, bits: e.views.slice(0, 8), views: e.views, coarse: e.coarse, flat: false, size: 1000, mtime: 0 });
      apiAdds++;
    }
  }),
);
const addSeconds = since(t0);
say(`4. adds through the library (put, ${WRITERS} at a time) for ${addSeconds.toFixed(1)} s: ${apiAdds} adds, ${(apiAdds / addSeconds).toFixed(0)} adds/s (each: the entry, its ${K} view rows in 11 block indexes, a change row, NOTIFY, one commit)`);
replica.child.kill('SIGSTOP');
const before = Number(pgServer.psql('SELECT seq FROM imgcmp_counter', 'bench'));
const t2 = performance.now();
await bulkChanges(main, ADDS, before);
say(`   ${ADDS} more adds while the replica is down (SIGSTOP), written as the store writes them (entries with their change ids, change rows, the counter; COPY, one NOTIFY; their view rows left out, the replica does not read them): ${since(t2).toFixed(1)} s`);
const t1 = performance.now();
replica.child.kill('SIGCONT');
const want = N + apiAdds + ADDS;
let now = 0;
while (now !== want) {
  now = (await call(replica.url, '/count', {}))[0];
  if (now !== want) await new Promise((r) => setTimeout(r, 50));
}
say(`   catch-up of the replica when it runs again: ${since(t1).toFixed(1)} s to apply ${ADDS} changes (count ${now})`);
say(`   that replica's peak RSS: ${peakRss(replica.child.pid).toFixed(0)} MB`);
replica.child.kill('SIGTERM');
await replica.exited;
const fresh = await startReplica(main);
say(`   a replica started afresh: ${fresh.seconds.toFixed(1)} s to load ${(await call(fresh.url, '/count', {}))[0]} entries`);
fresh.child.kill('SIGTERM');
await fresh.exited;
await writer.close();

// 5. Search in PostgreSQL.
if (SQL_N > 0) {
  const sqlUrl = pgServer.url.replace(/\/postgres$/, '/benchsql');
  pgServer.psql('CREATE DATABASE benchsql');
  await (await openIndex(sqlUrl, { settings, note: () => undefined })).close();
  const l = await bulkLoad(sqlUrl, SQL_N, 's', true);
  say(`5. search in PostgreSQL: ${SQL_N} entries with imgcmp_views (${SQL_N * K} rows) loaded in ${l.copied.toFixed(1)} s, 11 block indexes built in ${l.indexed.toFixed(1)} s; database ${l.gb.toFixed(2)} GB`);
  const index = await openIndex(sqlUrl, { search: 'database', connections: CLIENTS, note: () => undefined });
  const memory = await openIndex(sqlUrl, { note: () => undefined });
  const ids = index.list();
  let same = 0;
  for (let q = 0; q < 20; q++) {
    const id = ids[(q * 7919) % ids.length];
    if (JSON.stringify(await index.nearest({ id })) === JSON.stringify(await memory.nearest({ id }))) same++;
  }
  for (const [label, opts] of [['all orientations (coarse rule)', {}], ['upright only', { allOrientations: false }]]) {
    const r = await loadTest(CLIENTS, Math.min(SECONDS, 15), (x) => index.nearest({ id: ids[x % ids.length] }, opts));
    say(`   ${label}, ${CLIENTS} concurrent: ${r.times.length} searches (${(r.times.length / Math.min(SECONDS, 15)).toFixed(1)}/s), p50 ${pct(r.times, 50).toFixed(1)} ms, p99 ${pct(r.times, 99).toFixed(1)} ms; ${(r.found / r.times.length).toFixed(2)} matches per search`);
  }
  say(`   the same answers as the in-memory search: ${same} of 20 queries`);
  await index.close();
  await memory.close();
}
say(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
process.exit(0);
