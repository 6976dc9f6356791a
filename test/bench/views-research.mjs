#!/usr/bin/env node
/**
 * Research on find's views: which extra views (small rotations, strips left out at an edge) and
 * which gates (a detail measure, stricter cuts for the new views) find more edited copies without
 * more false pairs. Works on the sources that views-cache.mjs stored (the pixels find's
 * fingerprinting decodes), hashes them with imgcmp's own phash (dist/), and scores the three
 * accuracy benchmarks in one run, as accuracy-find.mjs does with the binary:
 *
 *   node test/bench/views-cache.mjs /tmp/bench/SET /tmp/acc-cache/SET.bin   (each of the four sets)
 *   node test/bench/views-research.mjs --cache /tmp/acc-cache --design base,rot,... [--rules r1,r2]
 *   node test/bench/views-research.mjs --cost 200      (hashing time per picture, find's views
 *        without and with the edit views, on the first 200 sources of the library set)
 *
 * A design is a list of view classes (each 8 orientations or upright only) and the pairs of
 * classes that are compared (class A's upright view of one picture against every view of class
 * B of the other, both ways round). A rule decides a pair from the per-comparison distances:
 * the base rule is find's (coarse 10 of 64 to be a candidate, 32 of 256 over all base views).
 */
import fs from 'node:fs';
import path from 'node:path';
import { packBits } from '../../dist/src/hash/bits.js';
import { isFlat, phash } from '../../dist/src/hash/methods.js';
import { frameOf, grownKeep, halvedThumbnails, resampleRect, straightenKeep, turned } from '../../dist/src/hash/views.js';
import { detailResidual } from '../../dist/src/hash/detail.js';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const cacheDir = option(args, '--cache', '/tmp/acc-cache');
const benchDir = option(args, '--bench', '/tmp/bench');
const designNames = option(args, '--design', 'base').split(',');
const ruleNames = option(args, '--rules', 'base').split(',');
const setNames = option(args, '--sets', 'library,variants,edits,negatives').split(',');
const verbose = Number(option(args, '--show', '6'));
const RECORD_COARSE = 16;
/** With --low-detail B: pictures whose detail residual is below B have every view replaced by their upright whole view. */
const lowDetail = Number(option(args, '--low-detail', '0')); // pairs within this (of 64) on any comparison are kept for the rules

// ---------------------------------------------------------------- sources
function loadSet(name) {
  const buf = fs.readFileSync(path.join(cacheDir, `${name}.bin`));
  const nl = buf.indexOf(10);
  const head = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  const body = buf.subarray(nl + 1);
  const pixels = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  const gtFile = path.join(benchDir, name, 'ground_truth.json');
  const gt = fs.existsSync(gtFile) ? JSON.parse(fs.readFileSync(gtFile, 'utf8')) : undefined;
  return { name, ...head, pixels, gt };
}

// ---------------------------------------------------------------- view makers
const M = 128; // source side
const SIDE = 64; // thumbnail side for x = 16

// The turned views are hash/views.ts's own (turned, straightenKeep, grownKeep): the designs
// measured here are the views find computes.

/**
 * frameOf of hash/views.ts, and then a frame found on one side only is taken on the opposite side
 * too where that side's outer lines are of the same colour as deep as the frame found (a
 * letterbox or border is mostly symmetric; the picture's own dark or light edge hides it there).
 */
function frameSymmetric(pixels, m) {
  const f = frameOf(pixels, m);
  if (!f) return undefined;
  const at = (side, line, i) => {
    const k = side === 0 || side === 2 ? line : m - 1 - line;
    return side < 2 ? pixels[k * m + i] : pixels[i * m + k];
  };
  const colourOf = (side) => Float64Array.from({ length: m }, (_, i) => at(side, 0, i)).sort()[m >> 1];
  const plain = (side, lines, colour) => {
    for (let line = 0; line < lines; line++) {
      let n = 0;
      for (let i = 0; i < m; i++) if (Math.abs(at(side, line, i) - colour) <= 6) n++;
      if (n / m < 0.98) return false;
    }
    return true;
  };
  const depth = [f.top, m - f.bottom, f.left, m - f.right];
  for (const [a, b] of [[0, 1], [1, 0], [2, 3], [3, 2]]) {
    if (depth[a] > 0 && depth[b] === 0 && plain(b, depth[a] - 1, colourOf(a))) depth[b] = depth[a];
  }
  return { top: depth[0], bottom: m - depth[1], left: depth[2], right: m - depth[3] };
}

