/**
 * Multi-indexes (mih.ts's pigeonhole rule) of short packed rows under integer keys, built to find
 * the candidates of one search among tens of millions of coarse views in a few milliseconds and
 * to stay current while pictures are added, replaced and removed one at a time. Pure computation.
 *
 * A table has two parts:
 *  - a sorted part, made at once (a counting sort per chunk): per chunk value, its rows lie
 *    contiguous in one array and their keys in another, so that a probe measures a bucket's rows
 *    where they lie (one cache miss per bucket, not one per row) and reads a key only for a row
 *    within the cut; 64-bit rows are kept without the chunk's bits (SortedChunk) and measured by
 *    a WebAssembly kernel (wasm/probe.wat);
 *  - an added part (ChunkTable: buckets as chains of small blocks) for the rows added since,
 *    each removable on its own.
 * Rows of the sorted part are never removed or changed: a probe may return a key whose row has
 * changed or gone since. Callers measure every candidate on the current rows (views.ts,
 * distanceToQuery), so such a key costs a measure and nothing else, and remake the sorted part
 * when the added part grows large (picture-search.ts, live.ts).
 *
 * A probe marks the slots it finds in a stamp array (slot → number of the search) instead of a
 * Set: a slot found through several chunks or views is returned once, at the cost of one compare.
 */
import { popcount32 } from '../hash/bits.js';
import { ballSize, bestChunking, chunkValue, layout, masksWithin } from './mih.js';
import { kernelFor, restRows, windowFor, type ChunkProbe } from './wasm/probe.js';

/** The widest chunk of an added part: 2^16 buckets per chunk. */
const CHUNK_BITS = 16;
/** Keys per block of a bucket's chain. */
const BLOCK = 16;

const MASKS = new Map<string, Int32Array>();
/** Every mask of `bits` bits with at most `r` ones (cached: the 22-bit ball of radius 3 has 1,794). */
export function masksFor(bits: number, r: number): Int32Array {
  const key = `${bits}/${r}`;
  let masks = MASKS.get(key);
  if (!masks) MASKS.set(key, (masks = masksWithin(bits, r)));
  return masks;
}

/**
 * Each chunk's radius for a search within `r` bits, the generalised pigeonhole rule (Qin, Xiao &
 * Wang, "GPH: similarity search in Hamming space", ICDE 2018): a row that differs from the query
 * in more than t_c bits on every chunk c differs in at least Σ (t_c + 1) bits, so any radii with
 * Σ (t_c + 1) ≥ r + 1 find every row within r (t_c = −1: the chunk is not probed). The plain rule
 * gives every chunk ⌊r/m⌋; spreading the rest of r + 1 over chunks as one more bit each needs
 * fewer probes: 64 bits in 4 chunks within 10 bits, (2, 2, 2, 1) instead of (2, 2, 2, 2) — 428
 * probes, not 548. The chunks that get the larger radius are those where it costs least, counting
 * a probe as `probeCost` row measures and a bucket as `rowsPerValue(bits)` rows. (Tables keep
 * the radii of each r they are probed within: radiiWithin.)
 */
export function chunkRadii(widths: readonly number[], r: number, rowsPerValue: (bits: number) => number, probeCost: number): Int32Array {
  const m = widths.length;
  const base = Math.floor((r + 1) / m) - 1;
  const cost = (bits: number, t: number): number => (t < 0 ? 0 : ballSize(bits, t) * (probeCost + rowsPerValue(bits)));
  // The chunks where one more bit of radius costs least get it (ties: the first).
  const order = widths.map((bits, c) => ({ c, extra: cost(bits, base + 1) - cost(bits, base) })).sort((a, b) => a.extra - b.extra || a.c - b.c);
  const radii = new Int32Array(m).fill(base);
  for (let i = 0; i < (r + 1) - m * (base + 1); i++) radii[order[i]!.c]!++;
  return radii;
}

/** A table's radii per r, worked out at its first probe within r (chunkRadii): not in every probe. */
function radiiWithin(cache: Map<number, Int32Array>, r: number, make: () => Int32Array): Int32Array {
  let radii = cache.get(r);
  if (!radii) cache.set(r, (radii = make()));
  return radii;
}

/** Where a probe puts what it finds: the slot of each key within the cut, once per search. */
export interface Found {
  /** Keys per slot: key k is view k mod perSlot of slot ⌊k / perSlot⌋. */
  perSlot: number;
  /** Only keys of this view (k mod perSlot); −1: any. */
  onlyView: number;
  /** stamps[slot] === mark: the slot is in `slots` already. */
  stamps: Uint32Array;
  mark: number;
  slots: number[];
}

