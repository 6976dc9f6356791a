/**
 * The fingerprint database: an HDF5 file that h5py and numpy read as it is.
 *
 *   /files         n UTF-8 strings (variable length): absolute paths, sorted
 *   /fps           n × nbits uint8, 0/1: the upright fingerprint of each file, row-major bits
 *   /flat          n uint8: 1 for a flat (uniform) picture, left out of clusters by default
 *   /escaped       n uint8: 1 where the path is not valid UTF-8 and is written with its odd bytes
 *                  as \\xHH (and "\\" as "\\\\"); see src/walk/fspath.ts
 *   /size, /mtime  n float64: the file's size in bytes and modification time (ms since 1970),
 *                  by which an incremental run recognises unchanged files
 *   /views         n × K × ⌈nbits/8⌉ uint8, only with --orientations or --crops: the fingerprints
 *                  of each file's K views (its 8 orientations and/or central crops, view 0 the
 *                  whole picture upright; see src/hash/views.ts), bits packed as numpy's
 *                  packbits does (first bit in the high bit): np.unpackbits(..., axis=-1)
 *   /coarse        n × K × ⌈coarse_x²/8⌉ uint8, only with coarse_x: the same K views hashed at
 *                  coarse_x (fewer bits), packed as views; they find candidate pairs fast
 *   /not_duplicates m × 2 UTF-8 strings (variable length), only when some were recorded: pairs of
 *                  paths the user marked "not duplicates" (report page → dedupe --plan --apply);
 *                  such a pair is never joined by clustering. Paths with escapes are written as in
 *                  /files, flagged in /not_duplicates_escaped (m × 2 uint8)
 *   /metadata      n UTF-8 strings (variable length), only in a database written by the library
 *                  API or `imgcmp serve` (src/api): the JSON text of each entry's metadata, ""
 *                  where it has none. Kept by path when another command rewrites the database
 *   attrs          method, x, nbits, orientations (0/1), crops (0/1), views (K), resample,
 *                  hash_version, format, creator; borders (1), edits (1) and coarse_x where used
 *                  (with edits, the last views are upright-only views of small turns and of the
 *                  picture without a strip at its bottom and top: see src/hash/views.ts)
 *
 * Databases written by the Python imgcmp (files as fixed-length byte strings, fps as int64 or
 * int32, no attributes) are read too: phash with x = √nbits, resampled by Pillow.
 *
 * Writes never touch the old file until the new one is complete: the database is written beside
 * it under a temporary name and renamed over it (rename is atomic on one file system).
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type h5wasmModule from 'h5wasm/node';
import { bitsReversedInBytes, fromPackbits, packRows, toPackbits, unpackRows, wordsFor, type PackedFingerprints } from '../hash/bits.js';
import { HASH_VERSION, type HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import { hasHdf5Signature } from './guard.js';
import { ImgcmpError } from '../util/errors.js';
import { realTarget, withTemporary } from '../util/safe-write.js';
import { compiledOnBaseline } from '../util/wasm-tiers.js';
import { escapeForDb, hasEscapes, unescapeFromDb } from '../walk/fspath.js';

/**
 * Version of the layout written here; bumped when datasets or attribute meanings change. 3: the
 * edit views (attribute edits); written only where they are, so that older imgcmp versions refuse
 * such a file instead of misreading its views.
 */
const DB_FORMAT = 3;

/** The recipe of databases written before the recipe was recorded: sharp's, with libvips' linear kernel. */
export const RESAMPLE = 'libvips-linear';

export interface FingerprintDb {
  settings: HashSettings;
  /** Absolute paths, one per fingerprint row. */
  files: string[];
  /** Upright fingerprints. */
  fps: PackedFingerprints;
  /** 1 where the picture is flat. */
  flat: Uint8Array;
  /** File size in bytes and modification time in ms when hashed; NaN when unknown. */
  size: Float64Array;
  mtime: Float64Array;
  /** With orientations or crops: K = viewsPerFile(settings) rows per file, row K·i + v holding view v of file i. */
  views?: PackedFingerprints;
  /** With coarse_x: the same K views per file at coarse_x² bits, to find candidate pairs fast. */
  coarse?: PackedFingerprints;
  /**
   * Pairs of paths marked "not duplicates" (each pair sorted, the list sorted). On write,
   * undefined keeps the pairs the file being replaced holds: they are the user's decisions, not
   * the files', and survive every rewrite (a fingerprint run, a checkpoint); [] clears them.
   */
  notDuplicates?: [string, string][];
  /**
   * The JSON text of each entry's metadata ("" for none), one per file, when the database has
   * them (written by src/api). On write, undefined keeps those of the file being replaced, by path
   * (a fingerprint run over an index keeps its metadata); absent from a database without them.
   */
  metadata?: string[];
}

