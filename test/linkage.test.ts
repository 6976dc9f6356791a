import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packRows, hammingRows, type PackedFingerprints } from '../src/hash/bits.js';
import { LINKAGES, type Linkage } from '../src/cluster/linkage.js';
import { clusterAtCut } from './helpers/linkage.js';
import { clusterFingerprints } from '../src/cluster/cluster.js';
import { largestDistance } from '../src/index/neighbours.js';
import { cutBits } from '../src/index/cut.js';
import { SHARED } from './helpers/env.js';

interface Fixture {
  nbits: number;
  fps: string[];
  cases: { method: Linkage; sim?: number; max_bits?: number; t: number; partition: number[][] }[];
}

const FIXTURES = path.join(SHARED, 'fixtures', 'linkage');

function packStrings(rows: string[], nbits: number): PackedFingerprints {
  return packRows(rows.flatMap((s) => [...s].map(Number)), rows.length, nbits);
}

function canonical(p: number[][]): string {
  return JSON.stringify(p.map((g) => [...g].sort((a, b) => a - b)).sort((a, b) => a[0]! - b[0]!));
}

/**
 * The deliberately simple reference: the textbook greedy algorithm, O(n³), recomputing every
 * cluster distance from the members each time, with the same tie rule as the engine (pairs
 * ordered by distance, then by the clusters' smallest rows lo < hi).
 */
function naiveCut(fps: PackedFingerprints, method: Linkage, limitBits: number): number[][] {
  let clusters = Array.from({ length: fps.count }, (_, i) => [i]);
  for (;;) {
    let best: { d: number; lo: number; hi: number; a: number; b: number } | undefined;
    for (let a = 0; a < clusters.length; a++) {
      for (let b = a + 1; b < clusters.length; b++) {
        const ds: number[] = [];
        for (const i of clusters[a]!) for (const j of clusters[b]!) ds.push(hammingRows(fps, i, fps, j));
        const d =
          method === 'single' ? Math.min(...ds) : method === 'complete' ? Math.max(...ds) : ds.reduce((s, v) => s + v, 0) / ds.length;
        const ra = Math.min(...clusters[a]!);
        const rb = Math.min(...clusters[b]!);
        const [lo, hi] = ra < rb ? [ra, rb] : [rb, ra];
        if (!best || d < best.d || (d === best.d && (lo < best.lo || (lo === best.lo && hi < best.hi)))) {
          best = { d, lo, hi, a, b };
        }
      }
    }
    if (!best || best.d > limitBits) return clusters;
    const merged = clusters[best.a]!.concat(clusters[best.b]!);
    clusters = clusters.filter((_, k) => k !== best!.a && k !== best!.b);
    clusters.push(merged);
  }
}

describe('linkage against scipy (shared/fixtures/linkage)', () => {
  const files = fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')) : [];
  it('has fixtures to check', (t) => {
    if (!files.length) t.skip(`no fixtures at ${FIXTURES}`);
    else assert.ok(files.length >= 5);
  });
  for (const file of files) {
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as Fixture;
    const fps = packStrings(fx.fps, fx.nbits);
    const maxBits = largestDistance(fps);
    for (const c of fx.cases) {
      const label = `${file} ${c.method} ${c.sim !== undefined ? `sim=${c.sim}` : `max_bits=${c.max_bits}`}`;
      it(label, () => {
        const t = c.sim !== undefined ? c.sim * (maxBits / fx.nbits) : c.max_bits! / fx.nbits;
        assert.ok(Math.abs(t - c.t) < 1e-12, `cut ${t} vs scipy's ${c.t}`);
        const got = clusterAtCut(fps, c.method, cutBits(t, fx.nbits));
        assert.equal(canonical(got), canonical(c.partition));
      });
    }
  }
});

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Random fingerprints drawn from a few prototypes with a few flipped bits: many equal distances. */
function tiedInstance(rnd: () => number, n: number, nbits: number): PackedFingerprints {
  const protos = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Array.from({ length: nbits }, (): number => (rnd() < 0.5 ? 1 : 0)));
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = protos[Math.floor(rnd() * protos.length)]!.slice();
    const flips = Math.floor(rnd() * 4);
    for (let f = 0; f < flips; f++) {
      const k = Math.floor(rnd() * nbits);
      p[k] = 1 - p[k]!;
    }
    rows.push(...p);
  }
  return packRows(rows, n, nbits);
}

describe('linkage engine against the naive reference (random inputs, heavy ties)', () => {
  for (const method of LINKAGES) {
    it(`${method}: 300 random instances × 4 cuts`, () => {
      const rnd = seeded(method.length * 7919);
      for (let trial = 0; trial < 300; trial++) {
        const nbits = rnd() < 0.5 ? 8 : 16;
        const fps = tiedInstance(rnd, 2 + Math.floor(rnd() * 28), nbits);
        for (const limit of [0, 1, 2.5, 1 + Math.floor(rnd() * nbits)]) {
          assert.equal(
            canonical(clusterAtCut(fps, method, limit)),
            canonical(naiveCut(fps, method, limit)),
            `trial ${trial}, ${fps.count} × ${nbits} bits, limit ${limit}`,
          );
        }
      }
    });
  }
});

describe('clustering is independent of the input order', () => {
  it('gives byte-identical clusters for shuffled databases', () => {
    const rnd = seeded(99);
    const n = 60;
    const fps = tiedInstance(rnd, n, 16);
    const files = Array.from({ length: n }, (_, i) => `/photos/${String(i).padStart(3, '0')}.jpg`);
    for (const method of LINKAGES) {
      const base = JSON.stringify(clusterFingerprints(files, fps, { cut: 0.3, absolute: false, linkage: method }).clusters);
      for (let s = 0; s < 5; s++) {
        const perm = files.map((_, i) => i).sort(() => rnd() - 0.5);
        const bits: number[] = [];
        for (const i of perm) for (let b = 0; b < 16; b++) bits.push((fps.data[i]! >>> b) & 1);
        const shuffled = clusterFingerprints(perm.map((i) => files[i]!), packRows(bits, n, 16), { cut: 0.3, absolute: false, linkage: method });
        assert.equal(JSON.stringify(shuffled.clusters), base, `${method}, shuffle ${s}`);
      }
    }
  });
});
