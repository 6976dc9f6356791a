/**
 * Distances between pictures that may be rotated, mirrored or cropped copies of each other: the
 * smallest distance between one picture's upright fingerprint and any of the other's views (its
 * orientations, its central crops; see src/hash/views.ts), in either direction — so the distance
 * is symmetric even where views are not exact permutations of the bits, as phash's median makes
 * them. `views` holds K rows per picture: row K·i + v is view v of picture i. The last `self`
 * views of each picture (the strip views of hash/views.ts; 0 without them) are compared only with
 * the same view of the other picture: d(view v of i, view v of j). Every comparison but the two
 * upright whole views (view 0 against view 0) adds a penalty (`penalty`, a share of the bits:
 * hash/views.ts, VIEW_PENALTY; 6 of 256 bits, 1 of 64 on the coarse views, for find's
 * fingerprints): two pictures have one chance of an accidental match upright and whole, and some
 * 75 through the other views. Pure computation.
 */
import { hamming, hammingRows, selectRows, type PackedFingerprints } from '../hash/bits.js';
import { penaltyBits } from '../hash/views.js';
import { blockPairsWithin, keyedPairsAmong, MAX_TABLES, sampledPairsAmong, tablesFor, uniquePairs } from './blocks.js';
import { bestChunking, buildIndex, searchWithin } from './mih.js';
import { PairBuilder, type PairList } from './pairs.js';

/** The view-invariant distance of pictures i and j (`penalty`: a share of the bits, added to every comparison but view 0 against view 0). */
function viewDistance(upright: PackedFingerprints, views: PackedFingerprints, perFile: number, self = 0, penalty = 0): (i: number, j: number) => number {
  const any = perFile - self;
  const p = penaltyBits(penalty, views.nbits);
  return (i, j) => {
    let best = Math.min(hammingRows(upright, i, views, perFile * j), hammingRows(views, perFile * i, upright, j));
    for (let v = 1; v < any && best > p; v++) {
      best = Math.min(best, p + Math.min(hammingRows(upright, i, views, perFile * j + v), hammingRows(views, perFile * i + v, upright, j)));
    }
    for (let v = any; v < perFile && best > p; v++) best = Math.min(best, p + hammingRows(views, perFile * i + v, views, perFile * j + v));
    return best;
  };
}

/**
 * The distance of pictures i and j that clustering uses: over their views where views are
 * stored (perFile > 1), else the Hamming distance of their fingerprints.
 */
export function pictureDistance(upright: PackedFingerprints, views: PackedFingerprints | undefined, perFile: number, self = 0, penalty = 0): (i: number, j: number) => number {
  return views && perFile > 1 ? viewDistance(upright, views, perFile, self, penalty) : (i, j) => hammingRows(upright, i, upright, j);
}

/**
 * How picture j matches picture i: the distance (the same number as pictureDistance's), the view
 * that gave it, and whose view it is — `of: 'i'` when j's upright fingerprint matched view `view`
 * of i (j looks like that view of i), `of: 'j'` when i's upright matched view `view` of j. View 0
 * (the two upright) wins ties; without views, always view 0. A strip view (the last `self`)
 * matches view for view: `of: 'i'`. The bits include the penalty of a view other than view 0.
 */
export function bestView(
  upright: PackedFingerprints,
  views: PackedFingerprints | undefined,
  perFile: number,
  self = 0,
  penalty = 0,
): (i: number, j: number) => { bits: number; view: number; of: 'i' | 'j' } {
  if (!views || perFile <= 1) return (i, j) => ({ bits: hammingRows(upright, i, upright, j), view: 0, of: 'i' });
  const any = perFile - self;
  const p = penaltyBits(penalty, views.nbits);
  return (i, j) => {
    let best = { bits: Infinity, view: 0, of: 'i' as 'i' | 'j' };
    for (let v = 0; v < any && best.bits > (v === 0 ? 0 : p); v++) {
      const extra = v === 0 ? 0 : p;
      const ofI = extra + hammingRows(upright, j, views, perFile * i + v);
      const ofJ = extra + hammingRows(views, perFile * j + v, upright, i);
      if (ofI < best.bits) best = { bits: ofI, view: v, of: 'i' };
      if (ofJ < best.bits) best = { bits: ofJ, view: v, of: 'j' };
    }
    for (let v = any; v < perFile && best.bits > p; v++) {
      const both = p + hammingRows(views, perFile * i + v, views, perFile * j + v);
      if (both < best.bits) best = { bits: both, view: v, of: 'i' };
    }
    return best;
  };
}

