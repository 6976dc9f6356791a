/**
 * Candidate pairs of pictures from exact-key blocks of their fingerprints (bit-sampling
 * locality-sensitive hashing, Indyk & Motwani 1998; Gionis, Indyk & Motwani 1999), for
 * clustering a million pictures of K views each. Pure computation.
 *
 * Two pictures are near when one's upright fingerprint is within the cut of any view of the
 * other (index/views.ts). An exact search for that at 32 of 256 bits over K = 32 views per
 * picture cannot be fast at a million pictures: multi-index hashing needs chunks of about
 * log2(n) bits searched within a radius of several bits, and its work grows about as n². Here
 * instead each of TABLES keys takes KEY_BYTES fixed bytes (24 bits) of a fingerprint; only the
 * n upright fingerprints are indexed (a bit set of their keys, 2 MB, which stays in cache, and
 * the rows bucketed by key), and every view of every picture (but its strip views) is looked up. A view and an
 * upright fingerprint that agree on some key and are within the cut make their two pictures a
 * pair. Two fingerprints d bits apart agree on a key with probability about (1 − d/nbits)^24,
 * so on at least one of 64 keys with probability 1 − 10⁻¹³ at 10 of 256 bits, 0.99 at 24 and
 * 0.93 at 32: nearly every pair of copies is found (and a copy usually has several views within
 * the cut), while two unrelated fingerprints agree on a key with probability 2⁻²⁴, so the
 * work is about TABLES × (n·K lookups + n·K·n/2²⁴ checks) — linear in n up to millions.
 *
 * Which pairs are found depends only on the two pictures' fingerprints: the keys are fixed, so
 * the result is the same whatever the order of the rows.
 *
 * With the view penalty (hash/views.ts; index/views.ts verifiedPairsWithin) views are looked up
 * within the cut less the penalty, and the upright pictures' pairs within the whole cut come from
 * keys of their own: sampledPairsAmong, the same byte keys on the upright rows under fixed
 * permutations of their bits (bit sampling), which whole-byte keys cannot stand in for when the
 * differing bits are spread one to a byte.
 *
 * How it runs (test/bench/cluster.mjs measures it at a million pictures of 38 views): one key at
 * a time, so that the loop over the views reads at random only that key's bit set; views whose
 * key is present are looked up in batches, so that their misses of cache overlap; each of two
 * threads takes half of the keys over all views (each key's table is built once), the views in
 * memory both threads share. The work per key is about n·K reads of the bit set, and about
 * n·K·n/2²⁴ lookups that miss the cache (6 % of the views at a million pictures).
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { hamming, type PackedFingerprints } from '../hash/bits.js';
import { PairBuilder, type PairList } from './pairs.js';
import { splitmix32 } from '../util/random.js';

/**
 * Number of keys (tables) at find's default cut, 32 of 256 bits. Measured on the edits benchmark
 * (test/bench/accuracy-find.mjs, recall of find's clusters; the exact search: 0.7236): 48 keys
 * 0.7068, 64 keys 0.7192, 80 and more 0.7214; the library and make-variants sets lose no pair.
 */
export const TABLES = 64;

/** Beyond this many keys the exact search is the cheaper one (cuts above about 45 of 256 bits). */
export const MAX_TABLES = 256;

/**
 * Keys for a cut of `cutBits` of `nbits`: as many as keep the chance that a view pair right at
 * the cut agrees on no key what it is with TABLES keys at 32 of 256 bits (7 %), and never fewer
 * than TABLES, in whole passes. A looser cut needs more keys (40 of 256 bits: 156), since a key
 * of far-apart fingerprints agrees less often.
 */
export function tablesFor(cutBits: number, nbits: number): number {
  const agree = (d: number): number => (1 - d / nbits) ** KEY_BITS;
  const missAtDefault = (1 - agree((32 / 256) * nbits)) ** TABLES;
  const needed = Math.log(missAtDefault) / Math.log(1 - agree(Math.max(0, Math.min(cutBits, nbits / 2))));
  return Math.ceil(Math.max(TABLES, needed) / TABLES_PER_PASS) * TABLES_PER_PASS;
}
/** Bytes of a fingerprint a key is made of: 24 bits, so that a random view meets an indexed key rarely. */
export const KEY_BYTES = 3;
const KEY_BITS = 8 * KEY_BYTES;
/** Views looked up together (index/blocks.ts' batches of lookups). */
const BATCH = 256;
/** Keys of a cut are taken in whole multiples of this (and split so between two threads). */
const TABLES_PER_PASS = 4;

