/**
 * Exact agglomerative clustering cut at a height, on Hamming distances. Pure computation.
 *
 * The partition is the one that the textbook greedy algorithm gives: repeatedly merge the two
 * closest clusters while their linkage distance is ≤ the cut. Ties are broken by a fixed rule, so
 * the result never depends on the input order beyond the order of rows, which callers fix by
 * sorting paths: among equally close pairs, the pair whose clusters' smallest row indices
 * (lo, hi), lo < hi, come first lexicographically is merged first.
 *
 * Why it is fast: for single, average and complete linkage a merge at height ≤ t needs at least one
 * pair of members within t of each other. So only cluster pairs joined by such a "short edge"
 * are candidates; the others are never looked at. Candidate distances are kept exactly —
 * average linkage as the integer sum of member-pair bits, complete linkage as the count and
 * maximum of short edges — and a sum that involves pairs farther apart than t (never listed) is
 * computed from the members the one time it is needed.
 */
import { hammingRows, type PackedFingerprints } from '../hash/bits.js';
import type { PairList } from '../index/pairs.js';

export type Linkage = 'single' | 'average' | 'complete';
export const LINKAGES: readonly Linkage[] = ['average', 'single', 'complete'];

/** Min-heap of candidate merges, ordered by (distance, lo, hi). */
class MergeHeap {
  private dist: number[] = [];
  private lo: number[] = [];
  private hi: number[] = [];
  private a: number[] = [];
  private b: number[] = [];

  get size(): number {
    return this.dist.length;
  }

  private less(i: number, j: number): boolean {
    const d = this.dist[i]! - this.dist[j]!;
    if (d !== 0) return d < 0;
    if (this.lo[i] !== this.lo[j]) return this.lo[i]! < this.lo[j]!;
    return this.hi[i]! < this.hi[j]!;
  }