type H5 = typeof h5wasmModule;
type H5File = InstanceType<H5['File']>;
type H5Dataset = InstanceType<H5['Dataset']>;

let loaded: Promise<H5> | undefined;
/**
 * h5wasm, loaded on first use (compiling HDF5's WebAssembly takes ~150 ms that --help and the
 * image stages need not pay). HDF5's C library prints a diagnostic stack to standard error on
 * any failure (flushed at exit); its throwing handler turns failures into exceptions instead,
 * which we report in one line.
 */
async function h5(): Promise<H5> {
  // HDF5's large module on V8's baseline compiler alone: with tiering, V8 also compiled the
  // functions that its start-up and a database's writing run hot, in the background, about 70 ms
  // of CPU per run for code that then runs briefly (a run of `imgcmp find` on a thousand JPEGs
  // costs 5 s in all). A 250,000-entry database reads no slower (0.40 s against 0.45 s).
  loaded ??= compiledOnBaseline(async () => {
    const { default: lib } = await import('h5wasm/node');
    return lib;
  }).then(async (lib) => {
    (await lib.ready).activate_throwing_error_handler();
    return lib;
  });
  return loaded;
}

/**
 * Starts loading h5wasm now, for a command that will need it later: its compilation then overlaps
 * other work (decoding) instead of adding to it.
 */
export function preloadHdf5(): void {
  h5().catch(() => undefined); // a failure is reported where the library is used
}

/**
 * Paths as strings. Fixed-length byte strings (the Python imgcmp's numpy `S` arrays) are
 * declared ASCII but hold UTF-8 bytes, which h5wasm hands back one character per byte:
 * those are decoded as the UTF-8 they are.
 */
function asStrings(value: unknown, byteStrings: boolean, dbfile: string, name = 'files'): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
    throw new ImgcmpError('database', `${dbfile}: dataset "${name}" does not hold strings`);
  }
  if (!byteStrings) return list as string[];
  return (list as string[]).map((s) => Buffer.from(s, 'latin1').toString('utf8'));
}

function asBits(value: unknown, dbfile: string): ArrayLike<number> {
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) {
    // int64 fingerprints from the Python imgcmp: 0/1 values, so narrowing is exact.
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = value[i]!;
      if (v !== 0n && v !== 1n) throw new ImgcmpError('database', `${dbfile}: dataset "fps" holds bits other than 0 and 1 (${String(v)})`);
      out[i] = Number(v);
    }
    return out;
  }
  if (ArrayBuffer.isView(value) && 'length' in value) return value as unknown as ArrayLike<number>;
  throw new ImgcmpError('database', `${dbfile}: dataset "fps" does not hold integers`);
}