/**
 * The byte positions of each key for fingerprints of `bytes` bytes: TABLES distinct sets of
 * KEY_BYTES distinct bytes, drawn by a fixed generator (so every database gets the same keys),
 * each byte used about equally often. Fingerprints of fewer than KEY_BYTES + 1 bytes get none.
 */
export function blockKeys(bytes: number, tables = TABLES): Uint8Array[] {
  if (bytes <= KEY_BYTES) return [];
  const next = splitmix32(0x9e3779b9);
  const used = new Uint32Array(bytes);
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  let tries = 0;
  while (keys.length < tables && tries++ < 100 * tables) {
    // The least used bytes first, ties broken at random: bytes are used evenly.
    const order = Array.from({ length: bytes }, (_, b) => [used[b]!, next(), b] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const pick = order.slice(0, KEY_BYTES + 2).map(([, , b]) => b);
    // From the few least used, KEY_BYTES at random.
    const chosen: number[] = [];
    while (chosen.length < KEY_BYTES) {
      const b = pick[next() % pick.length]!;
      if (!chosen.includes(b)) chosen.push(b);
    }
    chosen.sort((x, y) => x - y);
    const name = chosen.join(',');
    if (seen.has(name)) continue;
    seen.add(name);
    for (const b of chosen) used[b]!++;
    keys.push(Uint8Array.from(chosen));
  }
  return keys;
}

/** One key's index of the upright fingerprints. */
interface Table {
  /** Byte positions of the key in a row. */
  b0: number;
  b1: number;
  b2: number;
  /** Bit k set when some upright fingerprint has key k. */
  present: Int32Array;
  /** Bit k set when more than one has. */
  shared: Int32Array;
  /** Entries start[b] .. start[b + 1] − 1 hold the rows whose key's top bits are b. */
  start: Int32Array;
  /**
   * Entry p at p · (2 + words): the key, the row, and the row's fingerprint — together, so that a
   * lookup reads one place in memory instead of three.
   */
  entries: Uint32Array;
}

/** The memory of one key's table, reused for the next key (allocating and clearing 50 MB per key at a million pictures cost as much as filling it). */
interface TableSpace {
  present: Int32Array;
  shared: Int32Array;
  start: Int32Array;
  fill: Int32Array;
  keyOfRow: Int32Array;
  entries: Uint32Array;
}

function tableSpace(n: number, words: number, shift: number): TableSpace {
  const buckets = 1 << (KEY_BITS - shift);
  return {
    present: new Int32Array(1 << (KEY_BITS - 5)),
    shared: new Int32Array(1 << (KEY_BITS - 5)),
    start: new Int32Array(buckets + 1),
    fill: new Int32Array(buckets),
    keyOfRow: new Int32Array(n),
    entries: new Uint32Array(n * (2 + words)),
  };
}

/** The index of the n upright rows (`fps`) for one key, in `space`; `shift` drops the key bits that buckets ignore. */
function tableOf(key: Uint8Array, fps: PackedFingerprints, bytes: Uint8Array, shift: number, space: TableSpace): Table {
  const { count: n, words, data } = fps;
  const rowBytes = 4 * words;
  const [b0, b1, b2] = [key[0]!, key[1]!, key[2]!];
  const { present, shared, start, fill, keyOfRow, entries } = space;
  present.fill(0);
  shared.fill(0);
  start.fill(0);
  const buckets = fill.length;
  for (let i = 0, at = 0; i < n; i++, at += rowBytes) {
    const k = bytes[at + b0]! | (bytes[at + b1]! << 8) | (bytes[at + b2]! << 16);
    keyOfRow[i] = k;
    const bit = 1 << (k & 31);
    if (present[k >>> 5]! & bit) shared[k >>> 5]! |= bit;
    else present[k >>> 5]! |= bit;
    start[(k >>> shift) + 1]!++;
  }
  for (let b = 0; b < buckets; b++) start[b + 1]! += start[b]!;
  fill.set(start.subarray(0, buckets));
  const stride = 2 + words;
  for (let i = 0; i < n; i++) {
    const at = fill[keyOfRow[i]! >>> shift]!++ * stride;
    entries[at] = keyOfRow[i]!;
    entries[at + 1] = i;
    for (let w = 0; w < words; w++) entries[at + 2 + w] = data[i * words + w]!;
  }
  return { b0, b1, b2, present, shared, start, entries };
}

/** The share of a search that one thread does: keys [k0, k1) of the `tables` keys, over every view. */
export interface BlockTask {
  perFile: number;
  /** The last `self` views of each picture (strip views) are paired elsewhere: not looked up here. */
  self: number;
  cutBits: number;
  tables: number;
  k0: number;
  k1: number;
}

/**
 * Whether the rows at byte offsets xAt of x and yAt of y agree on one of the keys before key t:
 * the pair was found there (by whichever thread had that key).
 */
function agreedBefore(keys: readonly Uint8Array[], t: number, x: Uint8Array, xAt: number, y: Uint8Array, yAt: number): boolean {
  for (let s = 0; s < t; s++) {
    const key = keys[s]!;
    if (x[xAt + key[0]!] === y[yAt + key[0]!] && x[xAt + key[1]!] === y[yAt + key[1]!] && x[xAt + key[2]!] === y[yAt + key[2]!]) return true;
  }
  return false;
}

/** The bytes of packed rows, as keys read them. */
const bytesOf = (fps: PackedFingerprints): Uint8Array => new Uint8Array(fps.data.buffer, fps.data.byteOffset, fps.count * 4 * fps.words);

/**
 * The candidate pairs of one thread's share (see blockPairsWithin), each as often as it was
 * found through a different view pair: (a[p], b[p]) with a < b. Keys before task.k0 are another
 * thread's: a pair that agrees on one of them is left to it.
 */
export function blockPairsRange(upright: PackedFingerprints, views: PackedFingerprints, task: BlockTask): { a: Int32Array; b: Int32Array; length: number } {
  const { perFile, self, cutBits, k0, k1 } = task;
  const n = upright.count;
  const words = views.words;
  const rowBytes = 4 * words;
  const keys = blockKeys(Math.floor(views.nbits / 8), task.tables);
  const found = new PairBuilder();
  const result = (): { a: Int32Array; b: Int32Array; length: number } => {
    const p = found.build();
    return { a: p.a, b: p.b, length: p.length };
  };
  if (n < 2 || cutBits < 0 || keys.length === 0) return result();
  const upBytes = bytesOf(upright);
  const viewBytes = bytesOf(views);
  const viewData = views.data;
  const shift = KEY_BITS - Math.min(KEY_BITS, Math.max(8, Math.ceil(Math.log2(n)))); // about one row per bucket
  const note = (i: number, j: number): void => (i < j ? found.push(i, j, 0) : found.push(j, i, 0));
  const stride = 2 + words;
  // Pairs of uprights (view 0 against upright) with the same key: they share a bucket.
  const uprightPairs = (table: Table, t: number): void => {
    const { start, entries } = table;
    for (let b = 0; b + 1 < start.length; b++) {
      for (let p = start[b]!, end = start[b + 1]!; p < end; p++) {
        for (let q = p + 1; q < end; q++) {
          const [x, y] = [p * stride, q * stride];
          if (entries[x] !== entries[y] || hamming(entries, x + 2, entries, y + 2, words, cutBits) > cutBits) continue;
          const [i, j] = [entries[x + 1]!, entries[y + 1]!];
          if (!agreedBefore(keys, t, upBytes, i * rowBytes, upBytes, j * rowBytes)) note(i, j);
        }
      }
    }
  };
  const rowsCount = views.count;
  // A view that repeats the same orientation of the whole picture (the framed view of a picture
  // without a frame, most of them) finds what that one finds: looked up once. Upright views
  // (view 0) are looked up by uprightPairs; strip views (the last `self`) are compared with the
  // same strip view only, never with an upright one. The rows left, in order.
  const looked = new Int32Array(rowsCount);
  let lookedCount = 0;
  for (let q = 0, v = 0; q < rowsCount; q++, v = v + 1 === perFile ? 0 : v + 1) {
    if (v === 0 || v >= perFile - self) continue;
    if (v >= 8) {
      const same = q - v + (v % 8);
      let w = 0;
      while (w < words && viewData[q * words + w] === viewData[same * words + w]) w++;
      if (w === words) continue;
    }
    looked[lookedCount++] = q;
  }
  // One key at a time: its bit set of keys present (2 MB) is the only thing the loop over the
  // views reads at random, and stays in cache; four at once ran three times slower per key.
  // Views whose key is present are looked up in batches: first where each one's bucket starts,
  // for all of them, then a read of each first entry, then the checks. The reads of one step do
  // not wait for each other, so the memory serves many at once instead of one after another
  // (a lookup alone waited on two misses of cache: the bucket's start, then its entries).
  const hitQ = new Int32Array(BATCH);
  const hitK = new Int32Array(BATCH);
  const hitP = new Int32Array(BATCH + 1);
  const hitEnd = new Int32Array(BATCH);
  let touched = 0;
  const flush = (table: Table, t: number, h: number): void => {
    const { start, entries } = table;
    for (let x = 0; x < h; x++) {
      const b = hitK[x]! >>> shift;
      hitP[x] = start[b]!;
      hitEnd[x] = start[b + 1]!;
    }
    // Each first entry's key word and last word (an entry may straddle two lines of cache).
    for (let x = 0; x < h; x++) touched ^= entries[hitP[x]! * stride]! ^ entries[hitP[x]! * stride + stride - 1]!;
    for (let x = 0; x < h; x++) {
      const q = hitQ[x]!;
      const k = hitK[x]!;
      const j = Math.floor(q / perFile);
      for (let p = hitP[x]!, end = hitEnd[x]!; p < end; p++) {
        const at = p * stride;
        if (entries[at] !== k) continue;
        const i = entries[at + 1]!;
        if (i === j || hamming(entries, at + 2, viewData, q * words, words, cutBits) > cutBits) continue;
        if (!agreedBefore(keys, t, upBytes, i * rowBytes, viewBytes, q * rowBytes)) note(i, j);
      }
    }
  };
  const space = tableSpace(n, words, shift);
  for (let t = k0; t < Math.min(k1, keys.length); t++) {
    const table = tableOf(keys[t]!, upright, upBytes, shift, space);
    uprightPairs(table, t);
    const { present, shared, b0, b1, b2 } = table;
    let h = 0;
    for (let r = 0; r < lookedCount; r++) {
      const q = looked[r]!;
      const at = q * rowBytes;
      const k = viewBytes[at + b0]! | (viewBytes[at + b1]! << 8) | (viewBytes[at + b2]! << 16);
      if (((present[k >>> 5]! >>> (k & 31)) & 1) === 0) continue;
      // A view with its own picture's key, which no other picture has, finds only its own picture
      // (many do: a turn or crop keeps some bytes of the bits).
      const own = Math.floor(q / perFile) * rowBytes;
      if (k === (upBytes[own + b0]! | (upBytes[own + b1]! << 8) | (upBytes[own + b2]! << 16)) && ((shared[k >>> 5]! >>> (k & 31)) & 1) === 0) continue;
      hitQ[h] = q;
      hitK[h++] = k;
      if (h === BATCH) {
        flush(table, t, h);
        h = 0;
      }
    }
    flush(table, t, h);
  }
  if (touched === 0.5) throw new Error('unreachable'); // keeps the reads above from being optimised away
  return result();
}

/**
 * The pairs of rows that agree on some key and are within `cutBits`: what blockPairsWithin finds
 * among pictures of one view each (the strip views of index/views.ts, each against the same
 * strip view of the others), without its tables: per key, a bit set of the keys seen and one of
 * the keys seen twice pick out the few rows that share a key (about n²/2²⁵ by chance), which are
 * then sorted by key and compared. Each pair once, ordered by (i, j).
 */
export function keyedPairsAmong(rows: PackedFingerprints, cutBits: number, tables = tablesFor(cutBits, rows.nbits)): PairList {
  const n = rows.count;
  const words = rows.words;
  const rowBytes = 4 * words;
  const keys = blockKeys(Math.floor(rows.nbits / 8), tables);
  const found = new PairBuilder();
  if (n < 2 || cutBits < 0 || keys.length === 0) return uniquePairs([found.build()], n);
  const bytes = bytesOf(rows);
  const data = rows.data;
  const seen = new Int32Array(1 << (KEY_BITS - 5));
  const twice = new Int32Array(1 << (KEY_BITS - 5));
  const keyOfRow = new Int32Array(n);
  for (let t = 0; t < keys.length; t++) {
    const [b0, b1, b2] = [keys[t]![0]!, keys[t]![1]!, keys[t]![2]!];
    seen.fill(0);
    twice.fill(0);
    let shared = 0;
    for (let i = 0, at = 0; i < n; i++, at += rowBytes) {
      const k = bytes[at + b0]! | (bytes[at + b1]! << 8) | (bytes[at + b2]! << 16);
      keyOfRow[i] = k;
      const bit = 1 << (k & 31);
      if ((seen[k >>> 5]! & bit) === 0) seen[k >>> 5]! |= bit;
      else if ((twice[k >>> 5]! & bit) === 0) {
        twice[k >>> 5]! |= bit;
        shared++;
      }
    }
    if (shared === 0) continue;
    // The rows whose key another row has, as key · n + row: sorted, equal keys are neighbours.
    const sharing: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = keyOfRow[i]!;
      if ((twice[k >>> 5]! >>> (k & 31)) & 1) sharing.push(k * n + i);
    }
    const order = Float64Array.from(sharing).sort();
    for (let p = 0; p < order.length; p++) {
      const k = Math.floor(order[p]! / n);
      const i = order[p]! % n;
      for (let q = p + 1; q < order.length && Math.floor(order[q]! / n) === k; q++) {
        const j = order[q]! % n;
        if (hamming(data, i * words, data, j * words, words, cutBits) > cutBits) continue;
        if (!agreedBefore(keys, t, bytes, i * rowBytes, bytes, j * rowBytes)) found.push(i, j, 0);
      }
    }
  }
  return uniquePairs([found.build()], n);
}

