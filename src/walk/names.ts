/** File names derived from paths. Pure. */
import { createHash } from 'node:crypto';
import path from 'node:path';

/** The longest file name (bytes) that common file systems (ext4, APFS, NTFS) accept. */
const NAME_MAX = 255;

/**
 * The copy's file name, as imgcmp names it: the absolute source path with every "/" replaced
 * by "_", the leading "_" dropped ("/home/a/x.jpg" → "home_a_x.jpg"). A name that would exceed
 * NAME_MAX bytes keeps its last part and gets a hash of the whole path in front of the
 * extension, so it stays unique and the same on every run.
 */
export function convertedName(absSource: string): string {
  const name = absSource.split(path.sep).join('_').replace(/^_/, '');
  if (Buffer.byteLength(name) <= NAME_MAX) return name;
  const ext = path.extname(name);
  const digest = createHash('sha256').update(absSource).digest('hex').slice(0, 16);
  const room = NAME_MAX - Buffer.byteLength(ext) - digest.length - 1;
  // The tail of the stem, cut at a character boundary to at most `room` bytes.
  const stem = [...name.slice(0, name.length - ext.length)];
  let tail = '';
  while (stem.length && Buffer.byteLength(stem[stem.length - 1]! + tail) <= room) tail = stem.pop()! + tail;
  return `${tail}_${digest}${ext}`;
}
