#!/usr/bin/env node
/**
 * Accuracy measured three ways, always together (the real binary on real files):
 *   1. make-variants: many copies per picture (../shared/corpus/make-variants.py, seed 0), and
 *      the second set of edits (test/bench/make-edits.py: small rotations, borders, banners,
 *      combined edits);
 *   2. a library-shaped benchmark: most photos without a copy (../shared/corpus/make-library.py);
 *   3. the false-match rate on a pool of thousands of distinct real images
 *      (../shared/corpus/get-negatives.sh): every pair found there is false.
 * Sets 1–2 are scored by ../shared/corpus/score.py (pairwise precision, recall, per-transform
 * recall); set 3 as false pairs per million pairs of different pictures.
 *
 *   node test/bench/accuracy-find.mjs --library DIR --variants DIR [--edits DIR] --negatives DIR
 *        [--systems find,imgcmp-x8,python] [--presets strict,default,loose] [--show-false N]
 *
 * Each DIR holds images/ (and ground_truth.json, but for the negatives: make it with
 * get-negatives.sh OUT --corpus CORPUS; its images are OUT/images). Systems:
 *   find       imgcmp find at each --presets value (one fingerprinting per set; the presets
 *              re-use the database)
 *   find-no-edits  the same without the edit views (find --no-edits: find's default before them)
 *   imgcmp-x8  the earlier recommendation: fingerprint --orientations --crops, cluster 0.15 --absolute
 *   python     the Python imgcmp (../shared/reference/imgcmp-reference.py: phash x = 8, cluster 0.2)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { option } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const shared = path.resolve(root, '..', 'shared');
const score = path.join(shared, 'corpus', 'score.py');
const reference = path.join(shared, 'reference', 'imgcmp-reference.py');
const args = process.argv.slice(2);
const sets = {
  library: option(args, '--library', undefined),
  variants: option(args, '--variants', undefined),
  edits: option(args, '--edits', undefined),
  negatives: option(args, '--negatives', undefined),
};
const systems = option(args, '--systems', 'find,imgcmp-x8').split(',');
const presets = option(args, '--presets', 'strict,default,loose').split(',');
const showFalse = Number(option(args, '--show-false', '12'));
if (!sets.negatives || (!sets.library && !sets.variants)) {
  console.error('usage: node test/bench/accuracy-find.mjs --library DIR --variants DIR [--edits DIR] --negatives DIR [--systems find,imgcmp-x8,python]');
  process.exit(1);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-accuracy-'));

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { encoding: 'utf8', env: { ...process.env, IMGCMP_HOME: work }, maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 2) throw new Error(`${cmd} ${cmdArgs.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** score.py's report: precision, recall and per-transform recall. */
function scored(dir, json) {
  const out = run('/usr/bin/python3', [score, path.join(dir, 'ground_truth.json'), json]);
  const m = /precision ([\d.]+)\s+recall ([\d.]+)/.exec(out);
  const perTransform = {};
  for (const line of out.split('\n')) {
    const t = /^\s+(\S+)\s+recall ([\d.]+)/.exec(line);
    if (t) perTransform[t[1]] = Number(t[2]);
  }
  return { precision: Number(m[1]), recall: Number(m[2]), perTransform };
}

/** The false pairs of a clustering against a ground truth's groups (every pair, for the negatives). */
function falsePairs(clusters, groupOf) {
  const out = [];
  for (const c of clusters) {
    for (let i = 0; i < c.length; i++) {
      for (let j = i + 1; j < c.length; j++) {
        const a = path.basename(c[i]);
        const b = path.basename(c[j]);
        if (!groupOf || groupOf.get(a) === undefined || groupOf.get(a) !== groupOf.get(b)) out.push([a, b]);
      }
    }
  }
  return out;
}

/** True pairs that no cluster holds, as "a ~ b (transform)", for the first few. */
function missedPairs(dir, clusters, limit) {
  const gt = JSON.parse(fs.readFileSync(path.join(dir, 'ground_truth.json'), 'utf8'));
  const clusterOf = new Map();
  clusters.forEach((c, k) => c.forEach((f) => clusterOf.set(path.basename(f), k)));
  const transformOf = new Map((gt.variants ?? []).map((v) => [v.file, v.transform]));
  const out = [];
  for (const g of gt.groups) {
    for (let i = 0; i < g.length; i++) {
      for (let j = i + 1; j < g.length; j++) {
        const [a, b] = [g[i], g[j]];
        if (clusterOf.get(a) === undefined || clusterOf.get(a) !== clusterOf.get(b)) {
          out.push(`${a}${transformOf.has(a) ? ` (${transformOf.get(a)})` : ''} ~ ${b}${transformOf.has(b) ? ` (${transformOf.get(b)})` : ''}`);
        }
      }
    }
  }
  return { count: out.length, examples: out.slice(0, limit) };
}

