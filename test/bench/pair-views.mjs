#!/usr/bin/env node
/**
 * Research on find's rule for one pair of pictures, on the databases that find itself wrote (the
 * fingerprints exactly as find stores them): for every pair of pictures near on some view, the
 * distance of the two upright whole views (view 0 against view 0) apart from the smallest
 * distance through any other comparison (another orientation, a crop, a frame, a turn, a strip),
 * on the full (256-bit) and the coarse (64-bit) views, and each picture's detail. Then candidate
 * rules are scored on the three accuracy benchmarks at once (pairs joined → groups → pairwise
 * precision and recall; on the negative pool, false pairs).
 *
 *   IMGCMP_HOME=/tmp/h node bin/imgcmp find /tmp/bench/SET/images -q -f DB/SET.hdf --no-tree --json /dev/null
 *   node test/bench/pair-views.mjs --dbs DB [--bench /tmp/bench] [--cache /tmp/acc-cache] [--near 44]
 *        [--rules p0c32cc10,p6c38cc11cp1,...] [--list] [--hist] [--sets library,variants,edits,negatives]
 *
 * --list prints the pairs of different pictures within --near bits and the copies beyond 26;
 * --hist counts pairs of different pictures within k bits, upright and through other views.
 *
 * --cache: the 128-pixel sources of test/bench/views-cache.mjs, for each picture's detail
 * (hash/detail.ts's residual of the upright thumbnail); without it, no detail figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDb } from '../../dist/src/db/database.js';
import { selfViewsPerFile, viewsPerFile, resampleRect } from '../../dist/src/hash/views.js';
import { detailResidual } from '../../dist/src/hash/detail.js';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const dbDir = option(args, '--dbs', '/tmp/recall-h');
const benchDir = option(args, '--bench', '/tmp/bench');
const cacheDir = option(args, '--cache', '/tmp/acc-cache');
const near = Number(option(args, '--near', '44'));
const setNames = option(args, '--sets', 'library,variants,edits,negatives').split(',');

function pc(x) {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
function ham(a, ai, b, bi, w) {
  let d = 0;
  for (let k = 0; k < w; k++) d += pc(a[ai + k] ^ b[bi + k]);
  return d;
}

/** Detail residual of each file's upright 64-pixel thumbnail, from the cached 128-pixel sources. */
function detailsOf(name, files) {
  const file = path.join(cacheDir, `${name}.bin`);
  if (!fs.existsSync(file)) return undefined;
  const buf = fs.readFileSync(file);
  const nl = buf.indexOf(10);
  const head = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  const body = buf.subarray(nl + 1);
  const px = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  const at = new Map(head.names.map((f, i) => [f, i]));
  return files.map((f) => {
    const i = at.get(path.basename(f));
    if (i === undefined) return NaN;
    const src = px.subarray(i * 128 * 128, (i + 1) * 128 * 128);
    return detailResidual(resampleRect(src, 128, 64, { top: 0, bottom: 128, left: 0, right: 128 }), 64);
  });
}

/**
 * Every pair i < j within `near` bits on the full views through some comparison: per pair the
 * upright-whole distance (full d00, coarse c00), and the smallest over every other comparison
 * (full dv, coarse cv) with the view that gave it.
 */
function pairsOf(db) {
  const K = viewsPerFile(db.settings);
  const self = selfViewsPerFile(db.settings);
  const any = K - self;
  const V = db.views.data;
  const C = db.coarse.data;
  const w = db.views.words;
  const cw = db.coarse.words;
  const n = db.files.length;
  const out = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const ri = i * K;
      const rj = j * K;
      // cheap coarse screen: any comparison within 20 of 64, or view 0 within near on the full
      let cmin = 99;
      for (let v = 0; v < any; v++) {
        cmin = Math.min(cmin, ham(C, ri * cw, C, (rj + v) * cw, cw), ham(C, (ri + v) * cw, C, rj * cw, cw));
      }
      for (let v = any; v < K; v++) cmin = Math.min(cmin, ham(C, (ri + v) * cw, C, (rj + v) * cw, cw));
      const d00 = ham(V, ri * w, V, rj * w, w);
      if (cmin > 20 && d00 > near) continue;
      let dv = 999;
      let cv = 99;
      let via = -1;
      for (let v = 1; v < any; v++) {
        const a = ham(V, ri * w, V, (rj + v) * w, w);
        const b = ham(V, (ri + v) * w, V, rj * w, w);
        if (Math.min(a, b) < dv) [dv, via] = [Math.min(a, b), v];
        cv = Math.min(cv, ham(C, ri * cw, C, (rj + v) * cw, cw), ham(C, (ri + v) * cw, C, rj * cw, cw));
      }
      for (let v = any; v < K; v++) {
        const a = ham(V, (ri + v) * w, V, (rj + v) * w, w);
        if (a < dv) [dv, via] = [a, v];
        cv = Math.min(cv, ham(C, (ri + v) * cw, C, (rj + v) * cw, cw));
      }
      const c00 = ham(C, ri * cw, C, rj * cw, cw);
      if (Math.min(d00, dv) > near) continue;
      out.push({ i, j, d00, c00, dv, cv, via });
    }
  }
  return { pairs: out, K, self };
}

