/**
 * The journal of an index (src/api): `DB.journal` beside the database, an append-only file of the
 * adds and removes made since the database was last written. A change is acknowledged only once
 * its record is in the journal and flushed to disk (written with O_DSYNC, or fdatasync where the
 * system has no O_DSYNC); the records are folded into the HDF5 file at checkpoints and replayed
 * when the index is opened again, so a crash (kill -9, a power cut) loses nothing that was
 * acknowledged.
 *
 * Layout: the header line `imgcmp journal 1\n`, then records, each
 *
 *   length   uint32 little-endian: the payload's bytes
 *   check    uint32 little-endian: CRC-32 of the length's 4 bytes and the payload
 *   payload  UTF-8 JSON: {"add": ID, "size", "mtime", "flat", "bits", "views"?, "coarse"?,
 *            "metadata"?} (fingerprint words as base64 of little-endian uint32, metadata as its
 *            JSON text) or {"remove": ID}
 *
 * A record cut short by a crash (a torn tail) fails its length or its check and is dropped with
 * the rest of the file, never misread. Replaying is idempotent (an add sets the entry, a remove
 * drops it if present), so records already folded into the database may be replayed again
 * harmlessly: the journal is reset only after the database that holds them is on disk.
 *
 * The journal is untrusted input: every length is checked against the bytes the file has and a
 * bound before anything is allocated for it, and every field against the database's settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { wordsFor } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';
import { checkOurs, commitFile, prepareFile, realTarget, writeError } from '../util/safe-write.js';

const HEADER_TEXT = 'imgcmp journal 1\n';
const HEADER = Buffer.from(HEADER_TEXT, 'latin1');
/** The largest record read or written (an entry's fingerprints are a few kB; the rest is its id and metadata). */
export const MAX_RECORD = 64 * 1024 * 1024;
const FRAME = 8;
/**
 * O_DSYNC: each write returns once its data (and the file's new length) is on disk, as a write
 * followed by fdatasync, in one call on libuv's threads instead of two with a turn of the event
 * loop between them (which, while the main thread hashes, is what an add waited for most).
 */
const SYNCHRONISED_WRITES: number | undefined = fs.constants.O_DSYNC;

/** A change of the index: an entry added (or replaced), or removed. */
export type JournalOp = { add: FingerprintRecord; metadata?: string } | { remove: string };

/** The journal file of `dbfile`: beside its real path (as its lock). */
export function journalFileOf(dbfile: string): string {
  return `${realTarget(dbfile)}.journal`;
}

/** Flushes a folder, so that a file created or renamed in it survives a power cut. */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    // Some file systems cannot flush a folder; the rename is as durable as they make it.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Words as base64 of their little-endian bytes (on a little-endian machine, their own bytes: no copy). */
const words32 = (a: Uint32Array): string => {
  if (LITTLE_ENDIAN) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const b = Buffer.alloc(a.length * 4);
  a.forEach((w, i) => b.writeUInt32LE(w, i * 4));
  return b.toString('base64');
};

/** One record, framed: length, check, payload. Throws an ImgcmpError ('usage') beyond MAX_RECORD. */
export function encodeOp(op: JournalOp): Buffer {
  let value: object;
  if ('remove' in op) value = { remove: op.remove };
  else {
    const r = op.add;
    value = {
      add: r.file,
      size: Number.isFinite(r.size) ? r.size : null,
      mtime: Number.isFinite(r.mtime) ? r.mtime : null,
      flat: r.flat ? 1 : 0,
      bits: words32(r.bits),
      ...(r.views ? { views: words32(r.views) } : {}),
      ...(r.coarse ? { coarse: words32(r.coarse) } : {}),
      ...(op.metadata !== undefined ? { metadata: op.metadata } : {}),
    };
  }
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  if (payload.length > MAX_RECORD) {
    throw new ImgcmpError('usage', `a change of ${payload.length} bytes is larger than the journal takes (${MAX_RECORD} bytes): metadata too large`);
  }
  const frame = Buffer.alloc(FRAME + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, FRAME);
  frame.writeUInt32LE(checkOf(frame), 4);
  return frame;
}

/** CRC-32 of a frame's length field and payload (its check field left out). */
function checkOf(frame: Buffer): number {
  return zlib.crc32(frame.subarray(FRAME), zlib.crc32(frame.subarray(0, 4)));
}

/** Words from base64, exactly `count` of them, or a reason. */
function wordsOf(value: unknown, count: number, name: string): Uint32Array | string {
  if (typeof value !== 'string') return `"${name}" missing`;
  // base64 of 4·count bytes is 4·⌈4·count/3⌉ characters: checked before decoding.
  if (value.length !== 4 * Math.ceil((4 * count) / 3)) return `"${name}" does not hold ${count} words`;
  const b = Buffer.from(value, 'base64');
  if (b.length !== 4 * count) return `"${name}" does not hold ${count} words`;
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}