function groupsOf(dir) {
  const gt = JSON.parse(fs.readFileSync(path.join(dir, 'ground_truth.json'), 'utf8'));
  const m = new Map();
  gt.groups.forEach((g, k) => g.forEach((f) => m.set(f, k)));
  return m;
}

/** Clusters ({clusters: [[path]]}) of one set's images under one system and setting; seconds of the run. */
function clustersOf(system, setting, name, dir) {
  const images = path.join(dir, 'images');
  const json = path.join(work, `${system}-${setting}-${name}.json`);
  const t0 = Date.now();
  if (system === 'find' || system === 'find-no-edits') {
    const db = path.join(work, `${system}-${name}.hdf`);
    const extra = system === 'find-no-edits' ? ['--no-edits'] : [];
    run(process.execPath, [bin, 'find', images, '-q', '-f', db, '--no-tree', '--similarity', setting, '--json', json, ...extra]);
  } else if (system === 'imgcmp-x8') {
    const db = path.join(work, `x8-${name}.hdf`);
    if (!fs.existsSync(db)) run(process.execPath, [bin, 'fingerprint', images, '-q', '--orientations', '--crops', '-f', db]);
    run(process.execPath, [bin, 'cluster', '0.15', '--absolute', '-f', db, '--no-tree', '--json', json]);
  } else if (system === 'python') {
    const db = path.join(work, `py-${name}.hdf`);
    const files = fs.readdirSync(images).map((f) => path.join(images, f));
    if (!fs.existsSync(db)) run('/usr/bin/python3', [reference, 'fingerprints', ...files, '-f', db, '-n', '2']);
    run('/usr/bin/python3', [reference, 'cluster', '0.2', '-f', db, '--json', json]);
  }
  const seconds = (Date.now() - t0) / 1000;
  const parsed = JSON.parse(fs.readFileSync(json, 'utf8'));
  return { json, clusters: Array.isArray(parsed) ? parsed : parsed.clusters, seconds };
}

const settingsOf = (system) => (system === 'find' ? presets : system === 'find-no-edits' ? ['default'] : [system === 'python' ? 'sim 0.2' : '0.15 absolute']);
const results = [];
for (const system of systems) {
  for (const setting of settingsOf(system)) {
    const row = { system, setting };
    for (const [name, dir] of Object.entries(sets)) {
      if (!dir) continue;
      const { json, clusters, seconds } = clustersOf(system, setting, name, dir);
      if (name === 'negatives') {
        const n = fs.readdirSync(path.join(dir, 'images')).length;
        const fp = falsePairs(clusters);
        row.negatives = { n, falsePairs: fp.length, perMillion: (fp.length / ((n * (n - 1)) / 2)) * 1e6, examples: fp.slice(0, showFalse), seconds };
      } else {
        row[name] = { ...scored(dir, json), examples: falsePairs(clusters, groupsOf(dir)).slice(0, showFalse), missed: missedPairs(dir, clusters, showFalse), seconds };
      }
    }
    results.push(row);
    const f = (v, d = 4) => (v === undefined ? '—' : v.toFixed(d));
    const worst = (s) => (s ? Object.entries(s.perTransform).sort((a, b) => a[1] - b[1]).slice(0, 3).map(([t, r]) => `${t} ${r.toFixed(2)}`).join(', ') : '');
    console.log(
      `${system} ${setting}: library P ${f(row.library?.precision)} R ${f(row.library?.recall)} | ` +
        `variants P ${f(row.variants?.precision)} R ${f(row.variants?.recall)} (worst: ${worst(row.variants)}) | ` +
        `edits P ${f(row.edits?.precision)} R ${f(row.edits?.recall)} (worst: ${worst(row.edits)}) | ` +
        `negatives ${row.negatives.falsePairs} false pairs of ${row.negatives.n} images = ${f(row.negatives.perMillion, 2)} per million`,
    );
    for (const name of ['library', 'variants', 'edits', 'negatives']) {
      if (row[name]?.examples?.length) console.log(`    false pairs in ${name}: ${row[name].examples.map(([a, b]) => `${a} ~ ${b}`).join('; ')}`);
      if (name === 'library' && row[name]?.missed.count) console.log(`    missed pairs in ${name} (${row[name].missed.count}): ${row[name].missed.examples.join('; ')}`);
    }
    if (row.edits) console.log(`    edits per transform: ${Object.entries(row.edits.perTransform).map(([t, r]) => `${t} ${r.toFixed(2)}`).join(', ')}`);
    if (row.variants) console.log(`    variants per transform (below 1): ${Object.entries(row.variants.perTransform).filter(([, r]) => r < 1).map(([t, r]) => `${t} ${r.toFixed(2)}`).join(', ') || 'none'}`);
  }
}
const out = path.join(os.tmpdir(), 'imgcmp-accuracy-find.json');
fs.writeFileSync(out, JSON.stringify(results, null, 1));
console.log(`(all figures as JSON: ${out})`);
fs.rmSync(work, { recursive: true, force: true });
