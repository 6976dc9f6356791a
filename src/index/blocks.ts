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
 * the rows bucketed by key), and every view of every picture is looked up. A view and an
 * upright fingerprint that agree on some key and are within the cut make their two pictures a
 * pair. Two fingerprints d bits apart agree on a key with probability about (1 − d/nbits)^24,
 * so on at least one of 64 keys with probability 1 − 10⁻¹³ at 10 of 256 bits, 0.99 at 24 and
 * 0.93 at 32: nearly every pair of copies is found (and a copy usually has several views within
 * the cut), while two unrelated fingerprints agree on a key with probability 2⁻²⁴, so the
 * work is about TABLES × (n·K lookups + n·K·n/2²⁴ checks) — linear in n up to millions.
 *
 * Which pairs are found depends only on the two pictures' fingerprints: the keys are fixed, so
 * the result is the same whatever the order of the rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { hamming, type PackedFingerprints } from '../hash/bits.js';
import { PairBuilder, type PairList } from './pairs.js';

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
/** Tables looked up in one pass over the views (their bit sets, 2 MB each, stay in cache together). */
const TABLES_PER_PASS = 4;

/**
 * The byte positions of each key for fingerprints of `bytes` bytes: TABLES distinct sets of
 * KEY_BYTES distinct bytes, drawn by a fixed generator (so every database gets the same keys),
 * each byte used about equally often. Fingerprints of fewer than KEY_BYTES + 1 bytes get none.
 */