/** Reads a database; throws an ImgcmpError ('database') with a one-line reason when it is not one. */
export async function readDb(dbfile: string): Promise<FingerprintDb> {
  const lib = await h5();
  if (!fs.existsSync(dbfile)) throw new ImgcmpError('database', `${dbfile}: no such database (run "imgcmp fingerprint" first)`);
  const st = fs.statSync(dbfile);
  if (!st.isFile()) throw new ImgcmpError('database', `${dbfile}: not a file`);
  if (!hasHdf5Signature(dbfile)) throw new ImgcmpError('database', `${dbfile}: not an HDF5 file`);
  let file: H5File;
  try {
    file = new lib.File(dbfile, 'r');
    if (Number(file.file_id) < 0) throw new Error('open failed');
  } catch {
    throw new ImgcmpError('database', `${dbfile}: damaged HDF5 file (truncated or corrupt)`);
  }
  try {
    return readOpen(file, dbfile, st.size);
  } catch (err) {
    if (err instanceof ImgcmpError) throw err;
    throw new ImgcmpError('database', `${dbfile}: damaged HDF5 file (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  } finally {
    file.close();
  }
}

/** The thumbnail recipes this build knows (pixels/recipe.ts' RECIPE values, and the Python imgcmp's). */
const KNOWN_RESAMPLE = ['libvips-linear', 'libjpeg-scaled-bilinear', 'pillow-bilinear'];

/** The largest hash size x, as the CLI takes it. */
const MAX_X = 64;

/**
 * An upper bound on the expansion of a compressed (filtered) dataset: deflate, the strongest of
 * the common filters, expands at most about 1032 times.
 */
const MAX_EXPANSION = 1100;

function formatBytes(n: number): string {
  for (const [unit, size] of [['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) if (n >= size) return `${(n / size).toFixed(1)} ${unit}`;
  return `${n} bytes`;
}

/**
 * The dataset `name` of `file`, checked against what a file of `fileBytes` can hold before any of
 * it is read: HDF5 lets a tiny file declare a dataset of any shape (unwritten values read as the
 * fill value), and reading it would allocate all of it. Uncompressed, the values are stored in
 * the file; compressed, they expand at most MAX_EXPANSION times.
 */
function checkedDataset(file: H5File, name: string, dbfile: string, fileBytes: number): H5Dataset {
  const ds = file.get(name) as H5Dataset | undefined;
  const meta = (ds as { metadata?: H5Dataset['metadata'] } | undefined)?.metadata;
  if (!ds || !meta || !Array.isArray(ds.shape)) throw new ImgcmpError('database', `${dbfile}: "${name}" is not a dataset`);
  const shape = ds.shape;
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ImgcmpError('database', `${dbfile}: dataset "${name}" has shape [${shape.join(', ')}]`);
  const values = shape.reduce((a, b) => a * b, 1);
  const bytes = values * (meta.vlen ? 1 : Math.max(1, meta.size));
  const compressed = ds.filters.length > 0;
  if (bytes > fileBytes * (compressed ? MAX_EXPANSION : 1)) {
    throw new ImgcmpError(
      'database',
      `${dbfile}: dataset "${name}" declares [${shape.join(' × ')}] values (${formatBytes(bytes)}), more than the file's ${formatBytes(fileBytes)} can hold${compressed ? ' even compressed' : ''} (damaged or crafted)`,
    );
  }
  return ds;
}

function optionalVector(file: H5File, name: string, n: number, dbfile: string, fileBytes: number): Float64Array | undefined {
  if (!file.keys().includes(name)) return undefined;
  const ds = checkedDataset(file, name, dbfile, fileBytes);
  if ((ds.shape ?? []).length !== 1 || ds.shape![0] !== n) {
    throw new ImgcmpError('database', `${dbfile}: dataset "${name}" has shape [${(ds.shape ?? []).join(', ')}], expected [${n}]`);
  }
  const v = ds.value;
  if (!ArrayBuffer.isView(v) || (v as unknown as ArrayLike<number>).length !== n) {
    throw new ImgcmpError('database', `${dbfile}: dataset "${name}" does not hold ${n} numbers`);
  }
  return Float64Array.from(v as unknown as ArrayLike<number>, Number);
}