/**
 * The mark of the next search over `stamps` after `mark`: the next number, or 1 with the stamps
 * cleared once the numbers run out (no slot may keep a stamp equal to a new mark).
 */
export function nextMark(stamps: Uint32Array, mark: number): number {
  if (mark + 1 < 0xffffffff) return mark + 1;
  stamps.fill(0);
  return 1;
}

/** Puts the slot of `key`, a key found within the cut, into `found`: once, and only for the view asked for. */
function take(found: Found, key: number): void {
  const { perSlot, onlyView, stamps, mark } = found;
  const slot = perSlot === 1 ? key : (key / perSlot) | 0;
  if (stamps[slot] === mark || (onlyView >= 0 && key - slot * perSlot !== onlyView)) return;
  stamps[slot] = mark;
  found.slots.push(slot);
}

/**
 * An incremental multi-index: rows of packed bits cut into chunks of at most 16 bits, a bucket
 * of keys per chunk value, kept current key by key. A row within r bits of a query agrees
 * with it within the chunk's radius on one of its m chunks (chunkRadii), so probing the buckets
 * of the values near the query's chunks finds every such row (and others, which are measured
 * and passed by).
 */
export class ChunkTable {
  readonly chunks: { offset: number; bits: number }[] = [];
  /**
   * Buckets are chains of blocks of BLOCK entries in one pool (no object per bucket: a million
   * small typed arrays cost more to make and to collect than the keys themselves). An entry is
   * its key and, with `width`, a copy of the key's row (`width` words), so that a probe measures
   * it where it lies instead of fetching the row from elsewhere in memory. Per chunk and value:
   * the first and last block of its chain (−1: empty) and the entries in the last one.
   */
  private readonly head: Int32Array[];
  private readonly tail: Int32Array[];
  private readonly fill: Int32Array[];
  /** Words per entry: the key, then the row's copy. */
  private readonly entry: number;
  private pool: Uint32Array;
  private next = new Int32Array(1024);
  private blocks = 0;
  private readonly freeBlocks: number[] = [];
  /** Keys in the table. */
  keys = 0;

  constructor(
    nbits: number,
    private readonly width = 0,
  ) {
    this.chunks = layout(nbits, Math.ceil(nbits / CHUNK_BITS));
    this.head = this.chunks.map((c) => new Int32Array(2 ** c.bits).fill(-1));
    this.tail = this.chunks.map((c) => new Int32Array(2 ** c.bits).fill(-1));
    this.fill = this.chunks.map((c) => new Int32Array(2 ** c.bits));
    this.entry = 1 + width;
    this.pool = new Uint32Array(BLOCK * 1024 * this.entry);
  }

  private newBlock(): number {
    const reused = this.freeBlocks.pop();
    if (reused !== undefined) return reused;
    if (this.blocks === this.next.length) {
      const next = new Int32Array(this.next.length * 2);
      next.set(this.next);
      this.next = next;
      const pool = new Uint32Array(this.pool.length * 2);
      pool.set(this.pool);
      this.pool = pool;
    }
    return this.blocks++;
  }

  add(key: number, data: Uint32Array, at: number): void {
    const e = this.entry;
    for (let c = 0; c < this.chunks.length; c++) {
      const { offset, bits } = this.chunks[c]!;
      const value = chunkValue(data, at, offset, bits);
      const tail = this.tail[c]!;
      const fill = this.fill[c]!;
      let block = tail[value]!;
      if (block < 0 || fill[value] === BLOCK) {
        const fresh = this.newBlock();
        this.next[fresh] = -1;
        if (block < 0) this.head[c]![value] = fresh;
        else this.next[block] = fresh;
        tail[value] = block = fresh;
        fill[value] = 0;
      }
      const where = (block * BLOCK + fill[value]!) * e;
      this.pool[where] = key;
      for (let w = 0; w < this.width; w++) this.pool[where + 1 + w] = data[at + w]!;
      fill[value]!++;
    }
    this.keys++;
  }

