#!/usr/bin/env node
/**
 * The indexed search over a database's rows (index/picture-search.ts, PictureSearch: the tables of
 * coarse-tables.ts that serve's in-memory copy, index/live.ts, searches through too) at N
 * entries in find's layout (a synthetic database, lib.mjs findLayoutDb: random bits, a fifth of
 * the entries in planted groups of near copies), by the stored entries' own fingerprints at
 * find's default cut: CPU time per query, wall p50/p99, the time to make its tables. With
 * `--other DIST` (the dist folder of another build, e.g. an older commit's), that build's
 * PictureSearch is measured on the same database in the same process first, and the answers
 * of the two compared query by query.
 *
 *   node test/bench/picture-search.mjs [--n 1000000] [--queries 400] [--other /path/to/old/dist] [--profile FILE]
 *
 * --profile FILE writes a V8 CPU profile (.cpuprofile, for Chrome's DevTools) of this build's
 * queries alone, without the database's making and the tables' building.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { readDb } from '../../dist/src/db/database.js';
import { writeFileSafely } from '../../dist/src/util/safe-write.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../../dist/src/hash/views.js';
import { coarseCutFor, cutBits } from '../../dist/src/index/cut.js';
import { PictureSearch } from '../../dist/src/index/picture-search.js';
import { SIMILARITY } from '../../dist/src/stages/find.js';
import { findLayoutDb, option, splitmix32 } from './lib.mjs';

const args = process.argv.slice(2);
const n = Number(option(args, '--n', '1000000'));
const count = Number(option(args, '--queries', '400'));
const other = option(args, '--other', '');
const profile = option(args, '--profile', '');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-picture-search-'));
const file = path.join(work, 'db.hdf');
const made = await findLayoutDb(file, 'load', n, 2026);
const back = await readDb(file);
fs.rmSync(work, { recursive: true, force: true });
const stored = { upright: back.fps, views: back.views, coarse: back.coarse, perFile: viewsPerFile(back.settings), selfViews: selfViewsPerFile(back.settings), viewPenalty: viewPenaltyOf(back.settings) };
const within = Math.floor(cutBits(SIMILARITY.default, back.fps.nbits));
const coarseWithin = Math.floor(cutBits(coarseCutFor(SIMILARITY.default), back.coarse.nbits));
const row = new Map(back.files.map((f, i) => [f, i]));
const k = stored.perFile;
const fw = back.fps.words;
const cw = back.coarse.words;
const rng = splitmix32(7);
// Half the queries from planted groups (they find their copies), half any entry.
const ids = Array.from({ length: count }, (_, q) => (q % 2 ? made.groups[rng() % made.groups.length][0] : back.files[rng() % n]));
const queryOf = (id) => {
  const i = row.get(id);
  return { upright: back.fps.data.subarray(i * fw, (i + 1) * fw), views: back.views.data.subarray(i * k * fw, (i + 1) * k * fw), coarse: back.coarse.data.subarray(i * k * cw, (i + 1) * k * cw) };
};
console.log(`PictureSearch at ${n.toLocaleString('en')} entries, ${k} views (${stored.selfViews} strip views), cut ${within}/${back.fps.nbits}, coarse ${coarseWithin}/${back.coarse.nbits}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
const builds = other ? [['other build', (await import(path.resolve(other, 'src/index/picture-search.js'))).PictureSearch], ['this build', PictureSearch]] : [['this build', PictureSearch]];
const answers = [];
for (const [name, Search] of builds) {
  let search = new Search(stored);
  const t = performance.now();
  search.distances(queryOf(ids[0]), within, coarseWithin);
  const made = (performance.now() - t) / 1000;
  const out = [];
  const times = [];
  const profiler = profile && name === 'this build' ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const cpu = process.cpuUsage();
  for (const id of ids) {
    const t0 = performance.now();
    out.push(JSON.stringify(search.distances(queryOf(id), within, coarseWithin)));
    times.push(performance.now() - t0);
  }
  const used = process.cpuUsage(cpu);
  if (profiler) {
    const { profile: recorded } = await profiler.post('Profiler.stop');
    // Replaces only an earlier profile (a V8 .cpuprofile begins with its nodes), through a temporary file.
    writeFileSafely(profile, JSON.stringify(recorded), (head) => head.startsWith('{"nodes"'));
    profiler.disconnect();
  }
  times.sort((a, b) => a - b);
  answers.push(out);
  const matches = out.reduce((s, a) => s + JSON.parse(a).length, 0);
  console.log(`  ${name}: tables made in ${made.toFixed(1)} s; ${count} queries: CPU time ${((used.user + used.system) / 1000 / count).toFixed(2)} ms per query; wall p50 ${times[count >> 1].toFixed(1)} ms, p99 ${times[Math.floor(count * 0.99)].toFixed(1)} ms; ${matches} rows found; load ${os.loadavg()[0].toFixed(1)}`);
  search = undefined; // its tables go before the next build's are made
}
if (answers.length === 2) console.log(`  the same answers (rows and distances): ${answers[0].filter((a, i) => a === answers[1][i]).length} of ${count} queries`);