/** Every pair i < j whose view-invariant distance (with `penalty`, as pictureDistance) is at most cutBits, ordered by (i, j). */
export function viewPairsWithin(upright: PackedFingerprints, views: PackedFingerprints, perFile: number, cutBits: number, self = 0, penalty = 0): PairList {
  const n = upright.count;
  const any = perFile - self;
  const p = penaltyBits(penalty, views.nbits);
  const best = new Map<number, number>(); // i * n + j → smallest distance seen
  const note = (i: number, j: number, d: number): void => {
    if (i === j) return;
    const key = i < j ? i * n + j : j * n + i;
    const seen = best.get(key);
    if (seen === undefined || d < seen) best.set(key, d);
  };
  const plan = bestChunking(views.count, upright.nbits, cutBits);
  if (cutBits >= 0 && plan.cost < 0.35 * views.count) {
    // Each upright fingerprint is a query against the index of all views: this finds
    // d(up_i, view_j) for every ordered pair, both directions of the definition.
    const index = buildIndex(views, plan.m, cutBits);
    for (let i = 0; i < n; i++) {
      searchWithin(index, upright.data, i * upright.words, cutBits, -1, (r, d) => {
        const v = r % perFile;
        const bits = v === 0 ? d : d + p;
        if (v < any && bits <= cutBits) note(i, Math.floor(r / perFile), bits);
      });
      // A strip view finds the same strip view of the other picture (both ways round at once).
      for (let v = any; v < perFile && cutBits - p >= 0; v++) {
        searchWithin(index, views.data, (perFile * i + v) * views.words, cutBits - p, -1, (r, d) => {
          if (r % perFile === v) note(i, Math.floor(r / perFile), d + p);
        });
      }
    }
  } else if (cutBits >= 0) {
    const dist = viewDistance(upright, views, perFile, self, penalty);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const d = dist(i, j);
      if (d <= cutBits) note(i, j, d);
    }
  }
  const keys = Float64Array.from(best.keys()).sort();
  const out = new PairBuilder();
  for (const key of keys) out.push(Math.floor(key / n), key % n, best.get(key)!);
  return out.build();
}

/**
 * The pairs i < j that clustering joins when coarse fingerprints are stored: the candidates
 * that exact-key blocks of the full fingerprints find (a view of one within cutBits, less the
 * view penalty, of the other's upright fingerprint, agreeing with it on a key; with a penalty
 * also the two upright fingerprints within cutBits, agreeing on a key of sampled bits;
 * index/blocks.ts), kept when their
 * view-invariant distance is within coarseCutBits on the coarse fingerprints too (as search and
 * compare require: index/cut.ts, coarseCutFor). Ordered by (i, j), with their distance on the
 * full fingerprints (at most cutBits). A pair within the cut whose close views agree on no key
 * is not found: on the accuracy benchmarks that loses no pair of copies of the library and
 * make-variants sets at find's default cut (test/bench/accuracy-find.mjs). Cuts so loose that
 * keys would not pay (index/blocks.ts, MAX_TABLES) get the exact search.
 */