  /** Removes `key`, whose row is data[at..] as it was added. */
  remove(key: number, data: Uint32Array, at: number): void {
    const e = this.entry;
    let removed = false;
    for (let c = 0; c < this.chunks.length; c++) {
      const { offset, bits } = this.chunks[c]!;
      const value = chunkValue(data, at, offset, bits);
      const head = this.head[c]!;
      const tail = this.tail[c]!;
      const fill = this.fill[c]!;
      const last = tail[value]!;
      let found = -1;
      search: for (let block = head[value]!; block >= 0; block = this.next[block]!) {
        for (let i = block * BLOCK * e, end = i + (block === last ? fill[value]! : BLOCK) * e; i < end; i += e) {
          if (this.pool[i] === key) {
            found = i;
            break search;
          }
        }
      }
      if (found < 0) continue;
      removed = true;
      // The chain's last entry takes the removed one's place.
      const lastAt = (last * BLOCK + fill[value]! - 1) * e;
      this.pool.copyWithin(found, lastAt, lastAt + e);
      if (--fill[value]! > 0) continue;
      // The last block is empty: free it; the block before it (found from the head) becomes the last.
      this.freeBlocks.push(last);
      let before = -1;
      for (let block = head[value]!; block !== last; block = this.next[block]!) before = block;
      if (before < 0) head[value] = -1;
      else this.next[before] = -1;
      tail[value] = before;
      fill[value] = before < 0 ? 0 : BLOCK;
    }
    if (removed) this.keys--;
  }

  private readonly radiiByR = new Map<number, Int32Array>();

  /** Each chunk's radius for a search within r (chunkRadii; the chunks are about equally wide, so by their probes alone). */
  private radii(r: number): Int32Array {
    return radiiWithin(this.radiiByR, r, () =>
      chunkRadii(
        this.chunks.map((c) => c.bits),
        r,
        () => 0,
        1,
      ),
    );
  }

  /** Probes per query row for a search within `r` bits. */
  probes(r: number): number {
    const radii = this.radii(r);
    return this.chunks.reduce((sum, c, i) => sum + (radii[i]! < 0 ? 0 : ballSize(c.bits, radii[i]!)), 0);
  }

  /**
   * Every key whose row lies within `r` bits of the query row q[qAt..] (`words` words): its row
   * is the copy beside it (width = words), or else data[slot × stride + view × words].
   */
  probeWithin(q: Uint32Array, qAt: number, words: number, r: number, data: Uint32Array, stride: number, found: Found): void {
    if (this.keys === 0) return;
    const { perSlot, onlyView, stamps, mark, slots } = found;
    const radii = this.radii(r);
    const pool = this.pool;
    const next = this.next;
    const e = this.entry;
    const inline = this.width === words;
    for (let c = 0; c < this.chunks.length; c++) {
      if (radii[c]! < 0) continue;
      const { offset, bits } = this.chunks[c]!;
      const head = this.head[c]!;
      const tail = this.tail[c]!;
      const fill = this.fill[c]!;
      const qv = chunkValue(q, qAt, offset, bits);
      const masks = masksFor(bits, radii[c]!);
      for (let mi = 0; mi < masks.length; mi++) {
        const value = qv ^ masks[mi]!;
        const last = tail[value]!;
        for (let block = head[value]!; block >= 0; block = next[block]!) {
          for (let i = block * BLOCK * e, end = i + (block === last ? fill[value]! : BLOCK) * e; i < end; i += e) {
            const key = pool[i]!;
            const slot = perSlot === 1 ? key : (key / perSlot) | 0;
            if (stamps[slot] === mark || (onlyView >= 0 && key - slot * perSlot !== onlyView)) continue;
            const at = inline ? i + 1 : slot * stride + (key - slot * perSlot) * words;
            const rows = inline ? pool : data;
            let d = 0;
            for (let w = 0; w < words && d <= r; w++) d += popcount32(q[qAt + w]! ^ rows[at + w]!);
            if (d <= r) {
              stamps[slot] = mark;
              slots.push(slot);
            }
          }
        }
      }
    }
  }
}

/**
 * Where the kernel's hits go during one chunk's probe of a sorted part (a thread probes one chunk
 * at a time): the chunk's keys, and the search's Found.
 */
let hitKeys: Uint32Array = new Uint32Array(0);
let hitFound: Found | undefined;
function hitRow(row: number): void {
  take(hitFound!, hitKeys[row]!);
}