export function blockKeys(bytes: number, tables = TABLES): Uint8Array[] {
  if (bytes <= KEY_BYTES) return [];
  let state = 0x9e3779b9;
  const next = (): number => {
    // splitmix32
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
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
  /** Entries start[b] .. start[b + 1] − 1 hold the rows whose key's top bits are b. */
  start: Int32Array;
  /**
   * Entry p at p · (2 + words): the key, the row, and the row's fingerprint — together, so that a
   * lookup reads one place in memory instead of three.
   */
  entries: Uint32Array;
}

/** The index of the n upright rows (`fps`) for one key; `shift` drops the key bits that buckets ignore. */
function tableOf(key: Uint8Array, fps: PackedFingerprints, bytes: Uint8Array, shift: number): Table {
  const { count: n, words, data } = fps;
  const rowBytes = 4 * words;
  const [b0, b1, b2] = [key[0]!, key[1]!, key[2]!];
  const present = new Int32Array(1 << (KEY_BITS - 5));
  const keyOfRow = new Int32Array(n);
  const buckets = 1 << (KEY_BITS - shift);
  const start = new Int32Array(buckets + 1);
  for (let i = 0, at = 0; i < n; i++, at += rowBytes) {
    const k = bytes[at + b0]! | (bytes[at + b1]! << 8) | (bytes[at + b2]! << 16);
    keyOfRow[i] = k;
    present[k >>> 5]! |= 1 << (k & 31);
    start[(k >>> shift) + 1]!++;
  }
  for (let b = 0; b < buckets; b++) start[b + 1]! += start[b]!;
  const fill = start.slice(0, buckets);
  const stride = 2 + words;
  const entries = new Uint32Array(n * stride);
  for (let i = 0; i < n; i++) {
    const at = fill[keyOfRow[i]! >>> shift]!++ * stride;
    entries[at] = keyOfRow[i]!;
    entries[at + 1] = i;
    for (let w = 0; w < words; w++) entries[at + 2 + w] = data[i * words + w]!;
  }
  return { b0, b1, b2, present, start, entries };
}

/** The share of a search that one thread does: view rows [r0, r1) (their K-row blocks), and optionally the upright pairs. */
export interface BlockTask {
  perFile: number;
  cutBits: number;
  tables: number;
  /** First view row of `views` (a slice of the views holds rows r0 ..). */
  r0: number;
  r1: number;
  /** Also the pairs of upright fingerprints that agree on a key (done by one thread only). */
  uprightPairs: boolean;
}

/**
 * The candidate pairs of one thread's share (see blockPairsWithin), each as often as it was
 * found through a different view pair: (a[p], b[p]) with a < b. `views` holds rows task.r0 ..
 * task.r1 − 1 (its row 0 is row r0).
 */
export function blockPairsRange(upright: PackedFingerprints, views: PackedFingerprints, task: BlockTask): { a: Int32Array; b: Int32Array; length: number } {
  const { perFile, cutBits, r0, r1 } = task;
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
  const upBytes = new Uint8Array(upright.data.buffer, upright.data.byteOffset, n * rowBytes);
  const viewBytes = new Uint8Array(views.data.buffer, views.data.byteOffset, (r1 - r0) * rowBytes);
  const viewData = views.data;
  const shift = KEY_BITS - Math.min(KEY_BITS, Math.max(8, Math.ceil(Math.log2(n)))); // about one row per bucket
  // Whether rows at byte offsets xAt of x and yAt of y agree on a key before key t: the pair was found there.
  const agreedBefore = (t: number, x: Uint8Array, xAt: number, y: Uint8Array, yAt: number): boolean => {
    for (let s = 0; s < t; s++) {
      const key = keys[s]!;
      if (x[xAt + key[0]!] === y[yAt + key[0]!] && x[xAt + key[1]!] === y[yAt + key[1]!] && x[xAt + key[2]!] === y[yAt + key[2]!]) return true;
    }
    return false;
  };
  const note = (i: number, j: number): void => (i < j ? found.push(i, j, 0) : found.push(j, i, 0));
  const stride = 2 + words;
  // The uprights with key k in `table` (key number t), checked against local view row q (not a view 0).
  const lookUp = (table: Table, t: number, k: number, q: number): void => {
    const { start, entries } = table;
    const j = Math.floor((r0 + q) / perFile);
    const b = k >>> shift;
    for (let p = start[b]!, end = start[b + 1]!; p < end; p++) {
      const at = p * stride;
      if (entries[at] !== k) continue;
      const i = entries[at + 1]!;
      if (i === j || hamming(entries, at + 2, viewData, q * words, words, cutBits) > cutBits) continue;
      if (!agreedBefore(t, upBytes, i * rowBytes, viewBytes, q * rowBytes)) note(i, j);
    }
  };
  // Pairs of uprights (view 0 against upright) with the same key: they share a bucket.
  const uprightPairs = (table: Table, t: number): void => {
    const { start, entries } = table;
    for (let b = 0; b + 1 < start.length; b++) {
      for (let p = start[b]!, end = start[b + 1]!; p < end; p++) {
        for (let q = p + 1; q < end; q++) {
          const [x, y] = [p * stride, q * stride];
          if (entries[x] !== entries[y] || hamming(entries, x + 2, entries, y + 2, words, cutBits) > cutBits) continue;
          const [i, j] = [entries[x + 1]!, entries[y + 1]!];
          if (!agreedBefore(t, upBytes, i * rowBytes, upBytes, j * rowBytes)) note(i, j);
        }
      }
    }
  };
  const rowsCount = r1 - r0;
  // A view that repeats the same orientation of the whole picture (the framed view of a picture
  // without a frame, most of them) finds what that one finds: looked up once.
  const repeated = new Uint8Array(rowsCount);
  for (let q = 0, v = r0 % perFile; q < rowsCount; q++, v = v + 1 === perFile ? 0 : v + 1) {
    if (v < 8) continue;
    const same = q - v + (v % 8);
    let w = 0;
    while (w < words && viewData[q * words + w] === viewData[same * words + w]) w++;
    repeated[q] = w === words ? 1 : 0;
  }
  for (let t0 = 0; t0 < keys.length; t0 += TABLES_PER_PASS) {
    // Up to four tables per pass, unrolled: the loop below is most of the cost at a million pictures.
    const pass = keys.slice(t0, t0 + TABLES_PER_PASS).map((key) => tableOf(key, upright, upBytes, shift));
    if (task.uprightPairs) pass.forEach((table, s) => uprightPairs(table, t0 + s));
    while (pass.length < TABLES_PER_PASS) pass.push(pass[0]!); // unused slots (tB..tD < 0) are never looked up
    const [A, B, C, D] = pass as [Table, Table, Table, Table];
    const pa = A.present, pb = B.present, pc = C.present, pd = D.present;
    const a0 = A.b0, a1 = A.b1, a2 = A.b2, b0 = B.b0, b1 = B.b1, b2 = B.b2;
    const c0 = C.b0, c1 = C.b1, c2 = C.b2, d0 = D.b0, d1 = D.b1, d2 = D.b2;
    const tB = t0 + 1 < keys.length ? t0 + 1 : -1;
    const tC = t0 + 2 < keys.length ? t0 + 2 : -1;
    const tD = t0 + 3 < keys.length ? t0 + 3 : -1;
    for (let q = 0, at = 0, v = r0 % perFile; q < rowsCount; q++, at += rowBytes, v = v + 1 === perFile ? 0 : v + 1) {
      if (v === 0 || repeated[q] === 1) continue; // upright against upright: uprightPairs
      const ka = viewBytes[at + a0]! | (viewBytes[at + a1]! << 8) | (viewBytes[at + a2]! << 16);
      const kb = viewBytes[at + b0]! | (viewBytes[at + b1]! << 8) | (viewBytes[at + b2]! << 16);
      const kc = viewBytes[at + c0]! | (viewBytes[at + c1]! << 8) | (viewBytes[at + c2]! << 16);
      const kd = viewBytes[at + d0]! | (viewBytes[at + d1]! << 8) | (viewBytes[at + d2]! << 16);
      if ((pa[ka >>> 5]! & (1 << (ka & 31))) !== 0) lookUp(A, t0, ka, q);
      if ((pb[kb >>> 5]! & (1 << (kb & 31))) !== 0 && tB >= 0) lookUp(B, tB, kb, q);
      if ((pc[kc >>> 5]! & (1 << (kc & 31))) !== 0 && tC >= 0) lookUp(C, tC, kc, q);
      if ((pd[kd >>> 5]! & (1 << (kd & 31))) !== 0 && tD >= 0) lookUp(D, tD, kd, q);
    }
  }
  return result();
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
 * Every pair of pictures i < j such that, for some view v and some key, picture i's upright
 * fingerprint and view v of picture j (or the other way round) agree on the key and are within
 * `cutBits`. Returns each pair once, ordered by (i, j), as candidates: their `bits` are 0, and the
 * caller measures the pictures' distance (at most cutBits, since a view pair is within it).
 * `upright`: n rows; `views`: K rows per picture (row K·i + v, view 0 upright), of the same
 * width. On two threads from `split.minRows` view rows on. Throws nothing.
 */
export function blockPairsWithin(
  upright: PackedFingerprints,
  views: PackedFingerprints,
  perFile: number,
  cutBits: number,
  tables = tablesFor(cutBits, views.nbits),
  split: BlockSplit = {},
): PairList {
  const n = upright.count;
  const task: BlockTask = { perFile, cutBits, tables, r0: 0, r1: views.count, uprightPairs: true };
  split.threads = 1;
  if (views.count >= (split.minRows ?? PARALLEL_MIN_ROWS) && os.availableParallelism() >= 2 && n >= 2) {
    // The second half of the pictures' views to a worker (a copy it shares: half the views' memory).
    const half = Math.floor(n / 2) * perFile;
    const both = onTwoThreads(upright, views, { ...task, r0: half, uprightPairs: false }, () => blockPairsRange(upright, sliceRows(views, 0, half), { ...task, r1: half }));
    if (both) {
      split.threads = 2;
      return uniquePairs(both, n);
    }
  }
  return uniquePairs([blockPairsRange(upright, views, task)], n);
}

/** Rows [r0, r1) of `fps` as fingerprints of their own (no copy). */
function sliceRows(fps: PackedFingerprints, r0: number, r1: number): PackedFingerprints {
  return { ...fps, count: r1 - r0, data: fps.data.subarray(r0 * fps.words, r1 * fps.words) };
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
      views: { count: task.r1 - task.r0, nbits: views.nbits, words: views.words, ...share(views.data.subarray(task.r0 * views.words, task.r1 * views.words)) },
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
