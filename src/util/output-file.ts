/**
 * Writing a file the user named for output (a JSON of clusters): never over a file that imgcmp
 * did not write, never through a link planted at a temporary name, never half written.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ImgcmpError, reasonOf } from './errors.js';

/**
 * Writes `text` to `file`: to a fresh temporary name beside it (exclusive create, so no existing
 * file or link is opened), flushed, then renamed over `file`. An existing `file` is replaced only
 * when `ours(first bytes)` says imgcmp wrote it. Throws an ImgcmpError naming the file otherwise,
 * or when the write fails (the temporary file is removed; the old file stays as it was).
 */
export function writeOutputFile(file: string, text: string, ours: (head: string) => boolean): void {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(file);
  } catch {
    existing = undefined;
  }
  if (existing) {
    let head = '';
    if (existing.isFile()) {
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        const buf = Buffer.alloc(64);
        head = buf.subarray(0, fs.readSync(fd, buf, 0, 64, 0)).toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    }
    if (!existing.isFile() || !ours(head)) throw new ImgcmpError('refused', `${file}: exists and was not written by imgcmp; refusing to overwrite it`);
  }
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new ImgcmpError('file', `${file}: could not be written (${reasonOf(err)})`, { cause: err });
  }
}