/**
 * A probe of the sorted part (a bucket) costs about this many row measures of the WebAssembly
 * kernel: a cache miss or two, mostly overlapped with the kernel's touches, against about a
 * nanosecond a row. Fitted to whole searches (where the probes of one table evict the other's
 * lines from the cache) at a million entries: 4 chunks of the uprights' table beat 5 by about a
 * tenth (5 below 42, 4 above), and 3 chunks of the views' table beat 4 (below 68). Measured
 * again with the kernel that measures four rows at a time over a window: the same choices win
 * (the views' table by far: its longer buckets of 4 chunks are read at memory's speed).
 */
const SORTED_PROBE_COST = 30;

/**
 * From this many rows a sorted part's 64-bit chunk is made in two steps (SortedTable.make): below,
 * its arrays fit the processor's caches well enough for one.
 */
const GROUPED_FROM = 1 << 20;
/** The groups of that first step: 2^GROUP_BITS, few enough for their four streams of writes to stay in cache. */
const GROUP_BITS = 8;

/**
 * How many chunks a sorted part of `n` rows gets for searches within `r`: the count whose probes
 * (each SORTED_PROBE_COST row measures) and rows in the buckets probed (chunkRadii) cost least,
 * no chunk wider than `maxChunkBits`. At a million 64-bit rows within 10 bits: 4 chunks (428
 * probes of about 15 rows, against 5 chunks' 148 probes of 120); at 38 million, 3 chunks of 22
 * bits (3,588 probes of about 9 rows, against 4 chunks' 428 probes of 580).
 */
function sortedChunks(n: number, nbits: number, r: number, maxChunkBits: number): number {
  const fewest = Math.max(1, Math.ceil(nbits / Math.min(24, maxChunkBits)));
  let best = { m: fewest, cost: Infinity };
  // More chunks than r + 1 leave some unprobed (radius −1) and narrow the rest, which can still pay.
  for (let m = fewest; m <= Math.min(nbits, Math.max(fewest, r + 1) + 8); m++) {
    const widths = layout(nbits, m).map((c) => c.bits);
    const radii = chunkRadii(widths, r, (bits) => n / 2 ** bits, SORTED_PROBE_COST);
    let cost = 0;
    widths.forEach((bits, c) => {
      if (radii[c]! >= 0) cost += ballSize(bits, radii[c]!) * (SORTED_PROBE_COST + n / 2 ** bits);
    });
    if (cost < best.cost) best = { m, cost };
  }
  return best.m;
}

/**
 * One chunk of a sorted part, as its arrays (shareable with worker threads: see SortedTable.parts).
 * A 64-bit row is kept without the chunk's own bits, which its bucket gives (restOf), as a 32-bit
 * low part in `lo` and the rest in `hi`, arrays apart: nearly every row is passed by on its low
 * part, so a probe reads 4 bytes of it instead of 8 (wasm/probe.wat). Rows of other widths are
 * kept whole in `rows`, `words` words each.
 */
export interface SortedChunk {
  offset: number;
  bits: number;
  start: Int32Array;
  keys: Uint32Array;
  lo?: Uint32Array;
  hi?: Uint16Array | Uint32Array;
  rows?: Uint32Array;
  /** The memory `lo` (from byte 0), `hi` and `start` lie in when the WebAssembly kernel probes them. */
  memory?: WebAssembly.Memory;
}

/** restOf's answer: the low 32 bits, then the high ones. */
const REST = new Uint32Array(2);

/**
 * A 64-bit row (x0 its low word, x1 its high word) without the bits of a chunk at `offset`,
 * `bits` wide (at most 24), into REST: the row rotated right by offset + bits, which leaves the
 * chunk in the top `bits` (dropped) and the other 64 − bits below them. A row's distance to a
 * query is the distance of their chunk values plus that of their rests.
 */
export function restOf(x0: number, x1: number, offset: number, bits: number): Uint32Array {
  const s = (offset + bits) & 63;
  // By 32 first: the words change places.
  const a = s >= 32 ? x1 : x0;
  const b = s >= 32 ? x0 : x1;
  const t = s & 31;
  REST[0] = t === 0 ? a : (a >>> t) | (b << (32 - t));
  REST[1] = (t === 0 ? b : (b >>> t) | (a << (32 - t))) & (2 ** (32 - bits) - 1);
  return REST;
}

/** A sorted part as its arrays: what a worker thread needs to probe it (index/search-worker.ts). */
export interface SortedParts {
  words: number;
  keys: number;
  chunks: SortedChunk[];
}

/** An Int32Array / Uint32Array of `length`, on shared memory when `shared`. */
function int32s(length: number, shared: boolean): Int32Array {
  return shared ? new Int32Array(new SharedArrayBuffer(length * 4)) : new Int32Array(length);
}
function uint32s(length: number, shared: boolean): Uint32Array {
  return shared ? new Uint32Array(new SharedArrayBuffer(length * 4)) : new Uint32Array(length);
}

