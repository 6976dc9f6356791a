#!/usr/bin/env node
/**
 * Cluster-engine benchmark: time and peak memory of `imgcmp cluster` (the real binary) on
 * synthetic fingerprint databases — planted near-duplicate groups among random fingerprints —
 * and, where scipy is installed (Debian python3-scipy), scipy's linkage + fcluster on the same
 * database in the same run, with the partitions compared.
 *
 *   node test/bench/cluster.mjs [--quick] [--only NAME] [--sizes N,...] [--real DB.hdf] [--limit SECONDS]
 *   node test/bench/cluster.mjs --only find- --sizes 1000000     # find's layout at a million files only
 *
 * --quick runs the small cases only; --only NAME the cases whose name contains NAME; --sizes the
 * cases of these numbers of files only (for example 100000,1000000); --real adds a database of real fingerprints (for example
 * one made by `imgcmp fingerprint` on the make-variants benchmark); --limit stops a run of ours
 * after SECONDS (default 900) and says so; --keep leaves the find- databases in the temporary
 * folder (for profiling) and prints their path.
 *
 * The `find-` cases have `imgcmp find`'s layout (findSettings('libjpeg'): 38 views of 256 bits
 * per file and their 64-bit coarse views, made as makeFindDb says) and are clustered as find
 * clusters: single linkage at find's default cut (38 of 256 bits upright, 32 through other views),
 * candidates from exact-key blocks of the views and bit-sampled keys of the upright views
 * (src/index/blocks.ts). Their planted groups must come back whole. Target: 1,000,000 files in
 * under 60 s and 4 GiB on 2 cores. Printed per case: wall time, peak RSS and CPU time of the
 * binary; then (unless --no-phases) the CPU time of its parts in this process (reading the
 * database, clustering, the key search alone); up to --exact-up-to files (default 10,000;
 * --no-exact: never) the clusters of the exact search (index/views.ts exactVerifiedPairsWithin,
 * the rule before the keys), which must be the same.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESAMPLE, readDb, writeDb } from '../../dist/src/db/database.js';
import { HASH_VERSION } from '../../dist/src/hash/settings.js';
import { packRows, selectRows, wordsFor } from '../../dist/src/hash/bits.js';
import { penaltyBits, selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../../dist/src/hash/views.js';
import { SIMILARITY, findSettings } from '../../dist/src/stages/find.js';
import { clusterFingerprints } from '../../dist/src/cluster/cluster.js';
import { blockPairsWithin, sampledPairsAmong } from '../../dist/src/index/blocks.js';
import { coarseCutFor, cutBits as toCutBits } from '../../dist/src/index/cut.js';
import { exactVerifiedPairsWithin } from '../../dist/src/index/views.js';
import { option, splitmix32, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  // The comment at the top of this file is its manual.
  const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8');
  console.log(/\/\*\*\n([\s\S]*?)\*\//.exec(text)[1].replace(/^ \* ?/gm, ''));
  process.exit(0);
}
const quick = argv.includes('--quick');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const realDb = argv.includes('--real') ? argv[argv.indexOf('--real') + 1] : undefined;
const limit = Number(option(argv, '--limit', '900'));
const sizes = option(argv, '--sizes', undefined)?.split(',').map(Number);
if (sizes && !sizes.every((s) => Number.isInteger(s) && s > 0)) throw new Error('--sizes takes numbers of files, for example 100000,1000000');
const keep = argv.includes('--keep');
const phases = !argv.includes('--no-phases'); // find- cases: the clustering's parts, timed in this process
const exact = !argv.includes('--no-exact'); // find- cases: the same clusters from the exact search?
const exactUpTo = Number(option(argv, '--exact-up-to', '10000')); // leave the find- databases in place (for profiling), printing their path
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-cluster-bench-'));
const haveScipy = spawnSync('/usr/bin/python3', ['-c', 'import scipy, h5py'], { encoding: 'utf8' }).status === 0;

const rng = splitmix32;

/**
 * n fingerprints of nbits: a fifth of them in planted groups of 2–6 copies of a random
 * fingerprint with up to 4 % of the bits flipped each, the rest random.
 */
function planted(n, nbits, seed) {
  const next = rng(seed);
  const bits = new Uint8Array(n * nbits);
  let i = 0;
  const flipMax = Math.max(1, Math.round(0.04 * nbits));
  while (i < n) {
    const center = Array.from({ length: nbits }, () => next() & 1);
    const size = i < n / 5 ? 2 + (next() % 5) : 1;
    for (let k = 0; k < size && i < n; k++, i++) {
      const row = center.slice();
      if (k > 0) for (let f = next() % (flipMax + 1); f > 0; f--) row[next() % nbits] ^= 1;
      bits.set(row, i * nbits);
    }
  }
  return bits;
}

