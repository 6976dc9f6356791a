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
  const name = flattened(absSource);
  if (Buffer.byteLength(name) <= NAME_MAX) return name;
  return withDigest(name, digestOf(absSource));
}

/** imgcmp's flattening: every "/" replaced by "_", the leading "_" dropped. */
function flattened(absSource: string): string {
  return absSource.split(path.sep).join('_').replace(/^_/, '');
}

/** 16 hex digits of the SHA-256 of `text`. */
function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** `name` with `_DIGEST` before its extension, its stem cut from the front to fit NAME_MAX bytes. */
function withDigest(name: string, digest: string): string {
  const ext = path.extname(name);
  const room = NAME_MAX - Buffer.byteLength(ext) - digest.length - 1;
  // The tail of the stem, cut at a character boundary to at most `room` bytes.
  const stem = [...name.slice(0, name.length - ext.length)];
  let tail = '';
  while (stem.length && Buffer.byteLength(stem[stem.length - 1]! + tail) <= room) tail = stem.pop()! + tail;
  return `${tail}_${digest}${ext}`;
}

export interface CopyNames {
  /** Each source's copy name. */
  names: Map<string, string>;
  /** How many sources got a hashed name because their convertedName was shared. */
  renamed: number;
}

/**
 * The copy names of a set of sources, all distinct: convertedName where no other source of the
 * set has the same one; where two or more do ("/p/a/b_c.jpg" and "/p/a_b/c.jpg" both flatten to
 * "p_a_b_c.jpg"), each of them gets a hash of its whole path before the extension
 * ("p_a_b_c_1f2e….jpg"), so that none takes another's place. The result depends on the set
 * only, never on its order.
 */
export function copyNames(absSources: Iterable<string>): CopyNames {
  const sources = [...new Set(absSources)].sort();
  const groups = new Map<string, string[]>();
  for (const s of sources) {
    const name = convertedName(s);
    const group = groups.get(name);
    if (group) group.push(s);
    else groups.set(name, [s]);
  }
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const [name, group] of groups) {
    if (group.length === 1) {
      names.set(group[0]!, name);
      taken.add(name);
    }
  }
  let renamed = 0;
  for (const [name, group] of groups) {
    if (group.length === 1) continue;
    for (const s of group) {
      // A hashed name that another source has as its own (a name that already ends in a hash) is hashed again.
      let hashed = withDigest(name, digestOf(s));
      for (let k = 1; taken.has(hashed); k++) hashed = withDigest(name, digestOf(`${s}\0${k}`));
      names.set(s, hashed);
      taken.add(hashed);
      renamed++;
    }
  }
  return { names, renamed };
}