/** Keys per permutation in sampledPairsAmong. */
const KEYS_PER_ROUND = 32;

/**
 * The rows with their bits moved by the `round`-th of a fixed series of random permutations of
 * the `nbits` positions (the same for every database, so which pairs are found depends only on
 * the two rows). Distances between rows are kept.
 */
export function permutedRows(rows: PackedFingerprints, round: number): PackedFingerprints {
  const { count, nbits, words, data } = rows;
  const next = splitmix32(0x2545f491 + Math.imul(round + 1, 0x9e3779b9));
  const to = Int32Array.from({ length: nbits }, (_, i) => i);
  for (let i = nbits - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [to[i], to[j]] = [to[j]!, to[i]!];
  }
  const out = new Uint32Array(count * words);
  for (let r = 0, at = 0; r < count; r++, at += words) {
    for (let w = 0; w < words; w++) {
      let x = data[at + w]!;
      while (x !== 0) {
        const low = x & -x;
        const bit = to[w * 32 + 31 - Math.clz32(low)]!;
        out[at + (bit >>> 5)]! |= 1 << (bit & 31);
        x ^= low;
      }
    }
  }
  return { count, nbits, words, data: out };
}

/**
 * The pairs of rows within `cutBits` that keys of bits drawn at random from the whole row find
 * (bit sampling), each pair once, ordered by (i, j): keyedPairsAmong on the rows under a few
 * fixed permutations of their bits (KEYS_PER_ROUND byte keys each). Whole-byte keys of the rows
 * as they are miss pairs whose differing bits are spread one to a byte (a brightened copy, 36 of
 * 256 bits from its original, differs in 25 of the 32 bytes: a key of 3 of its 7 clean bytes is
 * rare); under a random permutation two rows d bits apart agree on a key with probability about
 * (1 − d/nbits)^24 whatever the layout of their differences. For rows of one view each (the
 * upright pictures), where a pass over the rows is cheap.
 */
