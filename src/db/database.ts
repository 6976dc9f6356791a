/**
 * The fingerprint database: an HDF5 file that h5py and numpy read as it is.
 *
 *   /files   n UTF-8 strings (variable length): absolute paths
 *   /fps     n × nbits uint8, 0/1, row-major bits of each fingerprint
 *   attrs    method, x, nbits, format (this layout's version), creator
 *
 * Databases written by the Python imgcmp (files as fixed-length byte strings, fps as int64 or
 * int32, no attributes) are read too; their method is phash with x = √nbits.
 *
 * Writes never touch the old file until the new one is complete: the database is written beside
 * it under a temporary name and renamed over it (rename is atomic on one file system).
 */
import fs from 'node:fs';
import path from 'node:path';
import type h5wasmModule from 'h5wasm/node';
import { packRows, unpackRows, type PackedFingerprints } from '../hash/bits.js';
import { hasHdf5Signature } from './guard.js';

/** Version of the layout written here; bumped when datasets or attribute meanings change. */
export const DB_FORMAT = 1;

export interface HashSettings {
  /** Hash method name, e.g. "phash". */
  method: string;
  /** Hash size: the fingerprint has x² bits. */
  x: number;
}

export interface FingerprintDb {
  settings: HashSettings;
  /** Absolute paths, one per fingerprint row. */
  files: string[];
  fps: PackedFingerprints;
}

/** A database file that cannot be read: the message names the file and the reason. */
export class DatabaseError extends Error {}

type H5 = typeof h5wasmModule;
let loaded: Promise<H5> | undefined;
/**
 * h5wasm, loaded on first use (compiling HDF5's WebAssembly takes ~150 ms that --help and the
 * image stages need not pay). HDF5's C library prints a diagnostic stack to standard error on
 * any failure (flushed at exit); its throwing handler turns failures into exceptions instead,
 * which we report in one line.
 */
async function h5(): Promise<H5> {
  loaded ??= import('h5wasm/node').then(async ({ default: lib }) => {
    (await lib.ready).activate_throwing_error_handler();
    return lib;
  });
  return loaded;
}

/**
 * Paths as strings. Fixed-length byte strings (the Python imgcmp's numpy `S` arrays) are
 * declared ASCII but hold UTF-8 bytes, which h5wasm hands back one character per byte:
 * those are decoded as the UTF-8 they are.
 */
function asStrings(value: unknown, byteStrings: boolean, dbfile: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
    throw new DatabaseError(`${dbfile}: dataset "files" does not hold strings`);
  }
  if (!byteStrings) return list as string[];
  return (list as string[]).map((s) => Buffer.from(s, 'latin1').toString('utf8'));
}

function asBits(value: unknown, dbfile: string): ArrayLike<number> {
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) {
    // int64 fingerprints from the Python imgcmp: 0/1 values, so narrowing is exact.
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = value[i] ? 1 : 0;
    return out;
  }
  if (ArrayBuffer.isView(value) && 'length' in value) return value as unknown as ArrayLike<number>;
  throw new DatabaseError(`${dbfile}: dataset "fps" does not hold integers`);
}

/** Reads a database; throws DatabaseError with a one-line reason when it is not one. */
export async function readDb(dbfile: string): Promise<FingerprintDb> {
  const lib = await h5();
  if (!fs.existsSync(dbfile)) throw new DatabaseError(`${dbfile}: no such database (run "imgcmp fingerprint" first)`);
  const st = fs.statSync(dbfile);
  if (!st.isFile()) throw new DatabaseError(`${dbfile}: not a file`);
  if (!hasHdf5Signature(dbfile)) throw new DatabaseError(`${dbfile}: not an HDF5 file`);
  let file: InstanceType<typeof lib.File>;
  try {
    file = new lib.File(dbfile, 'r');
    if (Number(file.file_id) < 0) throw new Error('open failed');
  } catch {
    throw new DatabaseError(`${dbfile}: damaged HDF5 file (truncated or corrupt)`);
  }
  try {
    return readOpen(file, dbfile);
  } catch (err) {
    if (err instanceof DatabaseError) throw err;
    throw new DatabaseError(`${dbfile}: damaged HDF5 file (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  } finally {
    file.close();
  }
}

type H5File = InstanceType<H5['File']>;
type H5Dataset = InstanceType<H5['Dataset']>;

function readOpen(file: H5File, dbfile: string): FingerprintDb {
  {
    const keys = file.keys();
    for (const name of ['files', 'fps']) {
      if (!keys.includes(name)) throw new DatabaseError(`${dbfile}: no dataset "${name}" (not an imgcmp fingerprint database)`);
    }
    const filesDs = file.get('files') as H5Dataset;
    const fpsDs = file.get('fps') as H5Dataset;
    const filesMeta = filesDs.metadata;
    const files = asStrings(filesDs.value, !filesMeta.vlen && filesMeta.cset === 0, dbfile);
    const shape = fpsDs.shape ?? [];
    let count: number;
    let nbits: number;
    if (files.length === 0) {
      count = 0;
      nbits = shape.length === 2 ? shape[1]! : 0;
    } else {
      if (shape.length !== 2) throw new DatabaseError(`${dbfile}: dataset "fps" has shape [${shape.join(', ')}], expected n × bits`);
      [count, nbits] = shape as [number, number];
    }
    if (count !== files.length) {
      throw new DatabaseError(`${dbfile}: ${files.length} files but ${count} fingerprints`);
    }
    const attrs = file.attrs;
    const method = attrs['method'] ? String(attrs['method'].value) : 'phash';
    const x = attrs['x'] ? Number(attrs['x'].value) : Math.round(Math.sqrt(nbits));
    if (count > 0 && x * x !== nbits) {
      throw new DatabaseError(`${dbfile}: fingerprints have ${nbits} bits, not x² for x = ${x}`);
    }
    const bits = count > 0 ? asBits(fpsDs.value, dbfile) : new Uint8Array(0);
    return { settings: { method, x }, files, fps: packRows(bits, count, nbits) };
  }
}

/** Writes a database atomically: a temporary file beside `dbfile`, then a rename over it. */
export async function writeDb(dbfile: string, db: FingerprintDb): Promise<void> {
  const lib = await h5();
  const dir = path.dirname(path.resolve(dbfile));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(dbfile)}.${process.pid}.tmp`);
  const { fps, files, settings } = db;
  if (files.length !== fps.count) throw new Error(`${files.length} files but ${fps.count} fingerprints`);
  try {
    const file = new lib.File(tmp, 'w');
    try {
      file.create_dataset({ name: 'files', data: files, shape: [files.length], dtype: 'S' });
      file.create_dataset({ name: 'fps', data: unpackRows(fps), shape: [fps.count, fps.nbits], dtype: '<B' });
      file.create_attribute('method', settings.method);
      file.create_attribute('x', settings.x);
      file.create_attribute('nbits', fps.nbits);
      file.create_attribute('format', DB_FORMAT);
      file.create_attribute('creator', 'imgcmp (TypeScript)');
    } finally {
      file.close();
    }
    fs.renameSync(tmp, dbfile);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
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
    const reason = err instanceof DatabaseError ? err.message : `${dbfile}: unreadable`;
    throw new DatabaseError(`${reason}; refusing to overwrite it`);
  }
}