  private swap(i: number, j: number): void {
    for (const arr of [this.dist, this.lo, this.hi, this.a, this.b]) {
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
  }

  push(dist: number, lo: number, hi: number, a: number, b: number): void {
    let i = this.dist.length;
    this.dist.push(dist);
    this.lo.push(lo);
    this.hi.push(hi);
    this.a.push(a);
    this.b.push(b);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** The smallest entry as [dist, a, b]; undefined when empty. */
  peek(): [number, number, number] | undefined {
    return this.dist.length ? [this.dist[0]!, this.a[0]!, this.b[0]!] : undefined;
  }

  pop(): void {
    const last = this.dist.length - 1;
    this.swap(0, last);
    for (const arr of [this.dist, this.lo, this.hi, this.a, this.b]) arr.pop();
    let i = 0;
    const n = this.dist.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

/** Disjoint sets over 0..n-1 (path halving, union by index for determinism). */
class DisjointSets {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    const p = this.parent;
    while (p[i] !== i) {
      p[i] = p[p[i]!]!;
      i = p[i]!;
    }
    return i;
  }
  union(i: number, j: number): void {
    const a = this.find(i);
    const b = this.find(j);
    if (a !== b) this.parent[Math.max(a, b)] = Math.min(a, b);
  }
}

/** Groups 0..n-1 by a labelling function; groups ordered by smallest member, members ascending. */
function groupsOf(n: number, label: (i: number) => number): number[][] {
  const byLabel = new Map<number, number[]>();
  const groups: number[][] = [];
  for (let i = 0; i < n; i++) {
    const l = label(i);
    let g = byLabel.get(l);
    if (!g) {
      byLabel.set(l, (g = []));
      groups.push(g);
    }
    g.push(i);
  }
  return groups;
}

/** Connected components of the graph of pairs: single linkage's partition at any cut. */
function components(n: number, pairs: PairList): number[][] {
  const sets = new DisjointSets(n);
  for (let k = 0; k < pairs.length; k++) sets.union(pairs.a[k]!, pairs.b[k]!);
  return groupsOf(n, (i) => sets.find(i));
}

/**
 * The partition of the rows of `fps` by `linkage` cut at `cutBits` (a distance in bits,
 * fractional for average linkage): clusters stay merged while their merge height ≤ cutBits.
 * Takes every pair within ⌊cutBits⌋ (from any neighbour search) and the distance those pairs
 * were measured with (Hamming distance of the rows by default). Returns every cluster,
 * singletons included, ordered by smallest row, members ascending. Throws nothing.
 */
export function clusterPairs(
  fps: PackedFingerprints,
  linkage: Linkage,
  cutBits: number,
  pairs: PairList,
  distance: (i: number, j: number) => number = (i, j) => hammingRows(fps, i, fps, j),
): number[][] {
  const n = fps.count;
  if (linkage === 'single') return components(n, pairs);

  // Cluster ids: rows are 0..n-1, a merge creates the next id.
  const members: number[][] = [];
  const rep: number[] = [];
  const alive: boolean[] = [];
  // For each live cluster with candidates: neighbour id → linkage state.
  // average: exact sum of member-pair distances; complete: short-edge count × 2^16 + max bits.
  const neigh: (Map<number, number> | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    members.push([i]);
    rep.push(i);
    alive.push(true);
    neigh.push(undefined);
  }
  const heap = new MergeHeap();
  const SHIFT = 65536; // > any bit count (x ≤ 255 gives ≤ 65025 bits)
  const link = (id: number): Map<number, number> => (neigh[id] ??= new Map());
  const distanceOf = (state: number, sizeProduct: number): number =>
    linkage === 'average' ? state / sizeProduct : state % SHIFT;
  const push = (c: number, k: number, state: number): void => {
    const lo = Math.min(rep[c]!, rep[k]!);
    const hi = Math.max(rep[c]!, rep[k]!);
    heap.push(distanceOf(state, members[c]!.length * members[k]!.length), lo, hi, c, k);
  };
  const sumBetween = (x: number[], y: number[]): number => {
    let s = 0;
    for (const i of x) for (const j of y) s += distance(i, j);
    return s;
  };

  for (let k = 0; k < pairs.length; k++) {
    const i = pairs.a[k]!;
    const j = pairs.b[k]!;
    const d = pairs.bits[k]!;
    const state = linkage === 'average' ? d : SHIFT + d;
    link(i).set(j, state);
    link(j).set(i, state);
    push(i, j, state);
  }

  for (;;) {
    const top = heap.peek();
    if (!top) break;
    const [dist, a, b] = top;
    heap.pop();
    if (!alive[a] || !alive[b]) continue; // stale: one side merged since
    if (dist > cutBits) break; // heights only grow from here (the three linkages are monotone)
    const c = members.length;
    members.push(members[a]!.concat(members[b]!));
    rep.push(Math.min(rep[a]!, rep[b]!));
    alive.push(true);
    neigh.push(undefined);
    alive[a] = alive[b] = false;
    const na = neigh[a] ?? new Map<number, number>();
    const nb = neigh[b] ?? new Map<number, number>();
    neigh[a] = neigh[b] = undefined;
    const others = new Set<number>([...na.keys(), ...nb.keys()]);
    others.delete(a);
    others.delete(b);
    const sizeC = members[c]!.length;
    for (const k of others) {
      const nk = neigh[k]!;
      nk.delete(a);
      nk.delete(b);
      let state: number;
      if (linkage === 'average') {
        state =
          (na.get(k) ?? sumBetween(members[a]!, members[k]!)) + (nb.get(k) ?? sumBetween(members[b]!, members[k]!));
      } else {
        const sa = na.get(k) ?? 0;
        const sb = nb.get(k) ?? 0;
        const count = Math.floor(sa / SHIFT) + Math.floor(sb / SHIFT);
        // Complete linkage: mergeable only while every member pair is a short edge.
        if (count !== sizeC * members[k]!.length) continue;
        state = count * SHIFT + Math.max(sa % SHIFT, sb % SHIFT);
      }
      link(c).set(k, state);
      nk.set(c, state);
      push(c, k, state);
    }
  }

  const label = new Int32Array(n);
  members.forEach((m, id) => {
    if (alive[id]) for (const i of m) label[i] = rep[id]!;
  });
  return groupsOf(n, (i) => label[i]!);
}