const rect = (src, m, side, top, bottom, left, right) => resampleRect(src, m, side, { top: top * m, bottom: bottom * m, left: left * m, right: right * m });

/** View classes: make(src, m, meta) → SIDE × SIDE thumbnail. */
const CLASS = {
  whole: () => ({ name: 'whole', orient: 8, make: (s, m) => rect(s, m, SIDE, 0, 1, 0, 1) }),
  c90: () => ({ name: 'c90', orient: 8, make: (s, m) => rect(s, m, SIDE, 0.05, 0.95, 0.05, 0.95) }),
  c80: () => ({ name: 'c80', orient: 8, make: (s, m) => rect(s, m, SIDE, 0.1, 0.9, 0.1, 0.9) }),
  framed: () => ({
    name: 'framed',
    orient: 8,
    make: (s, m) => {
      const f = frameOf(s, m);
      return f ? resampleRect(s, m, SIDE, f) : rect(s, m, SIDE, 0, 1, 0, 1);
    },
  }),
  framedsym: () => ({
    name: 'framedsym',
    orient: 8,
    make: (s, m) => {
      const f = frameSymmetric(s, m);
      return f ? resampleRect(s, m, SIDE, f) : rect(s, m, SIDE, 0, 1, 0, 1);
    },
  }),
  up: () => ({ name: 'up', orient: 1, make: (s, m) => rect(s, m, SIDE, 0, 1, 0, 1) }),
  /** Turned by deg, cropped as straighten does (aspect-true, or as if square). */
  rot: (deg, orient = 1, square = false) => ({
    name: `rot${deg}${square ? 's' : ''}${orient === 8 ? 'o' : ''}`,
    group: 'rot',
    orient,
    make: (s, m, meta) => {
      const a = square ? 1 : meta.aspect;
      const [k] = straightenKeep(deg, a);
      return turned(s, m, SIDE, deg, a, k, k);
    },
  }),
  /** Turned back by deg, and the part kept that a copy turned with a grown canvas came from. */
  unrot: (deg, orient = 1, square = false) => ({
    name: `unrot${deg}${square ? 's' : ''}${orient === 8 ? 'o' : ''}`,
    group: 'rot',
    orient,
    make: (s, m, meta) => {
      const a = square ? 1 : meta.aspect;
      const [fx, fy] = grownKeep(deg, a);
      return turned(s, m, SIDE, deg, a, fx, fy);
    },
  }),
  /** Turned by deg and cropped to a fixed central fraction f (both axes). */
  rotf: (deg, f, orient = 1) => ({
    name: `rot${deg}f${f}`,
    group: 'rot',
    orient,
    make: (s, m, meta) => turned(s, m, SIDE, deg, meta.aspect, f, f),
  }),
  /** The picture without a strip of `f` at one edge (b, t, l, r). */
  strip: (edge, f, orient = 1) => ({
    name: `strip${edge}${f}${orient === 8 ? 'o' : ''}`,
    group: 'strip',
    orient,
    make: (s, m) => rect(s, m, SIDE, edge === 't' ? f : 0, edge === 'b' ? 1 - f : 1, edge === 'l' ? f : 0, edge === 'r' ? 1 - f : 1),
  }),
};

const BASE = ['whole', 'c90', 'c80', 'framed'];
const baseClasses = () => BASE.map((n) => CLASS[n]());
/** Comparisons: [A, B] = A's upright view of one picture against each view of class B of the other, both ways. */
const baseCompare = () => BASE.map((b) => ['whole', b]);

function rotDesign(angles, { orient = 1, square = false, unrot = false, framedToo = false, f } = {}) {
  const classes = baseClasses();
  const compare = baseCompare();
  for (const a of angles) {
    for (const d of [a, -a]) {
      const c = f ? CLASS.rotf(d, f, orient) : unrot ? CLASS.unrot(d, orient, square) : CLASS.rot(d, orient, square);
      classes.push(c);
      compare.push(['whole', c.name]);
      if (framedToo) compare.push(['framed', c.name]);
    }
  }
  return { classes, compare };
}