export function sampledPairsAmong(rows: PackedFingerprints, cutBits: number, tables = tablesFor(cutBits, rows.nbits)): PairList {
  const lists: Found[] = [];
  for (let round = 0; round * KEYS_PER_ROUND < tables; round++) lists.push(keyedPairsAmong(permutedRows(rows, round), cutBits, KEYS_PER_ROUND));
  return uniquePairs(lists, rows.count);
}

/** View rows from which the search is split over two threads (below it a thread's start does not pay). */
const PARALLEL_MIN_ROWS = 1 << 20;

/** How a search ran: for tests and diagnostics. */
export interface BlockSplit {
  /** View rows from which a second thread is started (default PARALLEL_MIN_ROWS). */
  minRows?: number;
  /** Set by the search: the threads it ran on (2 only when the worker did its share). */
  threads?: number;
}

/**
 * Every pair of pictures i < j such that, for some view v (not one of the last `self`, the strip
 * views, which are compared with the same strip view only) and some key, picture i's upright
 * fingerprint and view v of picture j (or the other way round) agree on the key and are within
 * `cutBits`. Returns each pair once, ordered by (i, j), as candidates: their `bits` are 0, and the
 * caller measures the pictures' distance (at most cutBits, since a view pair is within it).
 * `upright`: n rows; `views`: K rows per picture (row K·i + v, view 0 upright), of the same
 * width. On two threads (half of the keys each) from `split.minRows` view rows on. Throws nothing.
 */
