/**
 * Multi-index hashing (Norouzi, Punjani & Fleet, "Fast search in Hamming space with multi-index
 * hashing", CVPR 2012) over packed fingerprints. Pure computation.
 *
 * The bits are cut into m chunks. If two fingerprints differ in at most cutBits bits, then by
 * the pigeonhole principle some chunk differs in at most ⌊cutBits/m⌋ bits. So each chunk gets a
 * hash table (a counting sort of the rows by chunk value), and the rows within cutBits of a query
 * are found among the table entries whose chunk lies within ⌊cutBits/m⌋ of the query's chunk,
 * each verified with its full distance. A pair found through several chunks is kept only from
 * the first.
 */
import { hamming, popcount32, type PackedFingerprints } from '../hash/bits.js';
import { PairBuilder, type PairList } from './pairs.js';

/** The widest chunk: its table has 2^bits + 1 offsets (256 KB at 16 bits: probes stay in cache). */
const MAX_CHUNK_BITS = 16;

interface Chunk {
  offset: number;
  bits: number;
  /** start[k] .. start[k+1]: positions in `rows` of the rows whose chunk value is k. */
  start: Int32Array;
  /** Row ids, sorted by chunk value, ascending ids within a value. */
  rows: Int32Array;
  /**
   * The fingerprints in the order of `rows`: candidates of one probe are verified from
   * contiguous memory instead of one cache miss each (the difference is severalfold at 1M rows).
   */
  sorted: Uint32Array;
}

export interface MihIndex {
  fps: PackedFingerprints;
  chunks: Chunk[];
  /** Chunk radius the index is used with: ⌊cutBits/m⌋. */
  radius: number;
  /** Every XOR mask of popcount ≤ radius, per distinct chunk width. */
  masks: Map<number, Int32Array>;
}

/** Bits offset..offset+bits-1 of a packed row, as an integer (bits ≤ 31). */
export function chunkValue(data: Uint32Array, rowBase: number, offset: number, bits: number): number {
  const w = offset >>> 5;
  const s = offset & 31;
  let v = data[rowBase + w]! >>> s;
  if (s + bits > 32) v |= data[rowBase + w + 1]! << (32 - s);
  return bits === 32 ? v >>> 0 : v & ((1 << bits) - 1);
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Number of chunk values within `r` bits of a given one, for a chunk of `bits` (0 for r < 0). */
export function ballSize(bits: number, r: number): number {
  let s = 0;
  for (let k = 0; k <= Math.min(r, bits); k++) s += binomial(bits, k);
  return s;
}

/** All masks of `bits` bits with at most `r` ones, fewest ones first (the values within `r` of v are v ^ each). */
export function masksWithin(bits: number, r: number): Int32Array {
  const out: number[] = [0];
  let frontier = [0];
  for (let k = 1; k <= Math.min(r, bits); k++) {
    const next: number[] = [];
    for (const m of frontier) {
      // extend by a bit above the highest set bit, so each mask is made once
      const high = m === 0 ? -1 : 31 - Math.clz32(m);
      for (let b = high + 1; b < bits; b++) next.push(m | (1 << b));
    }
    out.push(...next);
    frontier = next;
  }
  return Int32Array.from(out);
}

/** Chunk layout: m chunks of nearly equal width covering nbits. */
export function layout(nbits: number, m: number): { offset: number; bits: number }[] {
  const out: { offset: number; bits: number }[] = [];
  let offset = 0;
  for (let c = 0; c < m; c++) {
    const bits = Math.floor(nbits / m) + (c < nbits % m ? 1 : 0);
    out.push({ offset, bits });
    offset += bits;
  }
  return out;
}

/**
 * Estimated work per query row of a search within cutBits bits using m chunks, in units of one
 * full-distance check: table probes plus candidates to verify.
 */
function costPerQuery(n: number, nbits: number, m: number, cutBits: number): number {
  const r = Math.floor(cutBits / m);
  let cost = 0;
  for (const { bits } of layout(nbits, m)) {
    const probes = ballSize(bits, r);
    cost += probes * (0.5 + n / 2 ** bits);
  }
  return cost;
}

/**
 * The best chunk count for searching n rows within cutBits bits, and its estimated cost per query.
 * `maxChunkBits` (at most 24) allows wider tables than the default 16 bits: fewer rows per bucket
 * but probes outside the cache, which pays for one query over tens of millions of rows.
 */
export function bestChunking(n: number, nbits: number, cutBits: number, maxChunkBits = MAX_CHUNK_BITS): { m: number; cost: number } {
  const widest = Math.min(24, maxChunkBits);
  let best = { m: 0, cost: Infinity };
  // More chunks than cutBits + 1 only narrows them (the radius is 0 from m = cutBits + 1 on),
  // which can still pay when the tables are crowded; wider than MAX_CHUNK_BITS tables cost too
  // much memory.
  for (let m = Math.max(1, Math.ceil(nbits / widest)); m <= Math.min(nbits, Math.max(cutBits + 1, Math.ceil(nbits / widest)) + 8); m++) {
    const cost = costPerQuery(n, nbits, m, cutBits);
    if (cost < best.cost) best = { m, cost };
  }
  return best;
}

/**
 * The multi-index of `fps` cut into `m` chunks, for searches within `cutBits` (each chunk is
 * searched within ⌊cutBits/m⌋): a table per chunk of the rows sorted by chunk value, with a copy
 * of the fingerprints in that order. Memory: 2^bits + 1 offsets and a copy of `fps` per chunk.
 */
export function buildIndex(fps: PackedFingerprints, m: number, cutBits: number): MihIndex {
  const { count: n, words, data, nbits } = fps;
  const chunks: Chunk[] = layout(nbits, m).map(({ offset, bits }) => {
    const size = 2 ** bits;
    const start = new Int32Array(size + 1);
    const keys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = chunkValue(data, i * words, offset, bits);
      keys[i] = k;
      start[k + 1]!++;
    }
    for (let k = 0; k < size; k++) start[k + 1]! += start[k]!;
    const fill = start.slice(0, size);
    const rows = new Int32Array(n);
    for (let i = 0; i < n; i++) rows[fill[keys[i]!]!++] = i;
    const sorted = new Uint32Array(n * words);
    // Word by word: a subarray per row costs more than the copy at tens of millions of rows.
    for (let p = 0; p < n; p++) {
      const from = rows[p]! * words;
      const to = p * words;
      for (let w = 0; w < words; w++) sorted[to + w] = data[from + w]!;
    }
    return { offset, bits, start, rows, sorted };
  });
  const radius = Math.floor(cutBits / m);
  const masks = new Map<number, Int32Array>();
  for (const c of chunks) if (!masks.has(c.bits)) masks.set(c.bits, masksWithin(c.bits, radius));
  return { fps, chunks, radius, masks };
}