async function makeDb(name, n, nbits, seed, reversed = false) {
  const file = path.join(work, `${name}${reversed ? '-reversed' : ''}.hdf`);
  const x = Math.round(Math.sqrt(nbits));
  const files = Array.from({ length: n }, (_, i) => `/bench/${name}/img${String(i).padStart(7, '0')}.jpg`);
  let bits = planted(n, nbits, seed);
  if (reversed) {
    // The same database with its rows in the opposite order.
    files.reverse();
    const r = new Uint8Array(bits.length);
    for (let i = 0; i < n; i++) r.set(bits.subarray((n - 1 - i) * nbits, (n - i) * nbits), i * nbits);
    bits = r;
  }
  await writeDb(file, {
    settings: { method: 'phash', x, orientations: false, resample: RESAMPLE, hashVersion: HASH_VERSION },
    files,
    fps: packRows(bits, n, nbits),
    flat: new Uint8Array(n),
    size: new Float64Array(n),
    mtime: new Float64Array(n),
  });
  return file;
}

/**
 * The D4 action on a 16 × 16 grid of DCT-sign bits (bit 16u + v: coefficient (u, v)), as phash's
 * bits nearly transform when the picture is turned or mirrored: a mirror negates the odd
 * columns (or rows) of coefficients, a quarter turn transposes them. Orientation o: bit 0 negates
 * odd columns, bit 1 odd rows, bit 2 transposes first. Writes 8 words at `out`.
 */
function orient(base, at, o, out, outAt) {
  if (o & 4) {
    for (let w = 0; w < 8; w++) out[outAt + w] = 0;
    for (let u = 0; u < 16; u++) {
      for (let v = 0; v < 16; v++) {
        const b = 16 * v + u; // transposed source
        if ((base[at + (b >>> 5)] >>> (b & 31)) & 1) {
          const d = 16 * u + v;
          out[outAt + (d >>> 5)] |= 1 << (d & 31);
        }
      }
    }
  } else for (let w = 0; w < 8; w++) out[outAt + w] = base[at + w];
  for (let w = 0; w < 8; w++) out[outAt + w] = (out[outAt + w] ^ (o & 1 ? 0xaaaaaaaa : 0) ^ (o & 2 ? 0xffff0000 : 0)) >>> 0;
}

/**
 * A database in find's layout (findSettings('libjpeg'): K = 38 views of 256 bits per file — 32
 * oriented, then 6 upright edit views — and their 64-bit coarse views), shaped as find's fingerprints are, not as independent random
 * bits: each file has a whole-picture hash (random bits) and crop hashes 90 % and 80 % (the
 * whole one with 15 % and 25 % of the bits changed: a crop resembles its picture); the framed
 * view is the whole picture again for 9 files in 10 (no frame found), else its own; every class
 * comes in the 8 orientations of the D4 action above; the coarse view is the low-frequency
 * 8 × 8 corner of the full one, as the coarse hash of the halved thumbnail nearly is. A fifth of
 * the files are in planted groups of 2–6: copies of the group's first file, each turned or
 * mirrored at random (and one in four showing its 90 % crop), with 1–10 of the 256 bits of its
 * base changed — within find's cut of the first file through the view that undoes the turn.
 * Left out of the model: the bias of real hashes (low-detail pictures crowd together) and
 * copies that match only at the edge of the cut (the accuracy benchmarks measure those).
 * Returns the file, the planted groups (file names) and the folder where the planted files exist
 * (empty files: find leaves clusters of files that are gone out of its answer).
 */