/**
 * The sorted part: per chunk, the rows in the order of the chunk's value (SortedChunk: 64-bit
 * rows as the rest of their bits, others whole), their keys in the same order, and where each
 * value's rows start. Rows and keys lie apart: a probe reads its bucket's rows, contiguous, and a
 * key only for a row within the cut.
 */
export class SortedTable {
  readonly chunks: (SortedChunk & { probe?: ChunkProbe; window: number })[];
  readonly keys: number;
  readonly words: number;

  /**
   * The rows of keys 0 .. count−1 (key k at data[k × stride], `words` words) for which
   * `include` says true, cut into m chunks; on shared memory with `shared`, so that worker
   * threads can probe it too (parts()).
   */
  static make(words: number, nbits: number, m: number, data: Uint32Array, stride: number, count: number, include?: (key: number) => boolean, shared = false): SortedTable {
    let keys = 0;
    // Each key's chunk value (−1: left out), worked out once per chunk for both passes.
    const values = new Int32Array(count);
    const chunks = layout(nbits, m).map(({ offset, bits }): SortedChunk => {
      const size = 2 ** bits;
      const counted = new Int32Array(size + 1);
      for (let k = 0; k < count; k++) {
        const v = !include || include(k) ? chunkValue(data, k * stride, offset, bits) : -1;
        values[k] = v;
        counted[v + 1]!++; // a left-out key counts in counted[0], taken out below
      }
      counted[0] = 0;
      for (let v = 0; v < size; v++) counted[v + 1]! += counted[v]!;
      keys = counted[size]!;
      const keyOf = uint32s(keys, shared);
      if (words === 2) {
        // 64-bit rows, less the chunk, and their bucket offsets go where the WebAssembly kernel probes them (probe.wat).
        const { lo, hi, start, memory } = restRows(keys, bits >= 16 ? 2 : 4, size + 1, shared);
        start.set(counted);
        const fill = start.slice(0, size);
        // restOf, inlined (here and in the grouped step below) with its shift and mask worked out
        // once per chunk: tens of millions of rows, and the views' table at a million entries
        // took 8.6–9.7 s through restOf against 4.8–5.0 s so.
        const s = (offset + bits) & 63;
        const swap = s >= 32;
        const t = s & 31;
        const mask = 2 ** (32 - bits) - 1;
        if (keys < GROUPED_FROM || bits < 16) {
          for (let k = 0; k < count; k++) {
            const v = values[k]!;
            if (v < 0) continue;
            const at = k * stride;
            const p = fill[v]!++;
            const a = swap ? data[at + 1]! : data[at]!;
            const b = swap ? data[at]! : data[at + 1]!;
            lo[p] = t === 0 ? a : (a >>> t) | (b << (32 - t));
            hi[p] = (t === 0 ? b : (b >>> t) | (a << (32 - t))) & mask;
            keyOf[p] = k;
          }
          return { offset, bits, start, lo, hi, keys: keyOf, memory };
        }
        // Tens of millions of rows into millions of buckets: put straight into their buckets, each
        // row is a write to a random place in hundreds of megabytes (a cache miss or three). In
        // two steps instead, each writing to few places at a time: the rows grouped by the top
        // GROUP_BITS of their chunk value (in key order, with the value's other bits and the
        // rest), then each group's rows into their buckets, which lie together. The same rows in
        // the same order.
        const low = bits - GROUP_BITS;
        const lowMask = (1 << low) - 1;
        const groups = 1 << (bits - low);
        const groupKey = new Uint32Array(keys);
        const groupLow = new Uint16Array(keys);
        const groupLo = new Uint32Array(keys);
        const groupHi = new Uint16Array(keys);
        const next = new Int32Array(groups);
        for (let g = 0; g < groups; g++) next[g] = counted[g << low]!;
        for (let k = 0; k < count; k++) {
          const v = values[k]!;
          if (v < 0) continue;
          const at = k * stride;
          const q = next[v >>> low]!++;
          const a = swap ? data[at + 1]! : data[at]!;
          const b = swap ? data[at]! : data[at + 1]!;
          groupKey[q] = k;
          groupLow[q] = v & lowMask;
          groupLo[q] = t === 0 ? a : (a >>> t) | (b << (32 - t));
          groupHi[q] = (t === 0 ? b : (b >>> t) | (a << (32 - t))) & mask;
        }
        for (let g = 0, q = 0; g < groups; g++) {
          for (const end = counted[(g + 1) << low]!; q < end; q++) {
            const p = fill[(g << low) | groupLow[q]!]!++;
            lo[p] = groupLo[q]!;
            hi[p] = groupHi[q]!;
            keyOf[p] = groupKey[q]!;
          }
        }
        return { offset, bits, start, lo, hi, keys: keyOf, memory };
      }
      const rows = uint32s(keys * words, shared);
      const start = int32s(size + 1, shared);
      start.set(counted);
      const fill = start.slice(0, size);
      for (let k = 0; k < count; k++) {
        const v = values[k]!;
        if (v < 0) continue;
        const at = k * stride;
        const p = fill[v]!++;
        for (let w = 0; w < words; w++) rows[p * words + w] = data[at + w]!;
        keyOf[p] = k;
      }
      return { offset, bits, start, rows, keys: keyOf };
    });
    return new SortedTable({ words, keys, chunks });
  }