export function verifiedPairsWithin(
  upright: PackedFingerprints,
  views: PackedFingerprints,
  coarseViews: PackedFingerprints,
  perFile: number,
  cutBits: number,
  coarseCutBits: number,
  self = 0,
  penalty = 0,
): PairList {
  // A view other than view 0 must come within the cut less its penalty: the keys look for that.
  const p = penaltyBits(penalty, views.nbits);
  const viewCut = cutBits - p;
  if (tablesFor(viewCut, views.nbits) > MAX_TABLES) return exactVerifiedPairsWithin(upright, views, coarseViews, perFile, cutBits, coarseCutBits, self, penalty);
  const n = upright.count;
  // Views against uprights; each strip view (the last `self`) against the same strip view of the
  // others: those rows indexed on their own, as uprights with no other views. With a penalty,
  // the upright pairs within the whole cut on keys of their own, sampled bits (blocks.ts,
  // sampledPairsAmong: as many keys as that cut needs).
  const lists = [blockPairsWithin(upright, views, perFile, viewCut, undefined, undefined, self)];
  if (p > 0) lists.push(sampledPairsAmong(upright, cutBits));
  for (let v = perFile - self; v < perFile; v++) {
    const strips = selectRows(views, Array.from({ length: n }, (_, i) => i * perFile + v));
    lists.push(keyedPairsAmong(strips, viewCut));
  }
  const coarseLimit = Math.floor(coarseCutBits);
  const coarseP = penaltyBits(penalty, coarseViews.nbits);
  const cw = coarseViews.words;
  const dist = viewDistance(upright, views, perFile, self, penalty);
  const out = new PairBuilder();
  const candidates = lists.length === 1 ? lists[0]! : uniquePairs(lists, n);
  for (let p = 0; p < candidates.length; p++) {
    const i = candidates.a[p]!;
    const j = candidates.b[p]!;
    if (viewMin(coarseViews.data, i * perFile * cw, coarseViews.data, j * perFile * cw, perFile, cw, coarseLimit, self, coarseP) > coarseLimit) continue;
    // The keys propose, the pictures' distance decides (as search and compare measure it).
    const d = dist(i, j);
    if (d <= cutBits) out.push(i, j, d);
  }
  return out.build();
}

/**
 * The same pairs as verifiedPairsWithin would find with keys that never miss: every pair within
 * coarseCutBits on the coarse fingerprints (an exact multi-index search) and within cutBits on
 * the full ones. Its work grows about as n² (4 s at 10,000 pictures of 32 views, 40 s at
 * 100,000); kept as the reference that tests and test/bench/cluster.mjs compare the keys with.
 * Both distances with the view penalty (`penalty`, a share of the bits).
 */
export function exactVerifiedPairsWithin(
  upright: PackedFingerprints,
  views: PackedFingerprints,
  coarseViews: PackedFingerprints,
  perFile: number,
  cutBits: number,
  coarseCutBits: number,
  self = 0,
  penalty = 0,
): PairList {
  const n = upright.count;
  const coarseUpright = selectRows(coarseViews, Array.from({ length: n }, (_, i) => i * perFile));
  const candidates = viewPairsWithin(coarseUpright, coarseViews, perFile, Math.floor(coarseCutBits), self, penalty);
  const dist = viewDistance(upright, views, perFile, self, penalty);
  const out = new PairBuilder();
  for (let p = 0; p < candidates.length; p++) {
    const i = candidates.a[p]!;
    const j = candidates.b[p]!;
    const d = dist(i, j);
    if (d <= cutBits) out.push(i, j, d);
  }
  return out.build();
}

/** The largest view-invariant distance between any two pictures (every pair is looked at). */
export function viewLargestDistance(upright: PackedFingerprints, views: PackedFingerprints, perFile: number, self = 0, penalty = 0): number {
  const dist = viewDistance(upright, views, perFile, self, penalty);
  let max = 0;
  for (let i = 0; i < upright.count; i++) for (let j = i + 1; j < upright.count; j++) max = Math.max(max, dist(i, j));
  return max;
}