async function makeFindDb(name, n, seed) {
  const settings = findSettings('libjpeg');
  const k = viewsPerFile(settings);
  if (settings.x !== 16 || settings.coarseX !== 8 || k !== 38) throw new Error('makeFindDb models x = 16, coarse_x = 8 and 38 views (32 oriented, 6 edit views)');
  const views = new Uint32Array(n * k * 8);
  const coarse = new Uint32Array(n * k * 2);
  const next = rng(seed);
  const dir = path.join(work, `${name}-files`);
  fs.mkdirSync(dir);
  const files = Array.from({ length: n }, (_, i) => path.join(dir, `img${String(i).padStart(7, '0')}.jpg`));
  const groups = [];
  const base = new Uint32Array(5 * 8); // the four classes of one file, upright, and an edit view
  // coarse bit 8u + v = full bit 16u + v, for u, v < 8
  const coarseOf = (row) => {
    let lo = 0;
    let hi = 0;
    for (let u = 0; u < 8; u++) {
      const byte = (views[row * 8 + (u >>> 1)] >>> (16 * (u & 1))) & 0xff;
      if (u < 4) lo |= byte << (8 * u);
      else hi |= byte << (8 * (u - 4));
    }
    coarse[row * 2] = lo >>> 0;
    coarse[row * 2 + 1] = hi >>> 0;
  };
  const flip = (at, count) => {
    for (let f = 0; f < count; f++) {
      const b = next() % 256;
      base[at + (b >>> 5)] ^= 1 << (b & 31);
    }
  };
  let i = 0;
  while (i < n) {
    const size = i < n / 5 ? 2 + (next() % 5) : 1;
    const first = i;
    for (let c = 0; c < size && i < n; c++, i++) {
      if (c === 0) {
        for (let w = 0; w < 8; w++) base[w] = next();
      } else {
        // The copy's whole picture is a turned (sometimes cropped) view of the first file, changed a little.
        const v = (next() % 4 === 0 ? 8 : 0) + (next() % 8);
        base.set(views.subarray((first * k + v) * 8, (first * k + v) * 8 + 8), 0);
        flip(0, 1 + (next() % 10));
      }
      base.set(base.subarray(0, 8), 8);
      flip(8, 38);
      base.set(base.subarray(0, 8), 16);
      flip(16, 64);
      if (next() % 10 === 0) for (let w = 24; w < 32; w++) base[w] = next();
      else base.set(base.subarray(0, 8), 24);
      for (let cls = 0; cls < 4; cls++) {
        for (let o = 0; o < 8; o++) {
          const row = i * k + cls * 8 + o;
          orient(base, cls * 8, o, views, row * 8);
          coarseOf(row);
        }
      }
      // The 6 edit views, upright: 4 turned views (a fifth of the bits changed from the whole
      // picture's) and 2 strip views (a tenth).
      for (let e = 0; e < 6; e++) {
        base.set(base.subarray(0, 8), 32);
        flip(32, e < 4 ? 51 : 26);
        const row = i * k + 32 + e;
        views.set(base.subarray(32, 40), row * 8);
        coarseOf(row);
      }
    }
    if (i - first > 1) groups.push(files.slice(first, i));
  }
  for (const g of groups) for (const f of g) fs.writeFileSync(f, '');
  const packed = (data, nbits) => ({ count: n * k, nbits, words: nbits / 32, data });
  const full = packed(views, 256);
  const file = path.join(work, `${name}.hdf`);
  const t0 = process.hrtime.bigint();
  await writeDb(file, {
    settings,
    files,
    fps: selectRows(full, Array.from({ length: n }, (_, r) => r * k)),
    views: full,
    coarse: packed(coarse, 64),
    flat: new Uint8Array(n),
    size: new Float64Array(n).fill(0),
    mtime: new Float64Array(n),
  });
  const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { file, groups, dir, writeSeconds, bytes: fs.statSync(file).size };
}

/** How many planted groups came back as a cluster of their own, and how many clusters are something else. */
function recovered(groups, clusters) {
  const keys = new Set(clusters.map((c) => [...c].sort().join('\n')));
  const found = groups.filter((g) => keys.has(g.join('\n'))).length;
  return { found, other: clusters.length - found };
}

/** Number of clusters in a but not in b. */
function missingFrom(a, b) {
  const keys = new Set(b.map((c) => c.join('\n')));
  return a.filter((c) => !keys.has(c.join('\n'))).length;
}


function ours(db, simArgs, name) {
  const out = path.join(work, `${name}-clusters`);
  const json = path.join(work, `${name}.json`);
  // JSON only, like the scipy reference run (writing the symlink tree is measured apart).
  const cpu = path.join(work, `${name}.cpu`);
  const r = timed('/usr/bin/time', ['-o', cpu, '-f', '%U %S', process.execPath, bin, 'cluster', ...simArgs, '-f', db, '--no-tree', '--json', json], {}, limit);
  if (r.timedOut) return { ...r, clusters: undefined };
  r.cpuSeconds = fs.readFileSync(cpu, 'utf8').trim().split('\n').pop().split(' ').reduce((t, x) => t + Number(x), 0);
  const clusters = JSON.parse(fs.readFileSync(json, 'utf8')).clusters;
  return { ...r, clusters };
}