  /** A sorted part of these arrays (made by make(), here or in another thread). */
  constructor(parts: SortedParts) {
    this.words = parts.words;
    this.keys = parts.keys;
    this.chunks = parts.chunks.map((c) => ({ ...c, probe: c.memory ? kernelFor(c.memory, hitRow) : undefined, window: windowFor(parts.keys / 2 ** c.bits) }));
  }

  /** Its arrays, to be sent to a worker thread (shared when made with `shared`: no copy). */
  parts(): SortedParts {
    return { words: this.words, keys: this.keys, chunks: this.chunks.map(({ offset, bits, start, keys, lo, hi, rows, memory }) => ({ offset, bits, start, keys, lo, hi, rows, memory })) };
  }

  private readonly radiiByR = new Map<number, Int32Array>();

  /** Each chunk's radius for a search within r (chunkRadii). */
  radii(r: number): Int32Array {
    return radiiWithin(this.radiiByR, r, () =>
      chunkRadii(
        this.chunks.map((c) => c.bits),
        r,
        (bits) => this.keys / 2 ** bits,
        SORTED_PROBE_COST,
      ),
    );
  }

  /** Every key whose row lies within `r` bits of q[qAt..]: see ChunkTable.probeWithin. */
  probeWithin(q: Uint32Array, qAt: number, r: number, found: Found): void {
    const words = this.words;
    const radii = this.radii(r);
    for (let c = 0; c < this.chunks.length; c++) {
      const t = radii[c]!;
      if (t < 0) continue;
      const { offset, bits, start, keys, lo, hi, rows, probe, window } = this.chunks[c]!;
      const qv = chunkValue(q, qAt, offset, bits);
      if (lo && hi) {
        const rest = restOf(q[qAt]!, q[qAt + 1]!, offset, bits);
        const qlo = rest[0]!;
        const qhi = rest[1]!;
        if (probe) {
          hitKeys = keys;
          hitFound = found;
          probe(start.byteOffset, bits, qv, t, qlo, qhi, r, hi.byteOffset, hi.BYTES_PER_ELEMENT === 2 ? 1 : 2, window);
          continue;
        }
        // The kernel's work in JavaScript, where WebAssembly cannot run (the kernel enumerates the masks itself).
        const masks = masksFor(bits, t);
        for (let mi = 0; mi < masks.length; mi++) {
          const value = qv ^ masks[mi]!;
          // The budget left for the bits outside the chunk.
          const budget = r - popcount32(masks[mi]!);
          const end = start[value + 1]!;
          for (let p = start[value]!; p < end; p++) {
            const d = popcount32(lo[p]! ^ qlo);
            if (d <= budget && d + popcount32(hi[p]! ^ qhi) <= budget) take(found, keys[p]!);
          }
        }
        continue;
      }
      const masks = masksFor(bits, t);
      for (let mi = 0; mi < masks.length; mi++) {
        const value = qv ^ masks[mi]!;
        const end = start[value + 1]!;
        for (let p = start[value]!; p < end; p++) {
          let d = 0;
          for (let w = 0; w < words && d <= r; w++) d += popcount32(rows![p * words + w]! ^ q[qAt + w]!);
          if (d <= r) take(found, keys[p]!);
        }
      }
    }
  }
}

/**
 * A table of keyed rows: the sorted part (made by `remake`) and the added part (`add`,
 * `remove`). Probing finds every key added since the last remake, and every key of that remake
 * as its row was then.
 */
