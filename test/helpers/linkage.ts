/** Clustering straight from packed rows, for tests: the neighbour search and the linkage in one call. */
import type { PackedFingerprints } from '../../src/hash/bits.js';
import { clusterPairs, type Linkage } from '../../src/cluster/linkage.js';
import { pairsWithin } from '../../src/index/neighbours.js';

/** The partition of the rows of `fps` by `linkage` cut at `cutBits`, singletons included. */
export function clusterAtCut(fps: PackedFingerprints, linkage: Linkage, cutBits: number): number[][] {
  return clusterPairs(fps, linkage, cutBits, pairsWithin(fps, Math.floor(cutBits)));
}
