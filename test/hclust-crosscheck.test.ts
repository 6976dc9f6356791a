/**
 * An independent cross-check of the clustering engine: on random fingerprints whose merges are
 * free of ties, our exact linkage (clusterFingerprints) and ml-hclust's AGNES, an O(n³) textbook
 * implementation written by others, must cut to the same partitions — for average, single and
 * complete linkage, at cuts on and between the merge heights.
 *
 * Without ties the greedy algorithm's dendrogram is unique, so the two must agree whatever their
 * tie rules. Whether a data set is tie-free is decided by a plain replay of the greedy algorithm
 * (below), which only accepts or rejects the data set; the partitions compared are the engine's
 * and ml-hclust's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agnes } from 'ml-hclust';
import { hammingRows, packRows, type PackedFingerprints } from '../src/hash/bits.js';
import { clusterFingerprints } from '../src/cluster/cluster.js';
import type { Linkage } from '../src/cluster/linkage.js';
import { splitmix32 } from './helpers/random.js';

const N = 60;
const NBITS = 64;
/** Merge heights are compared up to this many bits: the planted copies (random pictures are ~32 apart). */
const LIMIT = 16.5;
/** Cuts are made this far below and above each merge height (far above the cut's 1e-9 relative slack). */
const NEAR = 1e-4;
/** Two linkage distances closer than this count as tied: every gap leaves room for the cuts NEAR either side. */
const TIE = 10 * NEAR;
const METHODS: readonly Linkage[] = ['average', 'single', 'complete'];

/**
 * N random fingerprints of which some are planted near-copies: six families, each a random
 * picture and copies of its members, each copy with its own number of bits flipped (1–16, no
 * two copies alike, which makes ties rarer); rows shuffled.
 */