function readOpen(file: H5File, dbfile: string, fileBytes: number): FingerprintDb {
  const keys = file.keys();
  for (const name of ['files', 'fps']) {
    if (!keys.includes(name)) throw new ImgcmpError('database', `${dbfile}: no dataset "${name}" (not an imgcmp fingerprint database)`);
  }
  // Every dataset's declared size first: nothing is read from a file that cannot hold it.
  for (const name of ['files', 'fps', 'escaped', 'flat', 'size', 'mtime', 'views', 'coarse', 'not_duplicates', 'not_duplicates_escaped', 'metadata']) {
    if (keys.includes(name)) checkedDataset(file, name, dbfile, fileBytes);
  }
  const filesDs = file.get('files') as H5Dataset;
  const fpsDs = file.get('fps') as H5Dataset;
  if ((filesDs.shape ?? []).length > 1) throw new ImgcmpError('database', `${dbfile}: dataset "files" has shape [${filesDs.shape!.join(', ')}], expected [n]`);
  const filesMeta = filesDs.metadata;
  const files = asStrings(filesDs.value, !filesMeta.vlen && filesMeta.cset === 0, dbfile);
  const shape = fpsDs.shape ?? [];
  let count: number;
  let nbits: number;
  if (files.length === 0) {
    count = 0;
    nbits = shape.length === 2 ? shape[1]! : 0;
  } else {
    if (shape.length !== 2) throw new ImgcmpError('database', `${dbfile}: dataset "fps" has shape [${shape.join(', ')}], expected n × bits`);
    [count, nbits] = shape as [number, number];
  }
  if (count !== files.length) throw new ImgcmpError('database', `${dbfile}: ${files.length} files but ${count} fingerprints`);
  const attrs = file.attrs;
  const attr = (name: string): unknown => (attrs[name] ? attrs[name]!.value : undefined);
  const written = attr('format') !== undefined; // absent: the Python imgcmp's file
  const settings: HashSettings = {
    method: written ? String(attr('method')) : 'phash',
    x: attr('x') !== undefined ? Number(attr('x')) : Math.round(Math.sqrt(nbits)),
    orientations: Number(attr('orientations') ?? 0) === 1,
    crops: Number(attr('crops') ?? 0) === 1,
    resample: written ? String(attr('resample') ?? RESAMPLE) : 'pillow-bilinear',
    hashVersion: Number(attr('hash_version') ?? (written ? HASH_VERSION : 0)),
  };
  // Frame views and coarse fingerprints (format 2) only where the file has them, so that the
  // settings of a format-1 file read exactly as they were written.
  if (Number(attr('borders') ?? 0) === 1) settings.borders = true;
  if (Number(attr('edits') ?? 0) === 1) settings.edits = true;
  if (attr('coarse_x') !== undefined) settings.coarseX = Number(attr('coarse_x'));
  if (written && Number(attr('format')) > DB_FORMAT) {
    throw new ImgcmpError('database', `${dbfile}: written by a newer imgcmp (format ${String(attr('format'))}); update imgcmp`);
  }
  if (written && !KNOWN_RESAMPLE.includes(settings.resample)) {
    throw new ImgcmpError('database', `${dbfile}: resample "${settings.resample}" is unknown to this imgcmp (known: ${KNOWN_RESAMPLE.join(', ')}); update imgcmp`);
  }
  if (!Number.isInteger(settings.hashVersion) || settings.hashVersion < 0 || settings.hashVersion > HASH_VERSION) {
    throw new ImgcmpError('database', `${dbfile}: hash version ${String(attr('hash_version'))} is not one this imgcmp makes (up to ${HASH_VERSION}); update imgcmp`);
  }
  if ((count > 0 || attr('x') !== undefined) && !(Number.isInteger(settings.x) && settings.x >= 2 && settings.x <= MAX_X)) {
    throw new ImgcmpError('database', `${dbfile}: x = ${String(attr('x') ?? settings.x)}; expected a whole number from 2 to ${MAX_X}`);
  }
  if (count > 0 && settings.x * settings.x !== nbits) {
    throw new ImgcmpError('database', `${dbfile}: fingerprints have ${nbits} bits, not x² for x = ${settings.x}`);
  }
  // The fingerprints a slice of rows at a time (one byte or eight per bit: 256 MB or more at a
  // million files), packed as they come.
  const fps = newPacked(count, nbits);
  readRowSlices(fpsDs, count, (value, r0, r1) => {
    const bits = asBits(value, dbfile);
    if (bits.length !== (r1 - r0) * nbits) throw new ImgcmpError('database', `${dbfile}: dataset "fps" does not hold ${count} × ${nbits} bits`);
    if (bits instanceof Uint8Array && nbits % 32 === 0) {
      packBitBytes(bits, fps.data.subarray(r0 * fps.words, r1 * fps.words), dbfile);
      return;
    }
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i];
      if (b !== 0 && b !== 1) throw new ImgcmpError('database', `${dbfile}: dataset "fps" holds bits other than 0 and 1 (${String(b)})`);
    }
    fps.data.set(packRows(bits, r1 - r0, nbits).data, r0 * fps.words);
  });
  const escaped = optionalVector(file, 'escaped', count, dbfile, fileBytes);
  if (escaped) escaped.forEach((e, i) => e && (files[i] = unescapeFromDb(files[i]!)));
  const flatVec = optionalVector(file, 'flat', count, dbfile, fileBytes);
  const db: FingerprintDb = {
    settings,
    files,
    fps,
    flat: flatVec ? Uint8Array.from(flatVec) : new Uint8Array(count),
    size: optionalVector(file, 'size', count, dbfile, fileBytes) ?? new Float64Array(count).fill(NaN),
    mtime: optionalVector(file, 'mtime', count, dbfile, fileBytes) ?? new Float64Array(count).fill(NaN),
  };
  const k = viewsPerFile(settings);
  if (k > 1) {
    if (!keys.includes('views')) throw new ImgcmpError('database', `${dbfile}: says it stores views but has no dataset "views"`);
    const ds = file.get('views') as H5Dataset;
    const bytes = Math.ceil(nbits / 8);
    const oshape = ds.shape ?? [];
    if (count > 0 && (oshape[0] !== count || oshape[1] !== k || oshape[2] !== bytes)) {
      throw new ImgcmpError('database', `${dbfile}: dataset "views" has shape [${oshape.join(', ')}], expected [${count}, ${k}, ${bytes}]`);
    }
    db.views = packedRows(ds, 'views', count, k, nbits, dbfile);
  }
  const coarseX = settings.coarseX ?? 0;
  if (coarseX) {
    if (!Number.isInteger(coarseX) || coarseX < 2 || coarseX > settings.x) {
      throw new ImgcmpError('database', `${dbfile}: coarse_x = ${coarseX}; expected a whole number from 2 to x = ${settings.x}`);
    }
    if (!keys.includes('coarse')) throw new ImgcmpError('database', `${dbfile}: says it stores coarse fingerprints but has no dataset "coarse"`);
    const ds = file.get('coarse') as H5Dataset;
    const coarseBits = coarseX * coarseX;
    const bytes = Math.ceil(coarseBits / 8);
    const oshape = ds.shape ?? [];
    if (count > 0 && (oshape[0] !== count || oshape[1] !== k || oshape[2] !== bytes)) {
      throw new ImgcmpError('database', `${dbfile}: dataset "coarse" has shape [${oshape.join(', ')}], expected [${count}, ${k}, ${bytes}]`);
    }
    db.coarse = packedRows(ds, 'coarse', count, k, coarseBits, dbfile);
  }
  if (keys.includes('not_duplicates')) db.notDuplicates = readPairs(file, dbfile);
  if (keys.includes('metadata')) db.metadata = readMetadata(file, count, dbfile);
  return db;
}

