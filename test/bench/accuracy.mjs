#!/usr/bin/env node
/**
 * Accuracy benchmark: the whole pipeline (fingerprint → cluster, the real binary) on the
 * near-duplicate benchmark of ../shared/corpus/make-variants.py, scored by
 * ../shared/corpus/score.py (pairwise precision, recall, F1, per-transform recall), for every hash
 * method with and without --orientations, at several cuts.
 *
 *   node test/bench/accuracy.mjs BENCH_DIR [--methods phash,ahash] [--x 8] [--decoder sharp] [--detail]
 *
 * BENCH_DIR is make-variants.py's output (images/ and ground_truth.json). --detail prints the
 * per-transform recall of every row.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, option } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const score = path.resolve(root, '..', 'shared', 'corpus', 'score.py');
const args = process.argv.slice(2);
const detail = flag(args, '--detail');
const methods = option(args, '--methods', 'phash,ahash,dhash,whash').split(',');
const x = option(args, '--x', '8');
const decoder = option(args, '--decoder', undefined);
const bench = path.resolve(args[0] ?? '');
if (!fs.existsSync(path.join(bench, 'ground_truth.json'))) {
  console.error('usage: node test/bench/accuracy.mjs BENCH_DIR (made by ../shared/corpus/make-variants.py)');
  process.exit(1);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-accuracy-'));
const cuts = [
  ['0.1'], ['0.2'], ['0.3'],
  ['0.05', '--absolute'], ['0.1', '--absolute'], ['0.15', '--absolute'], ['0.2', '--absolute'],
  ['0.25', '--absolute'], ['0.3', '--absolute'],
];

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { encoding: 'utf8', env: { ...process.env, IMGCMP_HOME: work }, maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 2) throw new Error(`${cmd} ${cmdArgs.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** score.py's report: overall line and per-transform recall. */
function scored(json) {
  const out = run('/usr/bin/python3', [score, path.join(bench, 'ground_truth.json'), json]);
  const m = /precision ([\d.]+)\s+recall ([\d.]+)\s+f1 ([\d.]+)/.exec(out);
  const perTransform = {};
  for (const line of out.split('\n')) {
    const t = /^\s*(\S+)\s+recall ([\d.]+)/.exec(line);
    if (t && t[1] !== 'precision') perTransform[t[1]] = Number(t[2]);
  }
  return { precision: Number(m[1]), recall: Number(m[2]), f1: Number(m[3]), perTransform };
}

console.log(`accuracy on ${bench} (x = ${x}); pairwise precision / recall / F1 from score.py`);
console.log('method  views              cut                precision  recall   F1      rot90  mirror  crop_05 crop_10');
const rows = [];
for (const method of methods) {
  for (const views of [[], ['--orientations'], ['--orientations', '--crops']]) {
    const label = views.length ? views.map((v) => v.slice(2)).join('+') : 'upright';
    const db = path.join(work, `${method}-${label}.hdf`);
    const t0 = Date.now();
    run(process.execPath, [bin, 'fingerprint', path.join(bench, 'images'), '-q', '--method', method, '-x', x, '-f', db, ...views, ...(decoder ? ['--decoder', decoder] : [])]);
    const fpSeconds = (Date.now() - t0) / 1000;
    for (const cut of cuts) {
      const json = path.join(work, 'clusters.json');
      run(process.execPath, [bin, 'cluster', ...cut, '-f', db, '--no-tree', '--json', json]);
      const s = scored(json);
      rows.push({ method, label, cut: cut.join(' '), ...s });
      const p = s.perTransform;
      console.log(
        `${method.padEnd(7)} ${label.padEnd(18)} ${cut.join(' ').padEnd(18)} ${s.precision.toFixed(4).padStart(9)}  ${s.recall.toFixed(4)}  ${s.f1.toFixed(4)}  ` +
          `${(p.rot90 ?? NaN).toFixed(3)}  ${(p.mirror ?? NaN).toFixed(3)}   ${(p.crop_05 ?? NaN).toFixed(3)}   ${(p.crop_10 ?? NaN).toFixed(3)}`,
      );
      if (detail) console.log('   ', Object.entries(p).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '));
    }
    console.log(`        (fingerprint, ${label}: ${fpSeconds.toFixed(1)} s)`);
  }
}
const best = rows.filter((r) => r.precision >= 0.995).sort((a, b) => b.recall - a.recall)[0];
if (best) {
  console.log(`best recall at precision ≥ 0.995: ${best.method} (${best.label}), cut ${best.cut}: precision ${best.precision.toFixed(4)}, recall ${best.recall.toFixed(4)}`);
  console.log('   per transform:', Object.entries(best.perTransform).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '));
}
fs.rmSync(work, { recursive: true, force: true });