function stripDesign(f, edges = ['b', 't'], extra) {
  const d = extra ?? { classes: baseClasses(), compare: baseCompare() };
  for (const e of edges) {
    const c = CLASS.strip(e, f);
    d.classes.push(c);
    d.compare.push([c.name, c.name]);
  }
  return d;
}

const DESIGNS = {
  base: () => ({ classes: baseClasses(), compare: baseCompare() }),
  rot25: () => rotDesign([2.5]),
  rot3: () => rotDesign([3]),
  rot25_5: () => rotDesign([2.5, 5]),
  rot2_4: () => rotDesign([2, 4]),
  rot25_5s: () => rotDesign([2.5, 5], { square: true }),
  unrot5: () => rotDesign([5], { unrot: true }),
  rot25_unrot5: () => {
    const d = rotDesign([2.5]);
    for (const a of [5, -5]) {
      const c = CLASS.unrot(a);
      d.classes.push(c);
      d.compare.push(['whole', c.name]);
    }
    return d;
  },
  rot25_5_unrot5: () => {
    const d = rotDesign([2.5, 5]);
    for (const a of [5, -5]) {
      const c = CLASS.unrot(a);
      d.classes.push(c);
      d.compare.push(['whole', c.name]);
    }
    return d;
  },
  rot25_5_fr: () => rotDesign([2.5, 5], { framedToo: true }),
  rot25_5_f90: () => rotDesign([2.5, 5], { f: 0.9 }),
  strip12: () => stripDesign(0.12),
  edits: () => {
    const d = DESIGNS.rot25_unrot5();
    d.classes[3] = CLASS.framedsym();
    d.classes[3].name = 'framed';
    stripDesign(0.12, ['b', 't'], d);
    return d;
  },
  cand: () => {
    const d = DESIGNS.rot25_unrot5();
    for (const n of ['framedsym', 'up']) {
      d.classes.push(CLASS[n]());
      d.compare.push(n === 'up' ? ['up', 'up'] : ['whole', n]);
    }
    stripDesign(0.12, ['b', 't', 'l', 'r'], d);
    return d;
  },
  rot25s_unrot5s: () => {
    const d = rotDesign([2.5], { square: true });
    for (const a of [5, -5]) {
      const c = CLASS.unrot(a, 1, true);
      d.classes.push(c);
      d.compare.push(['whole', c.name]);
    }
    return d;
  },
  superset: () => {
    const d = rotDesign([2, 2.5, 5]);
    for (const a of [5, -5, 2.5, -2.5]) {
      const c = CLASS.unrot(a);
      d.classes.push(c);
      d.compare.push(['whole', c.name]);
    }
    stripDesign(0.12, ['b', 't', 'l', 'r'], d);
    stripDesign(0.08, ['b', 't'], d);
    stripDesign(0.16, ['b', 't'], d);
    return d;
  },
  rot25_unrot5_strip12: () => stripDesign(0.12, ['b', 't'], DESIGNS.rot25_unrot5()),
  rot25_unrot5_strip12_4: () => stripDesign(0.12, ['b', 't', 'l', 'r'], DESIGNS.rot25_unrot5()),
  strip15: () => stripDesign(0.15),
  strip10: () => stripDesign(0.1),
  strip12_4: () => stripDesign(0.12, ['b', 't', 'l', 'r']),
  rot25_5_strip12: () => stripDesign(0.12, ['b', 't'], rotDesign([2.5, 5])),
  rot25_5_fr_strip12: () => stripDesign(0.12, ['b', 't'], rotDesign([2.5, 5], { framedToo: true })),
};

// ---------------------------------------------------------------- hashing
function words(bits) {
  return packBits(bits);
}

/** PDQ-style quality of a thumbnail: sum of |neighbour differences| of grey levels scaled to 0–100, over 90. */
function quality(thumb, side) {
  let sum = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = Math.floor((100 * thumb[y * side + x]) / 255);
      if (x + 1 < side) sum += Math.abs(Math.floor((100 * thumb[y * side + x + 1]) / 255) - v);
      if (y + 1 < side) sum += Math.abs(Math.floor((100 * thumb[(y + 1) * side + x]) / 255) - v);
    }
  }
  return Math.min(100, sum / 90);
}