/** True when rows q (in `query`) and j (in the index) were already found through a chunk before c. */
function seenEarlier(index: MihIndex, c: number, query: Uint32Array, qBase: number, jBase: number): boolean {
  const { chunks, radius, fps } = index;
  for (let c2 = 0; c2 < c; c2++) {
    const o = chunks[c2]!;
    if (popcount32(chunkValue(query, qBase, o.offset, o.bits) ^ chunkValue(fps.data, jBase, o.offset, o.bits)) <= radius) return true;
  }
  return false;
}

/**
 * Visits every indexed row j > `after` within cutBits bits of the query row (`query`, `qBase`:
 * packed words in the index's width) once, calling `found(j, d)`; `found` returning true stops
 * the search. `cutBits` must be at most the cutBits the index was built for.
 */
export function searchWithin(
  index: MihIndex,
  query: Uint32Array,
  qBase: number,
  cutBits: number,
  after: number,
  found: (j: number, d: number) => boolean | void,
): boolean {
  const { chunks, masks, fps } = index;
  const words = fps.words;
  for (let c = 0; c < chunks.length; c++) {
    const { start, rows, bits, offset, sorted } = chunks[c]!;
    const ms = masks.get(bits)!;
    const qk = chunkValue(query, qBase, offset, bits);
    for (let mi = 0; mi < ms.length; mi++) {
      const key = qk ^ ms[mi]!;
      for (let p = start[key]!, end = start[key + 1]!; p < end; p++) {
        const j = rows[p]!;
        if (j <= after) continue;
        const d = hamming(query, qBase, sorted, p * words, words, cutBits);
        if (d > cutBits || seenEarlier(index, c, query, qBase, j * words)) continue;
        if (found(j, d)) return true;
      }
    }
  }
  return false;
}

/**
 * Every pair i < j of indexed rows within cutBits bits (cutBits at most the index's), each once,
 * ordered by (i, j) whatever the chunking.
 *
 * A self-join needs no queries: per chunk, each bucket is joined with itself and with every
 * bucket whose value lies within the radius above its own. Both sides are contiguous in
 * `sorted`, and each unordered pair of rows is looked at once per chunk.
 */
export function joinWithin(index: MihIndex, cutBits: number): PairList {
  const { chunks, masks, fps } = index;
  const { count: n, words } = fps;
  const found = new PairBuilder();
  for (let c = 0; c < chunks.length; c++) {
    const { start, rows, bits, sorted } = chunks[c]!;
    const ms = masks.get(bits)!;
    const buckets = start.length - 1;
    for (let key = 0; key < buckets; key++) {
      const s0 = start[key]!;
      const e0 = start[key + 1]!;
      if (s0 === e0) continue;
      for (let mi = 0; mi < ms.length; mi++) {
        const other = key ^ ms[mi]!;
        if (other < key) continue; // the pair of buckets is joined from the lower one
        const same = other === key;
        const e1 = start[other + 1]!;
        for (let p = s0; p < e0; p++) {
          const pb = p * words;
          for (let q = same ? p + 1 : start[other]!; q < e1; q++) {
            const qb = q * words;
            const d = hamming(sorted, pb, sorted, qb, words, cutBits);
            if (d > cutBits) continue;
            const a = rows[p]!;
            const b = rows[q]!;
            const [i, j] = a < b ? [a, b] : [b, a];
            if (c > 0 && seenEarlier(index, c, fps.data, i * words, j * words)) continue;
            found.push(i, j, d);
          }
        }
      }
    }
  }
  return sortPairs(found.build(), n);
}

/** The pairs ordered by (i, j). */
function sortPairs(pairs: PairList, n: number): PairList {
  const keys = new Float64Array(pairs.length);
  for (let k = 0; k < pairs.length; k++) keys[k] = pairs.a[k]! * n + pairs.b[k]!; // < 2^53 for n < 9·10^7
  const order = Uint32Array.from({ length: pairs.length }, (_, k) => k).sort((x, y) => keys[x]! - keys[y]!);
  const out = new PairBuilder();
  for (const k of order) out.push(pairs.a[k]!, pairs.b[k]!, pairs.bits[k]!);
  return out.build();
}