const numberOrNaN = (v: unknown): number | undefined => (v === null ? NaN : typeof v === 'number' ? v : undefined);

/** The change a payload states, checked against the database's settings; a string says why not. */
function decodeOp(payload: Buffer, settings: HashSettings): JournalOp | string {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a change';
  const o = v as Record<string, unknown>;
  if ('remove' in o) return typeof o['remove'] === 'string' && o['remove'] ? { remove: o['remove'] } : 'an empty id';
  const id = o['add'];
  if (typeof id !== 'string' || !id) return 'neither an add nor a remove';
  const size = numberOrNaN(o['size']);
  const mtime = numberOrNaN(o['mtime']);
  if (size === undefined || mtime === undefined || (o['flat'] !== 0 && o['flat'] !== 1)) return `${id}: size, mtime or flat missing`;
  const words = wordsFor(settings.x * settings.x);
  const k = viewsPerFile(settings);
  const bits = wordsOf(o['bits'], words, 'bits');
  if (typeof bits === 'string') return `${id}: ${bits} (not this database's settings)`;
  const record: FingerprintRecord = { file: id, bits, flat: o['flat'] === 1, size, mtime };
  if (k > 1) {
    const views = wordsOf(o['views'], k * words, 'views');
    if (typeof views === 'string') return `${id}: ${views} (not this database's settings)`;
    record.views = views;
  } else if (o['views'] !== undefined) return `${id}: views, which this database does not store`;
  if (settings.coarseX) {
    const coarse = wordsOf(o['coarse'], k * wordsFor(settings.coarseX * settings.coarseX), 'coarse');
    if (typeof coarse === 'string') return `${id}: ${coarse} (not this database's settings)`;
    record.coarse = coarse;
  } else if (o['coarse'] !== undefined) return `${id}: coarse fingerprints, which this database does not store`;
  const metadata = o['metadata'];
  if (metadata === undefined) return { add: record };
  if (typeof metadata !== 'string') return `${id}: metadata is not a JSON text`;
  try {
    JSON.parse(metadata);
  } catch {
    return `${id}: metadata is not a JSON text`;
  }
  return { add: record, metadata };
}

export interface ReadJournal {
  ops: JournalOp[];
  /** Bytes after the last intact record (a torn tail), dropped. */
  tornBytes: number;
}

/**
 * The changes in the journal `file` (none when it does not exist), in order, for a database of
 * `settings`. A torn tail ends the reading: it is dropped and told in one line to `note`, as is a
 * record whose frame is intact but whose content is not a change of this database (skipped).
 * Throws an ImgcmpError when `file` is not an imgcmp journal (then it is never touched).
 */
export function readJournal(file: string, settings: HashSettings, note: (line: string) => void): ReadJournal {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ops: [], tornBytes: 0 };
    throw new ImgcmpError('database', `${file}: journal not readable (${reasonOf(err)}); refusing to go on without it`, { cause: err });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new ImgcmpError('refused', `${file}: not a plain file; not an imgcmp journal`);
    const total = st.size;
    const read = (at: number, length: number): Buffer => {
      const b = Buffer.alloc(length);
      for (let got = 0; got < length; ) {
        const n = fs.readSync(fd, b, got, length - got, at + got);
        if (n === 0) throw new ImgcmpError('database', `${file}: shorter than it was a moment ago`);
        got += n;
      }
      return b;
    };
    // Written whole under a temporary name and renamed into place: never without its header.
    if (total < HEADER.length || !read(0, HEADER.length).equals(HEADER)) {
      throw new ImgcmpError('refused', `${file}: exists and is not an imgcmp journal; refusing to use or overwrite it`);
    }
    const ops: JournalOp[] = [];
    let at = HEADER.length;
    while (at < total) {
      const left = total - at;
      const torn = (why: string): ReadJournal => {
        note(`${file}: ${why} at byte ${at} (a write cut short by a crash); the last ${left} bytes dropped, ${ops.length} changes replayed`);
        return { ops, tornBytes: left };
      };
      if (left < FRAME) return torn('a torn record header');
      const frameHead = read(at, FRAME);
      const length = frameHead.readUInt32LE(0);
      if (length > MAX_RECORD || length > left - FRAME) return torn(`a record of ${length} bytes, more than the ${left - FRAME} left,`);
      const frame = Buffer.concat([frameHead, read(at + FRAME, length)]);
      if (checkOf(frame) !== frameHead.readUInt32LE(4)) return torn('a record failing its check');
      const op = decodeOp(frame.subarray(FRAME), settings);
      if (typeof op === 'string') note(`${file}: record at byte ${at} skipped: ${op}`);
      else ops.push(op);
      at += FRAME + length;
    }
    return { ops, tornBytes: 0 };
  } finally {
    fs.closeSync(fd);
  }
}