/** The dataset metadata: n strings, each "" or a JSON text (checked: it is parsed wherever it is used). */
function readMetadata(file: H5File, n: number, dbfile: string): string[] {
  const ds = file.get('metadata') as H5Dataset;
  const shape = ds.shape ?? [];
  if (shape.length !== 1 || shape[0] !== n) throw new ImgcmpError('database', `${dbfile}: dataset "metadata" has shape [${shape.join(', ')}], expected [${n}]`);
  const list = n ? asStrings(ds.value, false, dbfile, 'metadata') : [];
  if (list.length !== n) throw new ImgcmpError('database', `${dbfile}: dataset "metadata" does not hold ${n} strings`);
  list.forEach((m, i) => {
    if (m === '') return;
    try {
      JSON.parse(m);
    } catch {
      throw new ImgcmpError('database', `${dbfile}: dataset "metadata" row ${i} is not JSON`);
    }
  });
  return list;
}

/** The dataset not_duplicates: m × 2 paths. */
function readPairs(file: H5File, dbfile: string): [string, string][] {
  const ds = file.get('not_duplicates') as H5Dataset;
  const shape = ds.shape ?? [];
  if (shape.length !== 2 || shape[1] !== 2) throw new ImgcmpError('database', `${dbfile}: dataset "not_duplicates" has shape [${shape.join(', ')}], expected [m, 2]`);
  const m = shape[0]!;
  const list = m ? asStrings(ds.value, false, dbfile) : [];
  if (list.length !== 2 * m) throw new ImgcmpError('database', `${dbfile}: dataset "not_duplicates" does not hold ${2 * m} paths`);
  let escaped: ArrayLike<number> | undefined;
  if (m && file.keys().includes('not_duplicates_escaped')) {
    const e = (file.get('not_duplicates_escaped') as H5Dataset).value;
    if (!ArrayBuffer.isView(e) || (e as unknown as ArrayLike<number>).length !== 2 * m) {
      throw new ImgcmpError('database', `${dbfile}: dataset "not_duplicates_escaped" does not hold ${2 * m} flags`);
    }
    escaped = e as unknown as ArrayLike<number>;
  }
  const at = (i: number): string => (escaped?.[i] ? unescapeFromDb(list[i]!) : list[i]!);
  return Array.from({ length: m }, (_, p) => [at(2 * p), at(2 * p + 1)] as [string, string]);
}

