/**
 * From a database's fingerprints to clusters of paths: fixes the row order (sorted paths), turns
 * the user's cut (SIM) into a cut in bits, and runs the exact linkage. Pure computation.
 *
 * One value, three forms: `cut` is the user's SIM; `absoluteCut` the cut as a fraction of the
 * fingerprint's bits (scipy's t: SIM × largest distance / nbits, or SIM with --absolute);
 * `cutBits` the same in bits (index/cut.ts), which merge heights are compared with.
 */
import { bitString, selectRows, type PackedFingerprints } from '../hash/bits.js';
import { clusterPairs, type Linkage } from './linkage.js';
import { PairBuilder, type PairList } from '../index/pairs.js';
import { coarseCutFor, cutBits as toCutBits } from '../index/cut.js';
import { largestDistance as largestDistance_, pairsWithin } from '../index/neighbours.js';
import { pictureDistance, verifiedPairsWithin, viewLargestDistance, viewPairsWithin } from '../index/views.js';

interface CutOptions {
  /** The user's SIM: a fraction of the largest pairwise distance, or of the bits with `absolute`. */
  cut: number;
  /** The cut is a fraction of the fingerprint's bits instead of the largest distance. */
  absolute: boolean;
  linkage: Linkage;
  /** Cluster flat pictures too (they are left out by default). */
  includeFlat?: boolean;
}

/** What a database may add to the fingerprints. */
interface FingerprintExtras {
  /** K rows per picture (row K·i + v: view v): distances become the minimum over views. */
  views?: PackedFingerprints;
  /** K. */
  viewsPerFile?: number;
  /** The last views of each picture that match view for view only (index/views.ts). */
  selfViews?: number;
  /** The view penalty, a share of the bits (hash/views.ts, viewPenaltyOf). */
  viewPenalty?: number;
  /** 1 for a flat picture. */
  flat?: Uint8Array;
  /** K rows per picture like `views`, at fewer bits: candidate pairs are found on these. */
  coarse?: PackedFingerprints;
  /** Cluster only the rows of these files (the others are not looked at). */
  only?: ReadonlySet<string>;
  /**
   * Pairs of paths marked "not duplicates": never a candidate pair, and at an infinite distance
   * for average and complete linkage (so no cluster holds both; single linkage may still chain
   * them through a third picture).
   */
  apart?: readonly (readonly [string, string])[];
}

export interface Clustering {
  /** Every cluster with more than one member: paths sorted, clusters ordered by first path. */
  clusters: string[][];
  /** The cut as a fraction of the fingerprint's bits (scipy's t; NaN for clusters read back). */
  absoluteCut: number;
  /** Largest pairwise distance in bits (computed only when the cut is relative). */
  largestDistance: number | undefined;
  /** Number of fingerprints clustered. */
  count: number;
  /** Flat pictures left out. */
  flatLeftOut: number;
}

/** Row order by path (code-unit order), then by bits for the rare duplicate path. */
function canonicalOrder(files: readonly string[], fps: PackedFingerprints): number[] {
  const idx = files.map((_, i) => i);
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return idx.sort((i, j) => cmp(files[i]!, files[j]!) || cmp(bitString(fps, i), bitString(fps, j)));
}

/** The cut as a fraction of the bits for these options, and the largest distance if it was needed. */
function absoluteCutOf(largest: () => number, nbits: number, opts: CutOptions): { absoluteCut: number; largestDistance: number | undefined } {
  if (opts.absolute) return { absoluteCut: opts.cut, largestDistance: undefined };
  const m = largest();
  // scipy: t = SIM × max(pdist), pdist in fractions of bits.
  return { absoluteCut: opts.cut * (m / nbits), largestDistance: m };
}