function scipy(db, sim, name) {
  const json = path.join(work, `${name}-scipy.json`);
  const ref = path.resolve(root, '..', 'shared', 'reference', 'imgcmp-reference.py');
  const r = timed('/usr/bin/python3', [ref, 'cluster', String(sim), '-f', db, '--json', json]);
  const clusters = JSON.parse(fs.readFileSync(json, 'utf8'))
    .clusters.filter((c) => c.length > 1)
    .map((c) => [...c].sort())
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { ...r, clusters };
}

/** Union-find components of pairs: single linkage's clusters (paths), as `cluster --json` lists them. */
function components(files, pairs) {
  const parent = Int32Array.from({ length: files.length }, (_, i) => i);
  const find = (i) => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let p = 0; p < pairs.length; p++) {
    const a = find(pairs.a[p]);
    const b = find(pairs.b[p]);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  }
  const groups = new Map();
  files.forEach((f, i) => {
    const r = find(i);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(f);
  });
  return [...groups.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

/**
 * The parts of find's clustering timed in this process (read, order, key search, check,
 * linkage: CPU seconds of both threads), and with `theirs` (the binary's clusters) the clusters
 * of the exact search compared with them.
 */
async function inProcess(file, theirs) {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const parts = [];
  let t = cpu();
  const lap = (name) => {
    const now = cpu();
    parts.push(`${name} ${(now - t).toFixed(1)}`);
    t = now;
  };
  const db = await readDb(file);
  lap('read');
  const k = viewsPerFile(db.settings);
  const penalty = viewPenaltyOf(db.settings);
  const cut = Math.floor(toCutBits(SIMILARITY.default, 256));
  const clustering = clusterFingerprints(db.files, db.fps, { cut: SIMILARITY.default, absolute: true, linkage: 'single' }, { views: db.views, viewsPerFile: k, selfViews: selfViewsPerFile(db.settings), viewPenalty: penalty, coarse: db.coarse, flat: db.flat });
  lap('cluster');
  const split = {};
  const candidates = blockPairsWithin(db.fps, db.views, k, cut - penaltyBits(penalty, 256), undefined, split);
  lap(`the key search alone, again (${split.threads} threads; ${candidates.length} candidates)`);
  if (penalty > 0) {
    const uprights = sampledPairsAmong(db.fps, cut);
    lap(`the upright pictures' sampled keys alone, again (${uprights.length} candidates)`);
  }
  let line = `in this process, CPU s: ${parts.join(', ')}; max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`;
  if (theirs) {
    const t0 = cpu();
    const pairs = exactVerifiedPairsWithin(db.fps, db.views, db.coarse, k, cut, toCutBits(coarseCutFor(SIMILARITY.default), 64), selfViewsPerFile(db.settings), penalty);
    const reference = components(db.files, pairs);
    const same = JSON.stringify(reference) === JSON.stringify(theirs.map((c) => [...c].sort()).sort((x, y) => (x[0] < y[0] ? -1 : 1)));
    line += `; exact search ${(cpu() - t0).toFixed(1)} s: ${same ? 'the same clusters' : `DIFFERENT clusters (${reference.length} against ${theirs.length})`}`;
  }
  return line;
}

const cases = [
  { name: 'n10k-x8-avg-sim0.3', n: 10_000, nbits: 64, sim: ['0.3'], scipy: 0.3 },
  { name: 'n20k-x8-avg-sim0.3', n: 20_000, nbits: 64, sim: ['0.3'], scipy: 0.3 },
  { name: 'n100k-x8-avg-sim0.3', n: 100_000, nbits: 64, sim: ['0.3'], big: true },
  { name: 'n100k-x16-avg-sim0.3', n: 100_000, nbits: 256, sim: ['0.3'], big: true },
  { name: 'n1M-x8-avg-abs0.1', n: 1_000_000, nbits: 64, sim: ['0.1', '--absolute'], big: true },
  // find's layout, clustered as find clusters (its default cut, single linkage).
  { name: 'find-n10k', n: 10_000, find: true },
  { name: 'find-n100k', n: 100_000, find: true, big: true },
  { name: 'find-n1M', n: 1_000_000, find: true, big: true },
];
const FIND_CUT = [String(SIMILARITY.default), '--absolute', '--linkage', 'single'];

console.log(`cluster benchmark (${os.cpus().length} cores, node ${process.version}); scipy ${haveScipy ? 'present' : 'absent: comparisons skipped'}`);
console.log('case                            n   imgcmp s      MB  clusters   scipy s      MB  speed-up  same partition as scipy');
for (const c of cases) {
  if (only && !c.name.includes(only)) continue;
  if (quick && c.big) continue;
  if (sizes && !sizes.includes(c.n)) continue;
  if (c.find) {
    let made;
    try {
      made = await makeFindDb(c.name, c.n, c.n + 7);
    } catch (err) {
      console.log(`${c.name.padEnd(24)} ${String(c.n).padStart(8)}  could not write the database: ${String(err?.message ?? err).split('\n')[0]}`);
      continue;
    }
    const mine = ours(made.file, FIND_CUT, c.name);
    const size = `db ${(made.bytes / 2 ** 20).toFixed(0)} MiB written in ${made.writeSeconds.toFixed(1)} s`;
    if (mine.timedOut) {
      console.log(`${c.name.padEnd(24)} ${String(c.n).padStart(8)}  > ${limit} s (stopped)  ${mine.rssMb.toFixed(0).padStart(6)} MB so far; ${size}`);
    } else {
      const { found, other } = recovered(made.groups, mine.clusters);
      // Members of a cluster that are no planted file are not on disk: find names their count.
      const gone = /(\d+) entr(?:y|ies) of .* missing on disk/.exec(mine.stderr)?.[1] ?? '0';
      console.log(
        `${c.name.padEnd(24)} ${String(c.n).padStart(8)}  ${mine.seconds.toFixed(2).padStart(7)}  ${mine.rssMb.toFixed(0).padStart(6)}   ${mine.clusters.length.toString().padStart(7)}   ` +
          `planted groups recovered: ${found} of ${made.groups.length}, other clusters: ${other}, unplanted members: ${gone}; cpu ${mine.cpuSeconds.toFixed(1)} s; ${size}`,
      );
      if (phases) console.log(`  ${await inProcess(made.file, exact && c.n <= exactUpTo ? mine.clusters : undefined)}`);
    }
    if (keep) {
      const kept = path.join(os.tmpdir(), path.basename(made.file));
      fs.renameSync(made.file, kept);
      console.log(`  kept ${kept}`);
    } else fs.rmSync(made.file);
    fs.rmSync(made.dir, { recursive: true, force: true });
    continue;
  }
  const db = await makeDb(c.name, c.n, c.nbits, c.n + c.nbits);
  const mine = ours(db, c.sim, c.name);
  let cmp = '(no scipy run at this size)';
  if (c.scipy !== undefined && haveScipy) {
    const ref = scipy(db, c.scipy, c.name);
    const differ = missingFrom(mine.clusters, ref.clusters) + missingFrom(ref.clusters, mine.clusters);
    let same = 'yes';
    if (differ) {
      // Equal distances are merged in an order that scipy leaves to the input order. Running scipy
      // on the same rows reversed shows whether its own answer moves on this database.
      const rev = scipy(await makeDb(c.name, c.n, c.nbits, c.n + c.nbits, true), c.scipy, `${c.name}-rev`);
      const moves = missingFrom(ref.clusters, rev.clusters) + missingFrom(rev.clusters, ref.clusters);
      const ourRev = ours(path.join(work, `${c.name}-reversed.hdf`), c.sim, `${c.name}-rev`);
      const oursStable = JSON.stringify(ourRev.clusters) === JSON.stringify(mine.clusters);
      same = `${differ} clusters differ; scipy reversed: ${moves} move; ours reversed: ${oursStable ? 'identical' : 'DIFFERENT'}`;
    }
    cmp = `${ref.seconds.toFixed(2).padStart(7)}  ${ref.rssMb.toFixed(0).padStart(6)}  ${(ref.seconds / mine.seconds).toFixed(1).padStart(7)}×  ${same}`;
  }
  console.log(`${c.name.padEnd(24)} ${String(c.n).padStart(8)}  ${mine.seconds.toFixed(2).padStart(7)}  ${mine.rssMb.toFixed(0).padStart(6)}   ${mine.clusters.length.toString().padStart(7)}   ${cmp}`);
  fs.rmSync(db);
}
if (realDb) {
  for (const sim of [['0.3'], ['0.1', '--absolute']]) {
    const mine = ours(realDb, sim, 'real');
    let cmp = '';
    if (haveScipy && sim.length === 1) {
      const ref = scipy(realDb, sim[0], 'real');
      cmp = `scipy ${ref.seconds.toFixed(2)} s ${ref.rssMb.toFixed(0)} MB, same partition: ${JSON.stringify(ref.clusters) === JSON.stringify(mine.clusters) ? 'yes' : 'NO'}`;
    }
    console.log(`real ${path.basename(realDb)} cluster ${sim.join(' ')}: ${mine.seconds.toFixed(2)} s ${mine.rssMb.toFixed(0)} MB, ${mine.clusters.length} clusters ${cmp}`);
  }
}
fs.rmSync(work, { recursive: true, force: true });
