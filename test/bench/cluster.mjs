#!/usr/bin/env node
/**
 * Cluster-engine benchmark: time and peak memory of `imgcmp cluster` (the real binary) on
 * synthetic fingerprint databases — planted near-duplicate groups among random fingerprints —
 * and, where scipy is installed (Debian python3-scipy), scipy's linkage + fcluster on the same
 * database in the same run, with the partitions compared.
 *
 *   node test/bench/cluster.mjs [--quick] [--only NAME] [--real DB.hdf] [--limit SECONDS]
 *
 * --quick runs the small cases only; --real adds a database of real fingerprints (for example
 * one made by `imgcmp fingerprint` on the make-variants benchmark); --limit stops a run of ours
 * after SECONDS (default 900) and says so; --keep leaves the find- databases in the temporary
 * folder (for profiling) and prints their path.
 *
 * The `find-` cases have `imgcmp find`'s layout (findSettings('libjpeg'): 32 views of 256 bits
 * per file and their 64-bit coarse views) and are clustered as find clusters: single linkage at
 * 32 of 256 bits, candidates from the coarse views. Their planted groups must come back whole.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESAMPLE, writeDb } from '../../dist/src/db/database.js';
import { HASH_VERSION } from '../../dist/src/hash/settings.js';
import { packRows } from '../../dist/src/hash/bits.js';
import { findLayoutDb, option, splitmix32, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const realDb = argv.includes('--real') ? argv[argv.indexOf('--real') + 1] : undefined;
const limit = Number(option(argv, '--limit', '900'));
const keep = argv.includes('--keep'); // leave the find- databases in place (for profiling), printing their path
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

/** A database in find's layout with planted groups (lib.mjs, findLayoutDb), in the work folder. */
async function makeFindDb(name, n, seed) {
  return findLayoutDb(path.join(work, `${name}.hdf`), name, n, seed);
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
  const r = timed(process.execPath, [bin, 'cluster', ...simArgs, '-f', db, '--no-tree', '--json', json], {}, limit);
  if (r.timedOut) return { ...r, clusters: undefined };
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

const cases = [
  { name: 'n10k-x8-avg-sim0.3', n: 10_000, nbits: 64, sim: ['0.3'], scipy: 0.3 },
  { name: 'n20k-x8-avg-sim0.3', n: 20_000, nbits: 64, sim: ['0.3'], scipy: 0.3 },
  { name: 'n100k-x8-avg-sim0.3', n: 100_000, nbits: 64, sim: ['0.3'], big: true },
  { name: 'n100k-x16-avg-sim0.3', n: 100_000, nbits: 256, sim: ['0.3'], big: true },
  { name: 'n1M-x8-avg-abs0.1', n: 1_000_000, nbits: 64, sim: ['0.1', '--absolute'], big: true },
  // find's layout, clustered as find clusters (its default cut, 32 of 256 bits, single linkage).
  { name: 'find-n10k', n: 10_000, find: true },
  { name: 'find-n100k', n: 100_000, find: true, big: true },
  { name: 'find-n1M', n: 1_000_000, find: true, big: true },
];
const FIND_CUT = ['0.125', '--absolute', '--linkage', 'single'];

console.log(`cluster benchmark (${os.cpus().length} cores, node ${process.version}); scipy ${haveScipy ? 'present' : 'absent: comparisons skipped'}`);
console.log('case                            n   imgcmp s      MB  clusters   scipy s      MB  speed-up  same partition as scipy');
for (const c of cases) {
  if (only && !c.name.includes(only)) continue;
  if (quick && c.big) continue;
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
      console.log(
        `${c.name.padEnd(24)} ${String(c.n).padStart(8)}  ${mine.seconds.toFixed(2).padStart(7)}  ${mine.rssMb.toFixed(0).padStart(6)}   ${mine.clusters.length.toString().padStart(7)}   ` +
          `planted groups recovered: ${found} of ${made.groups.length}, other clusters: ${other}; ${size}`,
      );
    }
    if (keep) {
      const kept = path.join(os.tmpdir(), path.basename(made.file));
      fs.renameSync(made.file, kept);
      console.log(`  kept ${kept}`);
    } else fs.rmSync(made.file);
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