function fingerprints(seed: number): number[][] {
  const next = splitmix32(seed);
  const below = (n: number): number => next() % n;
  const random = (): number[] => Array.from({ length: NBITS }, () => next() & 1);
  const rows: number[][] = [];
  const flipCounts = Array.from({ length: 16 }, (_, i) => i + 1);
  for (const size of [4, 3, 3, 2, 2, 2]) {
    const family = [random()];
    while (family.length < size) {
      const copy = [...family[below(family.length)]!];
      const flips = flipCounts.splice(below(flipCounts.length), 1)[0]!;
      const bits = Array.from({ length: NBITS }, (_, i) => i);
      for (let k = 0; k < flips; k++) {
        const at = k + below(NBITS - k);
        [bits[k], bits[at]] = [bits[at]!, bits[k]!];
        copy[bits[k]!] ^= 1;
      }
      family.push(copy);
    }
    rows.push(...family);
  }
  while (rows.length < N) rows.push(random());
  for (let i = rows.length - 1; i > 0; i--) {
    const j = below(i + 1);
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return rows;
}

/**
 * The greedy algorithm replayed plainly (every cluster distance recomputed from the members)
 * up to LIMIT: its merge heights if every merge at or below LIMIT was the one clear minimum, at a
 * height of its own, and the first merge above LIMIT is clear of it; undefined if not (a tie).
 */
function tieFreeHeights(d: number[][], method: Linkage): number[] | undefined {
  let clusters = d.map((_, i) => [i]);
  const heights: number[] = [];
  for (;;) {
    const all: { h: number; a: number; b: number }[] = [];
    for (let a = 0; a < clusters.length; a++) {
      for (let b = a + 1; b < clusters.length; b++) {
        const ds = clusters[a]!.flatMap((i) => clusters[b]!.map((j) => d[i]![j]!));
        const h = method === 'single' ? Math.min(...ds) : method === 'complete' ? Math.max(...ds) : ds.reduce((s, x) => s + x, 0) / ds.length;
        all.push({ h, a, b });
      }
    }
    all.sort((x, y) => x.h - y.h);
    const [best, second] = all;
    if (!best || best.h > LIMIT + TIE) return heights;
    if (Math.abs(best.h - LIMIT) <= TIE) return undefined;
    if (second && second.h - best.h <= TIE) return undefined; // two candidates: the dendrogram is not unique
    if (heights.length && best.h - heights[heights.length - 1]! <= TIE) return undefined; // a merge height seen before
    heights.push(best.h);
    const merged = clusters[best.a]!.concat(clusters[best.b]!);
    clusters = clusters.filter((_, k) => k !== best.a && k !== best.b);
    clusters.push(merged);
  }
}

/**
 * Cuts for a method: just below and just above each merge height, on it where heights are whole
 * bits, and LIMIT. A merge made at another height than ml-hclust's shows at one of them.
 */
function cutsFor(heights: readonly number[], method: Linkage): number[] {
  const cuts: number[] = [];
  for (const h of heights) {
    cuts.push(h - NEAR);
    if (method !== 'average') cuts.push(h);
    cuts.push(h + NEAR);
  }
  return [...cuts, LIMIT];
}

/** A partition as text: groups of two or more, members ascending, groups by first member. */
function canonical(groups: readonly (readonly number[])[]): string {
  return JSON.stringify(
    groups
      .filter((g) => g.length > 1)
      .map((g) => [...g].sort((a, b) => a - b))
      .sort((a, b) => a[0]! - b[0]!),
  );
}

interface DataSet {
  seed: number;
  fps: PackedFingerprints;
  distances: number[][];
  heights: Record<Linkage, number[]>;
}

/** The first `count` seeds from 1 whose fingerprints are tie-free for all three methods, and worth checking. */
function tieFreeDataSets(count: number): DataSet[] {
  const found: DataSet[] = [];
  for (let seed = 1; seed <= 2000 && found.length < count; seed++) {
    const rows = fingerprints(seed);
    const fps = packRows(rows.flat(), N, NBITS);
    const distances = rows.map((_, i) => rows.map((_, j) => hammingRows(fps, i, fps, j)));
    const heights = {} as Record<Linkage, number[]>;
    let ok = true;
    for (const m of METHODS) {
      const h = tieFreeHeights(distances, m);
      if (!h) {
        ok = false;
        break;
      }
      heights[m] = h;
    }
    // Worth checking: several merges for each method, and not the same number for all three.
    const counts = METHODS.map((m) => heights[m]?.length ?? 0);
    if (ok && Math.min(...counts) >= 8 && new Set(counts).size > 1) found.push({ seed, fps, distances, heights });
  }
  assert.equal(found.length, count, `${count} tie-free data sets among seeds 1–2000`);
  return found;
}

for (const data of tieFreeDataSets(3)) {
  describe(`the engine against ml-hclust, on tie-free random fingerprints (seed ${data.seed})`, () => {
    const files = Array.from({ length: N }, (_, i) => `/pictures/f${String(i).padStart(2, '0')}.jpg`);

    it('the data set is worth checking: planted copies, several merges, the methods disagree somewhere', (t) => {
      t.diagnostic(`merges ≤ ${LIMIT} bits: ${METHODS.map((m) => `${m} ${data.heights[m].length}`).join(', ')}`);
      for (const m of METHODS) assert.ok(data.heights[m].length >= 8, `${m}: ${data.heights[m].length} merges ≤ ${LIMIT} bits`);
      const at = (m: Linkage): string => canonical(agnes(data.distances, { method: m, isDistanceMatrix: true }).cut(LIMIT).map((c) => c.indices()));
      assert.notEqual(at('single'), at('complete'), `single and complete linkage cut at ${LIMIT} bits differ`);
    });

    for (const method of METHODS) {
      it(`${method} linkage: the same partition at every cut`, () => {
        const tree = agnes(data.distances, { method, isDistanceMatrix: true });
        // ml-hclust's merge heights below the limit are those of the plain replay.
        const theirs: number[] = [];
        tree.traverse((c) => {
          if (!c.isLeaf && c.height <= LIMIT) theirs.push(c.height);
        });
        theirs.sort((a, b) => a - b);
        assert.equal(theirs.length, data.heights[method].length);
        theirs.forEach((h, k) => assert.ok(Math.abs(h - data.heights[method][k]!) < 1e-9, `height ${h} vs ${data.heights[method][k]}`));
        const cuts = cutsFor(data.heights[method], method);
        const seen = new Set<string>();
        for (const t of cuts) {
          const want = canonical(tree.cut(t).map((c) => c.indices()));
          const got = clusterFingerprints(files, data.fps, { cut: t / NBITS, absolute: true, linkage: method, includeFlat: true });
          const ours = canonical(got.clusters.map((g) => g.map((f) => files.indexOf(f))));
          assert.equal(ours, want, `${method} cut at ${t} bits`);
          seen.add(ours);
        }
        assert.equal(seen.size, data.heights[method].length + 1, 'each merge gives a partition of its own');
      });
    }
  });
}