export function blockPairsWithin(
  upright: PackedFingerprints,
  views: PackedFingerprints,
  perFile: number,
  cutBits: number,
  tables = tablesFor(cutBits, views.nbits),
  split: BlockSplit = {},
  self = 0,
): PairList {
  const n = upright.count;
  // One view per picture: its upright one, so only pairs of uprights are to be found.
  if (perFile === 1) return keyedPairsAmong(upright, cutBits, tables);
  const task: BlockTask = { perFile, self, cutBits, tables, k0: 0, k1: tables };
  split.threads = 1;
  if (views.count >= (split.minRows ?? PARALLEL_MIN_ROWS) && os.availableParallelism() >= 2 && n >= 2 && tables > TABLES_PER_PASS) {
    // The later half of the keys (in whole passes) to a worker, which reads the same rows: each
    // key's table is built once.
    const half = Math.ceil(tables / 2 / TABLES_PER_PASS) * TABLES_PER_PASS;
    const both = onTwoThreads(upright, views, { ...task, k0: half }, () => blockPairsRange(upright, views, { ...task, k1: half }));
    if (both) {
      split.threads = 2;
      return uniquePairs(both, n);
    }
  }
  return uniquePairs([blockPairsRange(upright, views, task)], n);
}

type Found = { a: Int32Array; b: Int32Array; length: number };