/** Energy of the DCT's AC block relative to the pixels' spread: another detail measure (higher = more structure in low frequencies). */
function hashAll(set, design) {
  const n = set.names.length;
  const K = design.classes.reduce((s, c) => s + c.orient, 0);
  const full = new Int32Array(n * K * 8);
  const coarse = new Int32Array(n * K * 2);
  const flat = new Uint8Array(n);
  const q = new Float64Array(n);
  const offset = []; // first view index of each class
  let at = 0;
  for (const c of design.classes) {
    offset.push(at);
    at += c.orient;
  }
  for (let i = 0; i < n; i++) {
    const src = set.pixels.subarray(i * M * M, (i + 1) * M * M);
    const meta = { aspect: set.width[i] && set.height[i] ? set.width[i] / set.height[i] : 1 };
    const thumbs = design.classes.map((c) => c.make(src, M, meta));
    const low = lowDetail > 0 && detailResidual(thumbs[0], SIDE) < lowDetail;
    if (low) for (let k = 1; k < thumbs.length; k++) thumbs[k] = thumbs[0];
    const halves = halvedThumbnails(thumbs, SIDE);
    let v = 0;
    design.classes.forEach((c, ci) => {
      const fb = c.orient === 8 ? phash.oriented(thumbs[ci], 16) : [phash.bits(thumbs[ci], 16)];
      const cb = c.orient === 8 ? phash.oriented(halves[ci], 8) : [phash.bits(halves[ci], 8)];
      if (ci === 0) flat[i] = isFlat(thumbs[0], fb[0]) ? 1 : 0;
      for (let o = 0; o < c.orient; o++, v++) {
        full.set(words(fb[low ? 0 : o]), (i * K + v) * 8);
        coarse.set(words(cb[low ? 0 : o]), (i * K + v) * 2);
      }
    });
    q[i] = quality(thumbs[0], SIDE);
  }
  return { n, K, full, coarse, flat, q, offset };
}

// ---------------------------------------------------------------- pairs
function pc(x) {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/**
 * For each comparison [A, B] of the design: the list of (view a of i, view b of j) index pairs,
 * both ways round. Returns per comparison: { label, pairs: [[a, b], ...] }.
 */
function comparisons(design, offset) {
  const idx = new Map(design.classes.map((c, ci) => [c.name, ci]));
  return design.compare.map(([A, B]) => {
    const a = idx.get(A);
    const b = idx.get(B);
    const pairs = [];
    for (let o = 0; o < design.classes[b].orient; o++) {
      pairs.push([offset[a], offset[b] + o]);
      if (A !== B || o > 0) pairs.push([offset[b] + o, offset[a]]);
    }
    return { label: A === 'whole' ? B : `${A}~${B}`, group: design.classes[b].group ?? 'base', pairs };
  });
}

/** Every pair with some comparison within RECORD_COARSE on the coarse views: per comparison, the coarse and full distance. */
function recordPairs(h, comps) {
  const { n, K, full, coarse } = h;
  const flatPairs = comps.flatMap((c, ci) => c.pairs.map(([a, b]) => [a, b, ci]));
  const A = Int32Array.from(flatPairs.map((p) => p[0]));
  const B = Int32Array.from(flatPairs.map((p) => p[1]));
  const C = Int32Array.from(flatPairs.map((p) => p[2]));
  const P = A.length;
  const nc = comps.length;
  const out = [];
  const cmin = new Int32Array(nc);
  for (let i = 0; i < n; i++) {
    const bi = i * K * 2;
    for (let j = i + 1; j < n; j++) {
      const bj = j * K * 2;
      let any = false;
      cmin.fill(99);
      for (let p = 0; p < P; p++) {
        const x = bi + 2 * A[p];
        const y = bj + 2 * B[p];
        const d = pc(coarse[x] ^ coarse[y]) + pc(coarse[x + 1] ^ coarse[y + 1]);
        if (d < cmin[C[p]]) cmin[C[p]] = d;
        if (d <= RECORD_COARSE) any = true;
      }
      if (!any) continue;
      const fmin = new Int32Array(nc).fill(999);
      for (let p = 0; p < P; p++) {
        const x = (i * K + A[p]) * 8;
        const y = (j * K + B[p]) * 8;
        let d = 0;
        for (let w = 0; w < 8; w++) d += pc(full[x + w] ^ full[y + w]);
        if (d < fmin[C[p]]) fmin[C[p]] = d;
      }
      out.push({ i, j, coarse: Int32Array.from(cmin), full: fmin });
    }
  }
  return out;
}

// ---------------------------------------------------------------- rules
/**
 * A rule: (pair, comps, h) → whether the pair is joined. Base: find's (over the base
 * comparisons: the smallest coarse ≤ 10, then the smallest full ≤ 32). New groups: per comparison
 * coarse ≤ cc and full ≤ ft, and both pictures' quality ≥ q.
 */
function makeRule(spec) {
  // spec: "base" | "b<T>" | "r<T>" (rot views: coarse 10, full T) | "s<T>" | "q<Q>" composable with '+'; e.g. "b32+r28+s26+q20"
  const parts = { b: 32, r: 32, s: 32, q: 0, rq: 0, bc: 10, rc: 10, sc: 10 };
  for (const p of spec === 'base' ? [] : spec.split('+')) {
    const m = /^([a-z]+)(\d+(?:\.\d+)?)$/.exec(p);
    if (!m) throw new Error(`bad rule part ${p}`);
    parts[m[1]] = Number(m[2]);
  }
  return (pair, comps, h) => {
    const qOk = (min) => h.q[pair.i] >= min && h.q[pair.j] >= min;
    if (!qOk(parts.q)) return false;
    let bc = 99;
    let bf = 999;
    for (let c = 0; c < comps.length; c++) {
      const g = comps[c].group;
      if (g === 'base') {
        bc = Math.min(bc, pair.coarse[c]);
        bf = Math.min(bf, pair.full[c]);
      } else if (g === 'rot') {
        if (pair.coarse[c] <= parts.rc && pair.full[c] <= parts.r && qOk(parts.rq)) return true;
      } else if (g === 'strip') {
        if (pair.coarse[c] <= parts.sc && pair.full[c] <= parts.s && qOk(parts.rq)) return true;
      }
    }
    return bc <= parts.bc && bf <= parts.b;
  };
}

// ---------------------------------------------------------------- clusters and scores
function clustersOf(n, joined, flat) {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x) => (parent[x] === x ? x : (parent[x] = find(parent[x])));
  for (const p of joined) {
    if (flat[p.i] || flat[p.j]) continue;
    parent[find(p.i)] = find(p.j);
  }
  return Int32Array.from({ length: n }, (_, i) => find(i));
}