/** Rows of a K-rows-per-picture set for the given pictures, in that order. */
function selectViews(views: PackedFingerprints, perFile: number, pictures: readonly number[]): PackedFingerprints {
  // Rows are stored sorted by path: most often the order is the file's own, and a copy of every
  // view (a gigabyte at a million pictures) is not needed.
  if (pictures.length * perFile === views.count && pictures.every((p, i) => p === i)) return views;
  // The copy in shared memory, as the database reader's rows are: the key search's worker thread
  // reads it without a copy of its own (index/blocks.ts).
  const { words } = views;
  const data = new Uint32Array(new SharedArrayBuffer(4 * pictures.length * perFile * words));
  pictures.forEach((p, i) => data.set(views.data.subarray(p * perFile * words, (p + 1) * perFile * words), i * perFile * words));
  return { count: pictures.length * perFile, nbits: views.nbits, words, data };
}

const pairKey = (i: number, j: number, n: number): number => (i < j ? i * n + j : j * n + i);

/** The "not duplicates" pairs as keys of rows of `order` (pairs with a path not clustered are left out). */
function apartRows(apart: FingerprintExtras['apart'], files: readonly string[], order: readonly number[]): Set<number> {
  const out = new Set<number>();
  if (!apart?.length) return out;
  const row = new Map<string, number>();
  order.forEach((r, i) => row.set(files[r]!, i));
  for (const [a, b] of apart) {
    const i = row.get(a);
    const j = row.get(b);
    if (i !== undefined && j !== undefined && i !== j) out.add(pairKey(i, j, order.length));
  }
  return out;
}

/** `pairs` without those in `apart`. */
function withoutPairs(pairs: PairList, apart: ReadonlySet<number>, n: number): PairList {
  const out = new PairBuilder();
  for (let p = 0; p < pairs.length; p++) {
    const i = pairs.a[p]!;
    const j = pairs.b[p]!;
    if (!apart.has(pairKey(i, j, n))) out.push(i, j, pairs.bits[p]!);
  }
  return out.build();
}

/**
 * The clusters of the fingerprints `fps` (one row per path of `files`) under `opts`; with views
 * in `extras`, distances are the minimum over views, and flat pictures are left out unless asked.
 * Returns the clusters of two or more paths and the cut as it was applied. Throws nothing.
 */
export function clusterFingerprints(
  files: readonly string[],
  fps: PackedFingerprints,
  opts: CutOptions,
  extras: FingerprintExtras = {},
): Clustering {
  const only = extras.only;
  const named = (i: number): boolean => !only || only.has(files[i]!);
  const keep = (i: number): boolean => opts.includeFlat || !extras.flat || extras.flat[i] !== 1;
  const candidates = canonicalOrder(files, fps).filter(named);
  const order = candidates.filter(keep);
  const sorted = selectRows(fps, order);
  const k = extras.viewsPerFile ?? 1;
  const self = extras.selfViews ?? 0;
  const penalty = extras.viewPenalty ?? 0;
  const views = extras.views && k > 1 ? selectViews(extras.views, k, order) : undefined;
  const { absoluteCut, largestDistance } = absoluteCutOf(
    () => (views ? viewLargestDistance(sorted, views, k, self, penalty) : largestDistance_(sorted)),
    fps.nbits,
    opts,
  );
  const cutBits = toCutBits(absoluteCut, fps.nbits);
  const coarse = views && extras.coarse ? selectViews(extras.coarse, k, order) : undefined;
  const pairs = coarse
    ? verifiedPairsWithin(sorted, views!, coarse, k, Math.floor(cutBits), toCutBits(coarseCutFor(absoluteCut), coarse.nbits), self, penalty)
    : views
      ? viewPairsWithin(sorted, views, k, Math.floor(cutBits), self, penalty)
      : pairsWithin(sorted, Math.floor(cutBits));
  const distance = pictureDistance(sorted, views, k, self, penalty);
  const apart = apartRows(extras.apart, files, order);
  const groups = apart.size
    ? clusterPairs(sorted, opts.linkage, cutBits, withoutPairs(pairs, apart, order.length), (i, j) =>
        apart.has(pairKey(i, j, order.length)) ? Infinity : distance(i, j),
      )
    : clusterPairs(sorted, opts.linkage, cutBits, pairs, distance);
  const clusters = groups.filter((g) => g.length > 1).map((g) => g.map((row) => files[order[row]!]!));
  return { clusters, absoluteCut, largestDistance, count: sorted.count, flatLeftOut: candidates.length - sorted.count };
}