function clusters(n, joined, flat) {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x) => (parent[x] === x ? x : (parent[x] = find(parent[x])));
  for (const p of joined) if (!flat[p.i] && !flat[p.j]) parent[find(p.i)] = find(p.j);
  return Int32Array.from({ length: n }, (_, i) => find(i));
}

function score(set, root) {
  const n = set.files.length;
  const base = set.files.map((f) => path.basename(f));
  const members = new Map();
  for (let i = 0; i < n; i++) {
    if (!members.has(root[i])) members.set(root[i], []);
    members.get(root[i]).push(i);
  }
  if (!set.gt) {
    let fp = 0;
    const ex = [];
    for (const ms of members.values()) {
      fp += (ms.length * (ms.length - 1)) / 2;
      if (ms.length > 1) ex.push(ms.map((i) => base[i]).join(' ~ '));
    }
    return { fp, perM: (fp / ((n * (n - 1)) / 2)) * 1e6, ex };
  }
  const gid = new Map();
  set.gt.groups.forEach((g, k) => g.forEach((f) => gid.set(f, k)));
  let pred = 0;
  let tp = 0;
  for (const ms of members.values()) {
    for (let a = 0; a < ms.length; a++) for (let b = a + 1; b < ms.length; b++) {
      pred++;
      const g = gid.get(base[ms[a]]);
      if (g !== undefined && g === gid.get(base[ms[b]])) tp++;
    }
  }
  let truePairs = 0;
  for (const g of set.gt.groups) truePairs += (g.length * (g.length - 1)) / 2;
  const at = new Map(base.map((f, i) => [f, i]));
  const per = {};
  for (const v of set.gt.variants) {
    const s = (per[v.transform] ??= { n: 0, hit: 0 });
    s.n++;
    if (root[at.get(v.file)] === root[at.get(v.original)]) s.hit++;
  }
  const worst = Object.entries(per).map(([t, s]) => [t, s.hit / s.n]).sort((a, b) => a[1] - b[1]).filter(([, r]) => r < 1).slice(0, 3);
  return { P: pred ? tp / pred : 1, R: tp / truePairs, worst };
}