export class CoarseTable {
  private sorted?: SortedTable;
  private added: ChunkTable;

  constructor(
    readonly nbits: number,
    readonly words: number,
    /** The widest chunk of the sorted part (at most 24 bits; 2^bits + 1 offsets per chunk). */
    private readonly maxChunkBits: number,
    /** Sorted parts on shared memory, for worker threads to probe (index/search-pool.ts). */
    private readonly shared = false,
  ) {
    this.added = new ChunkTable(nbits, words);
  }

  /** The sorted part's arrays (for a worker thread), or undefined before the first remake. */
  sortedParts(): SortedParts | undefined {
    return this.sorted?.parts();
  }

  /** Keys in the sorted part. */
  get sortedKeys(): number {
    return this.sorted?.keys ?? 0;
  }

  /** Keys added since the last remake. */
  get addedKeys(): number {
    return this.added.keys;
  }

  /**
   * The sorted part made again of keys 0 .. count−1 (key k's row at data[k × stride]) where
   * `include` says true, chunked for searches within `cutBits`; the added part emptied.
   */
  remake(data: Uint32Array, stride: number, count: number, cutBits: number, include?: (key: number) => boolean): void {
    this.sorted = undefined; // the old arrays go before the new ones are made
    this.added = new ChunkTable(this.nbits, this.words);
    const m = sortedChunks(Math.max(1, count), this.nbits, Math.floor(cutBits), this.maxChunkBits);
    this.sorted = SortedTable.make(this.words, this.nbits, m, data, stride, count, include, this.shared);
  }

  /** The added part emptied, the sorted part kept (the caller remakes it before the next probe). */
  dropAdded(): void {
    this.added = new ChunkTable(this.nbits, this.words);
  }

  add(key: number, data: Uint32Array, at: number): void {
    this.added.add(key, data, at);
  }

  /** Removes a key added since the last remake (its row as added). */
  remove(key: number, data: Uint32Array, at: number): void {
    this.added.remove(key, data, at);
  }

  /**
   * Puts into `found` the slot of every key within `r` bits of q[qAt..]; keys of the added part
   * whose row is not beside them are read at data[slot × stride + view × words].
   */
  probeWithin(q: Uint32Array, qAt: number, r: number, data: Uint32Array, stride: number, found: Found, parts: TableParts = 'both'): void {
    if (parts !== 'added') this.sorted?.probeWithin(q, qAt, r, found);
    if (parts !== 'sorted') this.added.probeWithin(q, qAt, this.words, r, data, stride, found);
  }
}

/** Which parts of a table a probe reads: both, or one (a worker thread probes the sorted part, the owner the added part). */
export type TableParts = 'both' | 'sorted' | 'added';

/** What coarseCandidates needs of a table: a CoarseTable, or a sorted part alone (in a worker thread). */
export interface ProbedTable {
  readonly words: number;
  probeWithin(q: Uint32Array, qAt: number, r: number, data: Uint32Array, stride: number, found: Found, parts?: TableParts): void;
}

/** A sorted part alone, probed as a table (in a worker thread: index/search-worker.ts). */
export class SortedOnly implements ProbedTable {
  private readonly table: SortedTable;
  readonly words: number;
  constructor(parts: SortedParts) {
    this.table = new SortedTable(parts);
    this.words = parts.words;
  }
  probeWithin(q: Uint32Array, qAt: number, r: number, _data: Uint32Array, _stride: number, found: Found): void {
    this.table.probeWithin(q, qAt, r, found);
  }
}

/**
 * Whether view `v` of a slot whose K coarse views lie at data[base..] (`words` each) needs a key
 * in the views' table, where coarseCandidates looks up the query's upright among the stored
 * views. Not a strip view (the last `strips` views meet only the same strip view, in tables of
 * their own), not the upright where there is a view penalty (coarseCandidates then looks up the
 * query's upright among the uprights, within the whole radius: a wider search than this table's),
 * and not a view equal to one before it (its slot is found through that one, at the same
 * distance). A picture without a frame has its framed views equal to its whole ones: a fifth of
 * the views of most photos.
 */
export function viewSearched(data: Uint32Array, base: number, v: number, perFile: number, strips: number, words: number, penalty: number): boolean {
  if (!viewKeyable(v, perFile, strips, penalty)) return false;
  earlier: for (let u = 0; u < v; u++) {
    for (let w = 0; w < words; w++) if (data[base + u * words + w] !== data[base + v * words + w]) continue earlier;
    return false;
  }
  return true;
}