interface Waiting {
  seq: number;
  frame: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The open journal of an index: appends records and flushes them, many at once when they come
 * together (one synchronised write per batch), in the order they were appended.
 */
export class Journal {
  /** The number of the last change appended (changes are numbered from 1 in this process). */
  private seq = 0;
  /** Changes appended and not yet written. */
  private queue: Waiting[] = [];
  private flushQueued = false;
  /** Every write, flush and reset, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** The records in the file now (after its header), for a reset to keep those a checkpoint did not fold. */
  private inFile: { seq: number; frame: Buffer }[] = [];
  /** Bytes of the file known written in full. */
  private length: number;
  /** Set once a write failed: no more changes are taken until a reset (a checkpoint) succeeds. */
  private failure?: ImgcmpError;

  private constructor(
    readonly file: string,
    private handle: fs.promises.FileHandle,
  ) {
    this.length = HEADER.length;
  }

  /**
   * Starts an empty journal at `file`, replacing the one there (which must be an imgcmp journal:
   * its changes were replayed and are in the database on disk by now).
   */
  static async start(file: string): Promise<Journal> {
    const handle = await Journal.fresh(file, []);
    return new Journal(file, handle);
  }

  /** Writes a journal of `frames` under a temporary name, flushes it and renames it over `file`; opened for appending. */
  private static async fresh(file: string, frames: Buffer[]): Promise<fs.promises.FileHandle> {
    checkOurs(file, (head) => head.startsWith(HEADER_TEXT));
    commitFile(prepareFile(file, Buffer.concat([HEADER, ...frames])), file);
    syncFolder(path.dirname(file));
    try {
      return await fs.promises.open(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW | (SYNCHRONISED_WRITES ?? 0));
    } catch (err) {
      throw writeError(file, err);
    }
  }

  /** The number of the last change appended: a checkpoint that holds the changes up to it resets to it. */
  get last(): number {
    return this.seq;
  }

  /** Changes in the journal, or waiting to be, that no checkpoint has folded. */
  get unfolded(): number {
    return this.inFile.length + this.queue.length;
  }

  /**
   * Appends a change: numbered at once (the order of calls is the order of the journal); the
   * promise resolves when it is on disk. Throws at once when the journal cannot take it.
   */
  append(frame: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const seq = ++this.seq;
    const done = new Promise<void>((resolve, reject) => this.queue.push({ seq, frame, resolve, reject }));
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.chain = this.chain.then(() => this.flush());
    }
    return done;
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    const batch = this.queue.splice(0);
    if (!batch.length) return;
    const data = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((w) => w.frame));
    try {
      if (this.failure) throw this.failure;
      for (let at = 0; at < data.length; ) at += (await this.handle.write(data, at, data.length - at)).bytesWritten;
      if (SYNCHRONISED_WRITES === undefined) await this.handle.datasync();
    } catch (err) {
      // A record written in part would end the journal for every later one: cut it off.
      this.failure ??= new ImgcmpError('file', `${this.file}: could not be written (${reasonOf(err)}); changes are refused until the database is saved`, { cause: err });
      await this.handle.truncate(this.length).catch(() => undefined);
      for (const w of batch) w.reject(this.failure);
      return;
    }
    this.length += data.length;
    for (const w of batch) this.inFile.push({ seq: w.seq, frame: w.frame });
    for (const w of batch) w.resolve();
  }

  /**
   * After a checkpoint that holds every change up to `upTo` is on disk: a new journal with only
   * the later ones replaces this one (done after the writes appended before it).
   */
  reset(upTo: number): Promise<void> {
    const run = this.chain.then(async () => {
      const keep = this.inFile.filter((r) => r.seq > upTo);
      const handle = await Journal.fresh(this.file, keep.map((r) => r.frame));
      await this.handle.close().catch(() => undefined);
      this.handle = handle;
      this.inFile = keep;
      this.length = HEADER.length + keep.reduce((a, r) => a + r.frame.length, 0);
      this.failure = undefined;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits for the writes appended so far (their outcome goes to their own callers). */
  async settled(): Promise<void> {
    await this.chain;
  }

  /** Waits for the writes, closes the file and, when `remove`, removes it (every change is in the database). */
  async close(remove: boolean): Promise<void> {
    await this.chain;
    await this.handle.close().catch(() => undefined);
    if (remove && !this.inFile.length && !this.failure) {
      fs.rmSync(this.file, { force: true });
      syncFolder(path.dirname(this.file));
    }
  }
}
