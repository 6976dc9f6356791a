/**
 * The one way imgcmp writes a file (a database, a report page, a JSON of clusters, a lock): to a
 * fresh temporary name beside the target, created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, so no
 * existing file or planted link is ever opened) under an unpredictable name, flushed, then
 * renamed over the target. A write that fails (a full disk, an I/O error) removes its temporary
 * file, leaves the old target as it was and is reported as one ImgcmpError naming the target.
 *
 * Temporary names are `.NAME.PID.RANDOM.tmp`: a later run removes those of writers that are gone
 * (removeStaleTemporaries), and only those.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ImgcmpError, reasonOf } from './errors.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const EXCLUSIVE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** What a target's first bytes must say for imgcmp to replace it: it wrote that file. */
export type Ours = (head: string) => boolean;

/**
 * The file a write to `file` must replace: `file` itself, or — when `file` is a symbolic link
 * (the user's link to a database) — the file it points to, so that the link stays a link. The
 * result is absolute, with its folder's links resolved (one spelling per file).
 */
export function realTarget(file: string): string {
  let p = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      break;
    }
    if (!st.isSymbolicLink()) break;
    p = path.resolve(path.dirname(p), fs.readlinkSync(p));
  }
  const dir = path.dirname(p);
  try {
    return path.join(fs.realpathSync(dir), path.basename(p));
  } catch {
    return p;
  }
}

/**
 * Creates a new file under a name from `nameOf` (called again, up to 8 times, while the name is
 * taken), exclusively and without following a link there, writes `data` and flushes it; returns
 * the name. `fsName` turns it into what the file system takes (a Buffer for a name that is not
 * valid UTF-8). On failure the file is removed and the error thrown as it came.
 */
export function writeNewFile(nameOf: () => string, data: Uint8Array, fsName: (p: string) => string | Buffer = (p) => p): string {
  for (let attempt = 0; ; attempt++) {
    const name = nameOf();
    let fd: number;
    try {
      fd = fs.openSync(fsName(name), EXCLUSIVE, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 8) continue;
      throw err;
    }
    try {
      for (let at = 0; at < data.length; ) at += fs.writeSync(fd, data, at, data.length - at);
      if (data.length) fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(fsName(name), { force: true });
      throw err;
    }
    fs.closeSync(fd);
    return name;
  }
}

/** A fresh temporary name beside `target`: `.NAME.PID.RANDOM.tmp`. */
function temporaryName(target: string): string {
  const abs = path.resolve(target);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
}

/** Creates an empty, new temporary file beside `target` (never an existing name, never through a link); returns its path. */
export function createTemporary(target: string): string {
  return writeNewFile(() => temporaryName(target), new Uint8Array(0));
}

/** Whether the file system of `dir` has no room left (for a user like us). */
function isFull(dir: string): boolean {
  try {
    return fs.statfsSync(dir).bavail === 0;
  } catch {
    return false;
  }
}

/** The one-line error for a write of `file` that failed with `err`. */
export function writeError(file: string, err: unknown): ImgcmpError {
  if (err instanceof ImgcmpError) return err;
  return new ImgcmpError('file', `${file}: could not be written (${reasonOf(err)})`, { cause: err });
}

/** Throws an ImgcmpError ('refused') when `file` exists and is not a plain file whose first bytes `ours` accepts. */
export function checkOurs(file: string, ours: Ours, writer = 'imgcmp'): void {
  let existing: fs.Stats;
  try {
    existing = fs.lstatSync(file);
  } catch {
    return;
  }
  let head = '';
  if (existing.isFile()) {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW);
    try {
      const buf = Buffer.alloc(256);
      head = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  }
  if (!existing.isFile() || !ours(head)) throw new ImgcmpError('refused', `${file}: exists and was not written by ${writer}; refusing to overwrite it`);
}

/**
 * Writes `data` to a new temporary file beside `file` and flushes it; returns its path, for
 * commitFile (or removal). On failure nothing is left and an ImgcmpError naming `file` is thrown.
 */
export function prepareFile(file: string, data: string | Uint8Array): string {
  try {
    return writeNewFile(() => temporaryName(file), typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  } catch (err) {
    throw writeError(file, err);
  }
}

/** Renames a temporary file of prepareFile/withTemporary over `file`; removes it if that fails. */
export function commitFile(tmp: string, file: string): void {
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, err);
  }
}

/**
 * Writes `data` to `file` safely (see the top of this file). With `ours`, an existing `file` is
 * replaced only when ours(its first bytes) says imgcmp wrote it; a link there is never replaced.
 */
export function writeFileSafely(file: string, data: string | Uint8Array, ours?: Ours, writer?: string): void {
  if (ours) checkOurs(file, ours, writer);
  commitFile(prepareFile(file, data), file);
}

/**
 * For a library that opens files by name (h5wasm): creates the temporary file beside `file`,
 * lets `fill(tmp)` write it, then renames it over `file`. On failure the temporary is removed
 * and `file` left as it was; the error is thrown as one line naming `file`.
 */
export async function withTemporary(file: string, fill: (tmp: string) => void | Promise<void>, name = file): Promise<void> {
  let tmp: string | undefined;
  try {
    tmp = createTemporary(file);
    await fill(tmp);
    const fd = fs.openSync(tmp, fs.constants.O_RDONLY | O_NOFOLLOW);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    // A library's error (HDF5's) may not say why: a full file system is seen before the temporary goes.
    const full = !(err as NodeJS.ErrnoException).code && isFull(path.dirname(path.resolve(file)));
    if (tmp) fs.rmSync(tmp, { force: true });
    throw writeError(name, full ? Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) : err);
  }
  try {
    commitFile(tmp, file);
  } catch (err) {
    throw writeError(name, (err as Error).cause ?? err);
  }
}

/**
 * Removes the temporary files that writers of `file` left when they were killed: the names of
 * createTemporary (and the older `.NAME.PID.tmp`) whose process is gone. Nothing else.
 */
export function removeStaleTemporaries(file: string): void {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const prefix = `.${path.basename(abs)}.`;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const m = /^(\d+)(?:\.[0-9a-f]{12})?\.tmp$/.exec(e.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(dir, e), { force: true });
    }
  }
}