function scoreSet(set, root, flat) {
  const idx = new Map(set.names.map((f, i) => [f, i]));
  const gid = new Map();
  set.gt.groups.forEach((g, k) => g.forEach((f) => gid.set(f, k)));
  const cl = (f) => (flat[idx.get(f)] ? -1 - idx.get(f) : root[idx.get(f)]);
  // predicted pairs: members per cluster
  const members = new Map();
  set.names.forEach((f, i) => {
    if (flat[i]) return;
    const r = root[i];
    if (!members.has(r)) members.set(r, []);
    members.get(r).push(f);
  });
  let pred = 0;
  let tp = 0;
  const falses = [];
  for (const ms of members.values()) {
    for (let a = 0; a < ms.length; a++) {
      for (let b = a + 1; b < ms.length; b++) {
        pred++;
        const ga = gid.get(ms[a]);
        if (ga !== undefined && ga === gid.get(ms[b])) tp++;
        else falses.push(`${ms[a]} ~ ${ms[b]}`);
      }
    }
  }
  let truePairs = 0;
  const missed = [];
  for (const g of set.gt.groups) {
    truePairs += (g.length * (g.length - 1)) / 2;
  }
  const per = {};
  for (const v of set.gt.variants) {
    const s = (per[v.transform] ??= { n: 0, hit: 0 });
    s.n++;
    if (cl(v.file) === cl(v.original)) s.hit++;
    else missed.push(`${v.file}`);
  }
  return {
    precision: pred ? tp / pred : 1,
    recall: tp / truePairs,
    per: Object.fromEntries(Object.entries(per).map(([t, s]) => [t, s.hit / s.n])),
    falses,
    missed,
  };
}