/** Rows handed to the worker: their words start `offset` bytes into `data`. */
export interface SharedRows {
  data: SharedArrayBuffer;
  offset: number;
}

/**
 * Runs `task` on a worker thread while `mine` runs here, and returns both results; undefined when
 * the worker cannot be started or fails (the caller then does everything here). The search stays
 * synchronous: this thread waits for the worker with Atomics.wait and takes its answer with
 * receiveMessageOnPort (as wasm/scan.ts does).
 */
function onTwoThreads(upright: PackedFingerprints, views: PackedFingerprints, task: BlockTask, mine: () => Found): Found[] | undefined {
  const script = new URL('./blocks-worker.js', import.meta.url);
  if (!fs.existsSync(fileURLToPath(script))) return undefined;
  // Rows already in shared memory (as the database reader leaves them) are handed over as they
  // are; others are copied into it.
  const share = (data: Uint32Array): SharedRows => {
    if (data.buffer instanceof SharedArrayBuffer) return { data: data.buffer, offset: data.byteOffset };
    const shared = new SharedArrayBuffer(data.byteLength);
    new Uint32Array(shared).set(data);
    return { data: shared, offset: 0 };
  };
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(script, {
    workerData: {
      upright: { count: upright.count, nbits: upright.nbits, words: upright.words, ...share(upright.data) },
      views: { count: views.count, nbits: views.nbits, words: views.words, ...share(views.data) },
      task,
      done: done.buffer,
      port: port2,
    },
    transferList: [port2],
  });
  try {
    const local = mine();
    // The worker raises `done` whatever happens to it (blocks-worker.ts); one that has not
    // answered ten minutes after this thread's share is taken for lost.
    for (let waited = 0; Atomics.load(done, 0) === 0 && waited < 600; waited++) Atomics.wait(done, 0, 0, 1000);
    const reply = receiveMessageOnPort(port1)?.message as { result?: Found; error?: string } | undefined;
    if (!reply?.result) return undefined;
    return [local, reply.result];
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/** Each pair of the lists once, ordered by (i, j), its distance 0 (candidates: the caller measures them). */
export function uniquePairs(lists: readonly Found[], n: number): PairList {
  const keys = new Float64Array(lists.reduce((s, l) => s + l.length, 0));
  let at = 0;
  for (const l of lists) for (let p = 0; p < l.length; p++) keys[at++] = l.a[p]! * n + l.b[p]!; // < 2^53 for n < 9·10^7
  keys.sort();
  const out = new PairBuilder();
  for (let p = 0; p < keys.length; p++) {
    const key = keys[p]!;
    if (p > 0 && key === keys[p - 1]) continue;
    out.push(Math.floor(key / n), key % n, 0);
  }
  return out.build();
}