/** The bytes of a packed dataset (views, coarse), which must be unsigned bytes. */
function packedBytes(value: unknown, name: string, dbfile: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ImgcmpError('database', `${dbfile}: dataset "${name}" does not hold bytes (uint8)`);
  return value;
}


/** The `views` and `coarse` datasets' bytes: numpy.packbits layout, one row per fingerprint (hash/bits.ts' codec). */
function packBytes(fps: PackedFingerprints): Uint8Array {
  return toPackbits(fps);
}

/**
 * Bytes of a dataset read at once: larger datasets are read a slice of rows at a time. h5wasm
 * reads a dataset into its WebAssembly heap, which never shrinks, and hands back a copy of it:
 * read whole, the views of a million files (1.2 GB) would be held three times over.
 */
const SLICE_BYTES = 1 << 24;

/** `count` rows of `nbits` bits, zeroed, in shared memory (so that a search's worker threads read them without a copy). */
function newPacked(count: number, nbits: number): PackedFingerprints {
  const words = wordsFor(nbits);
  return { count, nbits, words, data: new Uint32Array(new SharedArrayBuffer(4 * count * words)) };
}

/** Calls `each` with the values of rows [r0, r1) of dataset `ds` (of `count` rows along its first dimension), in order, SLICE_BYTES or so at a time. */
function readRowSlices(ds: H5Dataset, count: number, each: (value: unknown, r0: number, r1: number) => void): void {
  if (count === 0) return;
  const shape = ds.shape ?? [];
  const rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * Math.max(1, ds.metadata.size);
  const step = Math.max(1, Math.floor(SLICE_BYTES / Math.max(1, rowBytes)));
  for (let r0 = 0; r0 < count; r0 += step) {
    const r1 = Math.min(count, r0 + step);
    each(r0 === 0 && r1 === count ? ds.value : ds.slice([[r0, r1]]), r0, r1);
  }
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * hash/bits.ts' fromPackbits for rows of whole words, a word at a time: on a little-endian
 * machine four packed bytes read as one word are the fingerprint's word once each byte's bits
 * are reversed (numpy.packbits puts a byte's first bit high). Fills `out` (as many words as
 * `packed` has bytes / 4).
 */
function wordsFromPackbits(packed: Uint8Array, out: Uint32Array): void {
  const words = packed.byteOffset % 4 === 0 ? new Uint32Array(packed.buffer, packed.byteOffset, out.length) : new Uint32Array(packed.slice().buffer, 0, out.length);
  for (let w = 0; w < out.length; w++) out[w] = bitsReversedInBytes(words[w]!);
}

/**
 * Rows of one byte per bit (the `fps` dataset: 0 or 1), 32 bits to a word, into `out`; throws
 * when a byte is neither 0 nor 1.
 */
function packBitBytes(bits: Uint8Array, out: Uint32Array, dbfile: string): void {
  let any = 0;
  for (let w = 0, at = 0; w < out.length; w++, at += 32) {
    let v = 0;
    for (let b = 0; b < 32; b++) {
      const x = bits[at + b]!;
      any |= x;
      v |= x << b;
    }
    out[w] = v >>> 0;
  }
  if (any > 1) {
    const bad = bits.find((x) => x > 1)!;
    throw new ImgcmpError('database', `${dbfile}: dataset "fps" holds bits other than 0 and 1 (${bad})`);
  }
}

/**
 * The dataset `name` (views or coarse: count × k rows of packed bytes, hash/bits.ts' codec) as
 * count·k packed rows of `nbits`, unpacked a slice at a time into their place.
 */
function packedRows(ds: H5Dataset, name: string, count: number, k: number, nbits: number, dbfile: string): PackedFingerprints {
  const out = newPacked(count * k, nbits);
  readRowSlices(ds, count, (value, r0, r1) => {
    const bytes = packedBytes(value, name, dbfile);
    if (nbits % 32 === 0 && LITTLE_ENDIAN && bytes.length === (r1 - r0) * k * 4 * out.words) {
      wordsFromPackbits(bytes, out.data.subarray(r0 * k * out.words, r1 * k * out.words));
      return;
    }
    const rows = fromPackbits(bytes, (r1 - r0) * k, nbits);
    out.data.set(rows.data, r0 * k * out.words);
  });
  return out;
}

/** The newest of the recorded modification times (ms), or 0 when none is. */
function newestTime(mtime: Float64Array): number {
  let newest = 0;
  for (const t of mtime) if (Number.isFinite(t) && t > newest) newest = t;
  return newest;
}

/**
 * Runs `work` (synchronous: nothing else runs meanwhile) with the clock that HDF5 reads (through
 * Emscripten's Date.now) standing at `ms`. HDF5 stamps each dataset's header with the time it was
 * written, and h5wasm offers no way to turn that off (H5Pset_obj_track_times); stamped with the
 * newest file time the database records instead, the same entries give the same bytes — the
 * shards of a folder merged are byte-identical to one run over it.
 */
function withClockAt<T>(ms: number, work: () => T): T {
  const now = Date.now;
  Date.now = () => ms;
  try {
    return work();
  } finally {
    Date.now = now;
  }
}

/**
 * Writes a database atomically: a new temporary file beside `dbfile` (created exclusively under
 * an unpredictable name, src/util/safe-write.ts), then a rename over it. When `dbfile` is a link,
 * the file it points to is replaced and the link stays. A failed write (a full disk) leaves the
 * old database and no temporary file, and throws one line naming `dbfile`.
 */
export async function writeDb(dbfile: string, db: FingerprintDb): Promise<void> {
  const lib = await h5();
  fs.mkdirSync(path.dirname(path.resolve(dbfile)), { recursive: true });
  const target = realTarget(dbfile);
  const { fps, files, settings } = db;
  const n = files.length;
  if (n !== fps.count) throw new Error(`${n} files but ${fps.count} fingerprints`);
  const pairs = db.notDuplicates ?? keptPairs(lib, target);
  const metadata = db.metadata ?? keptMetadata(lib, target, files);
  if (metadata && metadata.length !== n) throw new Error(`${n} files but ${metadata.length} metadata`);
  const write = (tmp: string): void => withClockAt(newestTime(db.mtime), () => writeTo(tmp));
  const writeTo = (tmp: string): void => {
    const file = new lib.File(tmp, 'w');
    try {
      const escaped = Uint8Array.from(files, (f) => (hasEscapes(f) ? 1 : 0));
      file.create_dataset({ name: 'files', data: files.map((f, i) => (escaped[i] ? escapeForDb(f) : f)), shape: [n], dtype: 'S' });
      file.create_dataset({ name: 'escaped', data: escaped, shape: [n], dtype: '<B' });
      file.create_dataset({ name: 'fps', data: unpackRows(fps), shape: [n, fps.nbits], dtype: '<B' });
      file.create_dataset({ name: 'flat', data: db.flat, shape: [n], dtype: '<B' });
      file.create_dataset({ name: 'size', data: db.size, shape: [n], dtype: '<d' });
      file.create_dataset({ name: 'mtime', data: db.mtime, shape: [n], dtype: '<d' });
      const k = viewsPerFile(settings);
      if (k > 1) {
        if (!db.views || db.views.count !== n * k) throw new Error('views missing');
        const bytes = Math.ceil(fps.nbits / 8);
        file.create_dataset({ name: 'views', data: packBytes(db.views), shape: [n, k, bytes], dtype: '<B' });
      }
      if (settings.coarseX) {
        if (!db.coarse || db.coarse.count !== n * k) throw new Error('coarse fingerprints missing');
        file.create_dataset({ name: 'coarse', data: packBytes(db.coarse), shape: [n, k, Math.ceil(db.coarse.nbits / 8)], dtype: '<B' });
      }
      if (pairs.length) {
        const flat = pairs.flat();
        const esc = Uint8Array.from(flat, (f) => (hasEscapes(f) ? 1 : 0));
        file.create_dataset({ name: 'not_duplicates', data: flat.map((f, i) => (esc[i] ? escapeForDb(f) : f)), shape: [pairs.length, 2], dtype: 'S' });
        if (esc.some((e) => e)) file.create_dataset({ name: 'not_duplicates_escaped', data: esc, shape: [pairs.length, 2], dtype: '<B' });
      }
      if (metadata) file.create_dataset({ name: 'metadata', data: metadata, shape: [n], dtype: 'S' });
      file.create_attribute('method', settings.method);
      file.create_attribute('x', settings.x);
      file.create_attribute('nbits', fps.nbits);
      file.create_attribute('orientations', settings.orientations ? 1 : 0);
      file.create_attribute('crops', settings.crops ? 1 : 0);
      file.create_attribute('views', k);
      if (settings.borders) file.create_attribute('borders', 1);
      if (settings.edits) file.create_attribute('edits', 1);
      if (settings.coarseX) file.create_attribute('coarse_x', settings.coarseX);
      file.create_attribute('resample', settings.resample);
      file.create_attribute('hash_version', settings.hashVersion);
      // Format 2 adds the frame views and coarse fingerprints; a file without them stays format 1,
      // readable by imgcmp versions that know only that.
      file.create_attribute('format', settings.edits ? DB_FORMAT : settings.borders || settings.coarseX ? 2 : 1);
      file.create_attribute('creator', 'imgcmp (TypeScript)');
    } finally {
      file.close();
    }
  };
  await withTemporary(target, write, dbfile);
}

/** The not-duplicates pairs of the database at `dbfile`, if it is one and has them; else none. */
function keptPairs(lib: H5, dbfile: string): [string, string][] {
  if (!fs.existsSync(dbfile) || !hasHdf5Signature(dbfile)) return [];
  let file: H5File | undefined;
  try {
    file = new lib.File(dbfile, 'r');
    if (!file.keys().includes('not_duplicates')) return [];
    checkedDataset(file, 'not_duplicates', dbfile, fs.statSync(dbfile).size);
    return readPairs(file, dbfile);
  } catch {
    return []; // not a database that could be read: it has nothing to keep
  } finally {
    file?.close();
  }
}

/**
 * The metadata of the database at `dbfile` for `files`, by path ("" for a path it does not
 * have), when it is a database with a metadata dataset; else undefined.
 */
function keptMetadata(lib: H5, dbfile: string, files: readonly string[]): string[] | undefined {
  if (!fs.existsSync(dbfile) || !hasHdf5Signature(dbfile)) return undefined;
  let file: H5File | undefined;
  try {
    file = new lib.File(dbfile, 'r');
    const keys = file.keys();
    if (!keys.includes('metadata') || !keys.includes('files')) return undefined;
    const bytes = fs.statSync(dbfile).size;
    for (const name of ['files', 'escaped', 'metadata']) if (keys.includes(name)) checkedDataset(file, name, dbfile, bytes);
    const filesDs = file.get('files') as H5Dataset;
    const old = (filesDs.shape ?? [])[0] ? asStrings(filesDs.value, !filesDs.metadata.vlen && filesDs.metadata.cset === 0, dbfile) : [];
    const escaped = optionalVector(file, 'escaped', old.length, dbfile, bytes);
    if (escaped) escaped.forEach((e, i) => e && (old[i] = unescapeFromDb(old[i]!)));
    const meta = readMetadata(file, old.length, dbfile);
    const byPath = new Map(old.map((f, i) => [f, meta[i]!]));
    return files.map((f) => byPath.get(f) ?? '');
  } catch {
    return undefined; // not a database that could be read: it has nothing to keep
  } finally {
    file?.close();
  }
}

/**
 * Refuses to write a database over a file that is not an imgcmp database: a mistyped --dbfile
 * pointing at a photo, a document or someone's other HDF5 data must never be overwritten.
 * Returns the existing database, if any, for the caller to build on.
 */
export async function existingDbOrNone(dbfile: string): Promise<FingerprintDb | undefined> {
  if (!fs.existsSync(dbfile)) return undefined;
  try {
    return await readDb(dbfile);
  } catch (err) {
    const reason = err instanceof ImgcmpError ? err.message : `${dbfile}: unreadable`;
    throw new ImgcmpError('database', `${reason}; refusing to overwrite it`);
  }
}