/** viewSearched's rule before any comparison: not a strip view, and not the upright under a view penalty. */
function viewKeyable(v: number, perFile: number, strips: number, penalty: number): boolean {
  return v < perFile - strips && (v > 0 || penalty <= 0);
}

/**
 * viewSearched for every view of slots 0 .. count−1 (K views each, `words` each, from data[0]),
 * as a mask of count × K keys: 1 where the key goes into the views' table. The equal views are
 * found through a small hash table per slot, not by comparing every pair.
 */
export function searchedViews(data: Uint32Array, count: number, perFile: number, strips: number, words: number, penalty: number): Uint8Array {
  const mask = new Uint8Array(count * perFile);
  const size = 128; // a power of two above twice K, for short probe sequences
  const seen = new Int32Array(size);
  const any = perFile - strips;
  for (let slot = 0; slot < count; slot++) {
    const base = slot * perFile * words;
    seen.fill(-1);
    for (let v = 0; v < any; v++) {
      const at = base + v * words;
      let h = 0;
      for (let w = 0; w < words; w++) h = Math.imul(h ^ data[at + w]!, 0x9e3779b1);
      let i = (h >>> 25) & (size - 1);
      let equal = false;
      for (; seen[i]! >= 0; i = (i + 1) & (size - 1)) {
        const u = base + seen[i]! * words;
        let same = true;
        for (let w = 0; w < words && same; w++) same = data[u + w] === data[at + w];
        if (same) {
          equal = true;
          break;
        }
      }
      if (equal) continue;
      seen[i] = v;
      if (viewKeyable(v, perFile, strips, penalty)) mask[slot * perFile + v] = 1;
    }
  }
  return mask;
}

/** Above this share of the views to measure, tables do not pay: every row is looked at. */
const WORTH = 0.35;

/** Whether searching `views` coarse views of `nbits` within `radius` through tables pays (else every row is looked at). */
export function coarseTablesPay(views: number, nbits: number, radius: number): boolean {
  return Number.isFinite(radius) && bestChunking(views, nbits, Math.floor(radius)).cost < WORTH * views;
}

/**
 * The slots whose coarse views may keep them in distancesToQuery within `radius`: every slot
 * with a view within `radius` of the query's upright view (the views' table: keys slot × K +
 * view), whose upright view lies within `radius` of one of the query's views (the uprights'
 * table: keys = slots), or — for the last views, the strip views, matched view for view — whose
 * strip view lies within `radius` of the query's same strip view (a table per strip view: keys =
 * slots). With a view penalty (`penalty` bits on these views, hash/views.ts), every comparison
 * but the two upright whole views must come within radius − penalty, and those two within the
 * whole radius: the query's upright is also looked up among the uprights within it. Each slot
 * once; slots of keys that changed since the sorted parts were made may be among them.
 *
 * `q`: the query's K coarse views (`words` each); `data`: the stored coarse views, K per slot.
 */
export function coarseCandidates(
  views: ProbedTable,
  uprights: ProbedTable,
  strips: ProbedTable[],
  q: Uint32Array,
  perFile: number,
  radius: number,
  data: Uint32Array,
  found: Omit<Found, 'perSlot' | 'onlyView'>,
  parts: TableParts = 'both',
  penalty = 0,
): void {
  const words = views.words;
  const any = perFile - strips.length;
  const bySlot: Found = { ...found, perSlot: 1, onlyView: -1 };
  const through = radius - penalty;
  if (penalty > 0) uprights.probeWithin(q, 0, radius, data, perFile * words, bySlot, parts);
  if (through < 0) return;
  views.probeWithin(q, 0, through, data, words, { ...found, perSlot: perFile, onlyView: -1 }, parts);
  // The query's view 0 met every stored view above, the stored upright ones among them; a view
  // equal to one before it would find the same slots again.
  next: for (let v = 1; v < any; v++) {
    for (let u = 0; u < v; u++) {
      let same = true;
      for (let w = 0; w < words && same; w++) same = q[u * words + w] === q[v * words + w];
      if (same) continue next;
    }
    uprights.probeWithin(q, v * words, through, data, perFile * words, bySlot, parts);
  }
  strips.forEach((table, i) => table.probeWithin(q, (any + i) * words, through, data.subarray((any + i) * words), perFile * words, bySlot, parts));
}