/** Stored pictures as the distances see them: upright rows, and K views (full and coarse) per picture. */
export interface StoredPictures {
  upright: PackedFingerprints;
  views?: PackedFingerprints;
  coarse?: PackedFingerprints;
  perFile: number;
  /** The last views of each picture that match view for view only (strip views); 0 when absent. */
  selfViews?: number;
  /** The view penalty, a share of the bits (hash/views.ts, viewPenaltyOf); 0 when absent. */
  viewPenalty?: number;
}

/** A picture that is not stored: its upright bits, its K views and their coarse form (as a record holds them). */
export interface QueryPicture {
  upright: Uint32Array;
  views?: Uint32Array;
  coarse?: Uint32Array;
}

/**
 * The smallest distance between one picture's view 0 and the other's views, either way round (K
 * views each, at `at`), `penalty` bits added to every comparison but view 0 against view 0. A
 * result above `limit` says only that the distance is beyond it.
 */
export function viewMin(q: Uint32Array, qAt: number, s: Uint32Array, sAt: number, perFile: number, words: number, limit: number, self = 0, penalty = 0): number {
  let best = hamming(q, qAt, s, sAt, words, limit);
  const any = perFile - self;
  for (let v = 1; v < any && best > penalty; v++) {
    const bound = Math.min(best, limit) - penalty;
    if (bound < 0) break;
    best = Math.min(best, penalty + Math.min(hamming(q, qAt, s, sAt + v * words, words, bound), hamming(q, qAt + v * words, s, sAt, words, bound)));
  }
  for (let v = any; v < perFile && best > penalty; v++) {
    const bound = Math.min(best, limit) - penalty;
    if (bound < 0) break;
    best = Math.min(best, penalty + hamming(q, qAt + v * words, s, sAt + v * words, words, bound));
  }
  return best;
}

/**
 * The distance in bits from a query picture to every stored picture within `cutBits`, measured
 * as pictureDistance measures two stored pictures (the same number, so that search, compare
 * and clustering agree). With coarse fingerprints, stored pictures farther than `coarseCutBits`
 * from the query on those are passed by without a look at their full fingerprints. Rows in
 * order; pure computation.
 */
export function distancesToQuery(stored: StoredPictures, query: QueryPicture, cutBits: number, coarseCutBits = Infinity): { row: number; bits: number }[] {
  const out: { row: number; bits: number }[] = [];
  for (let row = 0; row < stored.upright.count; row++) {
    const bits = distanceToQuery(stored, query, row, cutBits, coarseCutBits);
    if (bits <= cutBits) out.push({ row, bits });
  }
  return out;
}

/**
 * What distancesToQuery decides for one stored row: its distance in bits from the query, or NaN
 * when the coarse fingerprints pass it by; the row is kept when the result is ≤ cutBits. Searches that look at candidate rows only
 * (index/picture-search.ts, index/live.ts) decide each one with this, so that they keep exactly
 * the rows the scan keeps, with the same distances.
 */
export function distanceToQuery(stored: StoredPictures, query: QueryPicture, row: number, cutBits: number, coarseCutBits = Infinity): number {
  const { upright, views, coarse, perFile } = stored;
  const self = stored.selfViews ?? 0;
  const penalty = stored.viewPenalty ?? 0;
  const useViews = views && perFile > 1 && query.views;
  if (useViews && coarse && query.coarse && Number.isFinite(coarseCutBits)) {
    if (viewMin(query.coarse, 0, coarse.data, row * perFile * coarse.words, perFile, coarse.words, coarseCutBits, self, penaltyBits(penalty, coarse.nbits)) > coarseCutBits) return NaN;
  }
  return useViews
    ? viewMin(query.views!, 0, views.data, row * perFile * views.words, perFile, views.words, cutBits, self, penaltyBits(penalty, views.nbits))
    : hamming(query.upright, 0, upright.data, row * upright.words, upright.words, cutBits);
}
