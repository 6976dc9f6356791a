/**
 * Neighbours in Hamming space: the pairs of fingerprints within a distance, and the largest
 * pairwise distance. Pure computation on packed fingerprints.
 */
import { hamming, type PackedFingerprints } from '../hash/bits.js';
import { bestChunking, buildIndex, joinWithin, searchWithin } from './mih.js';
import { PairBuilder, type PairList } from './pairs.js';
import { scanMax, scanPairs } from './wasm/scan.js';

export type { PairList } from './pairs.js';

/**
 * Relative cost of checking one pair in the linear scan against one unit of multi-index work
 * (a probe or a verified candidate, in JavaScript, on scattered memory). The scan streams
 * memory through WebAssembly's popcount on two threads; calibrated on test/bench/cluster.mjs.
 */
const SCAN_PAIR_COST = 0.1;

/**
 * Every pair i < j whose Hamming distance is at most `cutBits`: by multi-index hashing where
 * the cost model says it pays (small radius, many rows), else by a bit-parallel linear scan.
 */
export function pairsWithin(fps: PackedFingerprints, cutBits: number): PairList {
  const n = fps.count;
  if (cutBits < 0 || n < 2) return new PairBuilder().build();
  const plan = bestChunking(n, fps.nbits, cutBits);
  if (plan.cost < SCAN_PAIR_COST * (n / 2)) return pairsByIndex(fps, cutBits, plan.m);
  return pairsByScan(fps, cutBits);
}

/** pairsWithin by multi-index hashing with m chunks. */
export function pairsByIndex(fps: PackedFingerprints, cutBits: number, m: number): PairList {
  return joinWithin(buildIndex(fps, m, cutBits), cutBits);
}

/** pairsWithin by looking at every pair (the WebAssembly kernel). */
export function pairsByScan(fps: PackedFingerprints, cutBits: number): PairList {
  if (cutBits < 0 || fps.count < 2) return new PairBuilder().build();
  return scanPairs(fps, cutBits);
}

/**
 * The largest Hamming distance in bits between any two fingerprints (0 for fewer than two),
 * exactly, without looking at all pairs when there are many: the fingerprint farthest from h is
 * the one nearest to h's complement ~h, and d(h, s) = nbits − d(~h, s). So the largest distance is
 * nbits minus the smallest distance between any complement and any fingerprint — a search
 * within a small radius, which multi-index hashing does fast. A few rows scanned in full give
 * the starting radius.
 */
export function largestDistance(fps: PackedFingerprints): number {
  const { count: n, words, data, nbits } = fps;
  if (n < 2) return 0;
  if (n <= 4096) return largestByScan(fps);
  const complement = complementRows(fps);
  // Upper bound on min d(~h, s) from a fixed, evenly spread sample of query rows.
  let best = nbits;
  const samples = 64;
  for (let k = 0; k < samples && best > 0; k++) {
    const i = Math.floor((k * n) / samples);
    for (let j = 0; j < n; j++) {
      const d = hamming(complement, i * words, data, j * words, words);
      if (d < best) best = d;
    }
  }
  // Then search all rows within growing radii below that bound: a search within T finds every
  // pair ≤ T, so the first radius that finds anything gives the exact minimum. Small radii are
  // cheap, and the sample's bound is often well above the true minimum.
  // The radii grow geometrically, and once the searches together would cost more than looking
  // at every pair, every pair is looked at.
  let spent = 0;
  const budget = SCAN_PAIR_COST * (n / 2);
  // Far-apart data (the minimum is likely near the sample's bound): searching cannot pay.
  if (bestChunking(n, nbits, Math.floor(best / 2)).cost >= budget) return largestByScan(fps);
  for (let T = 0; best > 0; T = Math.min(best - 1, Math.max(T + 1, Math.floor(T * 1.5)))) {
    const plan = bestChunking(n, nbits, T);
    spent += plan.cost;
    if (spent >= budget) return largestByScan(fps);
    const index = buildIndex(fps, plan.m, T);
    let found = best;
    for (let i = 0; i < n && found > 0; i++) {
      searchWithin(index, complement, i * words, T, -1, (_j, d) => {
        if (d < found) found = d;
        return found === 0;
      });
    }
    if (found < best) {
      best = found;
      break;
    }
    if (T >= best - 1) break; // nothing below the sample's bound: the bound is the minimum
  }
  return nbits - best;
}

/** Each row with its nbits bits inverted (padding bits stay 0). */
function complementRows(fps: PackedFingerprints): Uint32Array {
  const { count: n, words, data, nbits } = fps;
  const out = new Uint32Array(data.length);
  const lastBits = nbits - 32 * (words - 1);
  const lastMask = lastBits === 32 ? 0xffffffff : (1 << lastBits) - 1;
  for (let i = 0; i < n; i++) {
    for (let w = 0; w < words; w++) {
      const mask = w === words - 1 ? lastMask : 0xffffffff;
      out[i * words + w] = (~data[i * words + w]! & mask) >>> 0;
    }
  }
  return out;
}

/** The largest distance by looking at every pair (the WebAssembly kernel). */
export function largestByScan(fps: PackedFingerprints): number {
  return scanMax(fps);
}