// ---------------------------------------------------------------- main
const costOf = Number(option(args, '--cost', '0'));
if (costOf > 0) {
  // The hashing that pixels/fingerprint.ts does after the decode, timed in this process.
  const { viewThumbnails, hashViews } = await import('../../dist/src/hash/views.js');
  const { LOW_DETAIL } = await import('../../dist/src/hash/detail.js');
  const set = loadSet('library');
  const n = Math.min(costOf, set.names.length);
  const time = (edits) => {
    const opts = { orientations: true, crops: true, borders: true, edits };
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const src = set.pixels.subarray(i * M * M, (i + 1) * M * M);
      const thumbs = viewThumbnails(src, M, SIDE, opts, set.width[i] / set.height[i]);
      if (edits) void (detailResidual(thumbs[0], SIDE) < LOW_DETAIL);
      hashViews(phash, thumbs, 16, opts);
      hashViews(phash, halvedThumbnails(thumbs, SIDE), 8, opts);
    }
    return Number(process.hrtime.bigint() - t0) / 1e6 / n;
  };
  for (let r = 0; r < 3; r++) {
    const [a, b] = [time(false), time(true)];
    console.log(`hashing, ms per picture: 32 views ${a.toFixed(2)}, 38 views with the detail measure ${b.toFixed(2)} (× ${(b / a).toFixed(2)})`);
  }
  process.exit(0);
}
const sets = setNames.map(loadSet);
const f4 = (v) => v.toFixed(4);
for (const dn of designNames) {
  const design = DESIGNS[dn]();
  const K = design.classes.reduce((s, c) => s + c.orient, 0);
  const perSet = [];
  const t0 = Date.now();
  for (const set of sets) {
    const h = hashAll(set, design);
    const comps = comparisons(design, h.offset);
    const pairs = recordPairs(h, comps);
    perSet.push({ set, h, comps, pairs });
  }
  console.log(`design ${dn}: ${K} views, ${design.compare.length} comparisons (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  for (const rn of ruleNames) {
    const rule = makeRule(rn);
    const line = [];
    const detail = [];
    for (const { set, h, comps, pairs } of perSet) {
      const joined = pairs.filter((p) => rule(p, comps, h));
      const root = clustersOf(h.n, joined, h.flat);
      if (!set.gt) {
        // negatives: every pair in a cluster is false
        const sizes = new Map();
        for (let i = 0; i < h.n; i++) if (!h.flat[i]) sizes.set(root[i], (sizes.get(root[i]) ?? 0) + 1);
        let fp = 0;
        for (const s of sizes.values()) fp += (s * (s - 1)) / 2;
        const perM = (fp / ((h.n * (h.n - 1)) / 2)) * 1e6;
        line.push(`neg ${fp} = ${perM.toFixed(2)}/M`);
        if (fp && verbose) {
          const ex = joined.filter((p) => !h.flat[p.i] && !h.flat[p.j]).slice(0, verbose);
          detail.push(`  neg false: ${ex.map((p) => `${set.names[p.i]} ~ ${set.names[p.j]} [q ${h.q[p.i].toFixed(0)}/${h.q[p.j].toFixed(0)}; ${comps.map((c, k) => `${c.label} ${p.coarse[k]}/${p.full[k]}`).filter((s) => !/ (1[1-9]|[2-9]\d)\//.test(s)).join(' ')}]`).join('; ')}`);
        }
      } else {
        const s = scoreSet(set, root, h.flat);
        const low = Object.entries(s.per).filter(([, r]) => r < 1).sort((a, b) => a[1] - b[1]);
        line.push(`${set.name.slice(0, 3)} P ${f4(s.precision)} R ${f4(s.recall)}`);
        if (set.name === 'edits' || low.length) detail.push(`  ${set.name} per transform <1: ${low.map(([t, r]) => `${t} ${r.toFixed(2)}`).join(', ')}`);
        if (s.falses.length && verbose) detail.push(`  ${set.name} false (${s.falses.length}): ${s.falses.slice(0, verbose).join('; ')}`);
        if (s.missed.length && verbose) detail.push(`  ${set.name} missed: ${s.missed.slice(0, verbose).join('; ')}`);
      }
    }
    console.log(`  ${rn}: ${line.join(' | ')}`);
    for (const d of detail) console.log(d);
  }
  if (process.env.DUMP) {
    fs.writeFileSync(`${process.env.DUMP}-${dn}.json`, JSON.stringify(perSet.map(({ set, h, comps, pairs }) => ({ set: set.name, labels: comps.map((c) => c.label), groups: comps.map((c) => c.group), q: Array.from(h.q), flat: Array.from(h.flat), names: set.names, pairs: pairs.map((p) => [p.i, p.j, Array.from(p.coarse), Array.from(p.full)]) }))));
  }
}
