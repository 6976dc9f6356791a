/**
 * Which picture of a cluster to keep: rules applied in order, each breaking the ties of the one
 * before, then the path (so the choice never depends on anything but the files). Pure.
 *
 *   original          the one a photographer would keep: the earliest capture date (EXIF
 *                     DateTimeOriginal; a picture with one before a picture without), then
 *                     camera-made (EXIF Make or Model) before edited or exported, then the most
 *                     pixels, then upright pixels (EXIF orientation 1 or none), then the most bytes
 *   largest           most pixels, then most bytes
 *   newest / oldest   latest / earliest capture date, else modification time
 *   path-prefix=DIR   files under DIR first (a reference folder)
 */
import path from 'node:path';
import { ImgcmpError } from '../util/errors.js';

export interface MemberInfo {
  file: string;
  /** Upright pixel size. */
  width: number;
  height: number;
  bytes: number;
  mtimeMs: number;
  /** EXIF DateTimeOriginal, in ms, when the file has one. */
  takenMs?: number;
  /** EXIF Make or Model present: straight from a camera (not an export that dropped them). */
  camera?: boolean;
  /** EXIF orientation (1 to 8); absent when none. */
  orientation?: number;
}

export type KeepRule = { kind: 'original' } | { kind: 'largest' } | { kind: 'newest' } | { kind: 'oldest' } | { kind: 'path-prefix'; dir: string };

export const KEEP_RULE_NAMES = 'original, largest, newest, oldest, path-prefix=DIR';

/** Parses "largest,newest" or ["largest", "path-prefix=/photos"]; throws on an unknown rule. */
export function parseKeepRules(specs: readonly string[]): KeepRule[] {
  const rules: KeepRule[] = [];
  for (const spec of specs.flatMap((s) => s.split(','))) {
    const s = spec.trim();
    if (s === 'original' || s === 'largest' || s === 'newest' || s === 'oldest') rules.push({ kind: s });
    else if (s.startsWith('path-prefix=') && s.length > 'path-prefix='.length) {
      rules.push({ kind: 'path-prefix', dir: path.resolve(s.slice('path-prefix='.length)) });
    } else throw new ImgcmpError('usage', `unknown keep rule "${s}" (${KEEP_RULE_NAMES})`);
  }
  if (!rules.length) throw new ImgcmpError('usage', 'no keep rule given');
  return rules;
}

function under(file: string, dir: string): boolean {
  return file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** The capture date, else the modification time. */
const dateOf = (m: MemberInfo): number => m.takenMs ?? m.mtimeMs;

/** Negative when a is the better one to keep by the original rule. */
function compareOriginal(a: MemberInfo, b: MemberInfo): number {
  const ta = a.takenMs ?? Infinity;
  const tb = b.takenMs ?? Infinity;
  if (ta !== tb) return ta < tb ? -1 : 1;
  const upright = (m: MemberInfo): number => (m.orientation === undefined || m.orientation === 1 ? 0 : 1);
  return (
    (a.camera ? 0 : 1) - (b.camera ? 0 : 1) ||
    b.width * b.height - a.width * a.height ||
    upright(a) - upright(b) ||
    b.bytes - a.bytes
  );
}

/** Negative when a is the better one to keep. */
function compareForKeeping(rules: readonly KeepRule[], a: MemberInfo, b: MemberInfo): number {
  for (const r of rules) {
    let c = 0;
    if (r.kind === 'original') c = compareOriginal(a, b);
    else if (r.kind === 'largest') c = b.width * b.height - a.width * a.height || b.bytes - a.bytes;
    else if (r.kind === 'newest') c = dateOf(b) - dateOf(a);
    else if (r.kind === 'oldest') c = dateOf(a) - dateOf(b);
    else c = (under(a.file, r.dir) ? 0 : 1) - (under(b.file, r.dir) ? 0 : 1);
    if (c !== 0) return c;
  }
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}

/** The member to keep. */
export function chooseKeeper(rules: readonly KeepRule[], members: readonly MemberInfo[]): MemberInfo {
  return [...members].sort((a, b) => compareForKeeping(rules, a, b))[0]!;
}