const sets = [];
for (const name of setNames) {
  const db = await readDb(path.join(dbDir, `${name}.hdf`));
  const gtFile = path.join(benchDir, name, 'ground_truth.json');
  const gt = fs.existsSync(gtFile) ? JSON.parse(fs.readFileSync(gtFile, 'utf8')) : undefined;
  const t0 = Date.now();
  const { pairs, K, self } = pairsOf(db);
  const detail = detailsOf(name, db.files);
  console.error(`${name}: ${db.files.length} pictures, ${K} views (${self} strips), ${pairs.length} near pairs (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  sets.push({ name, db, files: db.files, gt, pairs, detail, flat: db.flat });
}

// ---------------------------------------------------------------- the near pairs, listed
const base = (s, i) => path.basename(s.files[i]);
const isTrue = (s, p) => {
  if (!s.gt) return false;
  const g = s.gt.groups.find((gg) => gg.includes(base(s, p.i)));
  return !!g && g.includes(base(s, p.j));
};
const det = (s, i) => (s.detail ? s.detail[i].toExponential(1) : '?');
const line = (s, p) => `${base(s, p.i)} ~ ${base(s, p.j)}: up ${p.c00}/${p.d00}, views ${p.cv}/${p.dv} (via ${p.via}); detail ${det(s, p.i)} ${det(s, p.j)}${s.flat[p.i] || s.flat[p.j] ? ' FLAT' : ''}`;
if (args.includes('--list')) {
  for (const s of sets) {
    // false pairs within 44 on some full comparison; true pairs beyond 28
    const falses = s.pairs.filter((p) => !isTrue(s, p) && Math.min(p.d00, p.dv) <= near).sort((a, b) => Math.min(a.d00, a.dv) - Math.min(b.d00, b.dv));
    console.log(`${s.name}: false pairs within ${near} bits (${falses.length}):`);
    for (const p of falses.slice(0, 40)) console.log(`  ${line(s, p)}`);
    if (s.gt) {
      const hard = s.pairs.filter((p) => isTrue(s, p) && Math.min(p.d00, p.dv) > 26).sort((a, b) => Math.min(b.d00, b.dv) - Math.min(a.d00, a.dv));
      console.log(`${s.name}: true pairs beyond 26 bits (${hard.length}):`);
      for (const p of hard.slice(0, 40)) console.log(`  ${line(s, p)}`);
    }
  }
}

// ---------------------------------------------------------------- rules
/**
 * A rule `p<P>c<C>cc<CC>[cp<CP>][d<D>]`: a pair is joined when min(d00, dv + P) ≤ C on the full
 * views and min(c00, cv + CP) ≤ CC on the coarse ones (find's default: p6c38cc11cp1; before the
 * view penalty: p0c32cc10); with d<D>, pairs beyond 32 bits on every comparison only where both
 * pictures' detail is at least D.
 */
const rules = option(args, '--rules', 'p0c32cc10,p4c36cc10,p4c36cc11,p6c38cc10,p2c34cc10').split(',');
for (const r of rules) {
  const m = /^p(\d+)c(\d+)cc(\d+)(?:cp(\d+))?(?:d([\d.e-]+))?$/.exec(r);
  if (!m) throw new Error(`bad rule ${r}`);
  const [pen, cut, ccut, cpen, floor] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), m[5] ? Number(m[5]) : 0];
  const parts = [];
  for (const s of sets) {
    const joined = s.pairs.filter((p) => {
      // With a detail floor: beyond the plain rule (32 of 256 on every comparison) only pictures with at least that detail.
      if (floor && Math.min(p.d00, p.dv) > 32 && s.detail && (s.detail[p.i] < floor || s.detail[p.j] < floor)) return false;
      return Math.min(p.d00, p.dv + pen) <= cut && Math.min(p.c00, p.cv + cpen) <= ccut;
    });
    const root = clusters(s.files.length, joined, s.flat);
    const sc = score(s, root);
    // the new zone: pairs joined now that the plain rule (32 of 256 on every comparison, coarse 10) leaves apart
    const zone = joined.filter((p) => !(Math.min(p.d00, p.dv) <= 32 && Math.min(p.c00, p.cv) <= 10) && !s.flat[p.i] && !s.flat[p.j]);
    const zTrue = zone.filter((p) => isTrue(s, p)).length;
    // the nearest pair that is not a copy: how far its distance lies beyond the cut
    const falses = s.pairs.filter((p) => !isTrue(s, p) && !s.flat[p.i] && !s.flat[p.j]);
    const margin = falses.length ? Math.min(...falses.map((p) => Math.min(p.d00, p.dv + pen))) - cut : Infinity;
    parts.push(`zone ${zTrue}/${zone.length} true, nearest other ${margin >= 0 ? '+' : ''}${margin}`);
    parts.push(s.gt ? `${s.name.slice(0, 3)} P ${sc.P.toFixed(4)} R ${sc.R.toFixed(4)}${sc.worst.length ? ` (${sc.worst.map(([t, x]) => `${t} ${x.toFixed(2)}`).join(', ')})` : ''}` : `neg ${sc.fp} (${sc.perM.toFixed(2)}/M)${sc.ex.length ? ` ${sc.ex.slice(0, 4).join('; ')}` : ''}`);
  }
  console.log(`${r}: ${parts.join(' | ')}`);
}

if (args.includes('--hist')) {
  // How many pairs of different pictures come within k bits, upright whole against upright whole
  // and through any other comparison: the two kinds' rates of accidental matches.
  for (const s of sets) {
    const others = s.pairs.filter((p) => !isTrue(s, p) && !s.flat[p.i] && !s.flat[p.j]);
    const trues = s.pairs.filter((p) => isTrue(s, p));
    const ks = [24, 28, 32, 34, 36, 38, 40, 44, 48, 52, 56, 60].filter((k) => k <= near);
    const row = (label, f) => `${label} ${ks.map((k) => `≤${k}: ${f(k)}`).join(', ')}`;
    console.log(`${s.name}: ${others.length} near pairs of different pictures, ${trues.length} of copies`);
    console.log('  others ' + row('upright', (k) => others.filter((p) => p.d00 <= k).length));
    console.log('  others ' + row('views  ', (k) => others.filter((p) => p.dv <= k).length));
    if (trues.length) {
      console.log('  copies ' + row('upright only (views > 32)', (k) => trues.filter((p) => p.d00 <= k && p.d00 > 32 && p.dv > 32).length));
      console.log('  copies ' + row('views only (upright > 32)', (k) => trues.filter((p) => p.dv <= k && p.dv > 32 && p.d00 > 32).length));
    }
  }
}
