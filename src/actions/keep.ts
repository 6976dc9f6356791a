/**
 * Which picture of a cluster to keep: rules applied in order, each breaking the ties of the one
 * before, then the path (so the choice never depends on anything but the files). Pure.
 *
 *   largest           most pixels, then most bytes
 *   newest / oldest   latest / earliest modification time
 *   path-prefix=DIR   files under DIR first (a reference folder)
 */
import path from 'node:path';
import { ImgcmpError } from '../util/errors.js';

export interface MemberInfo {
  file: string;
  width: number;
  height: number;
  bytes: number;
  mtimeMs: number;
}

export type KeepRule = { kind: 'largest' } | { kind: 'newest' } | { kind: 'oldest' } | { kind: 'path-prefix'; dir: string };

/** Parses "largest,newest" or ["largest", "path-prefix=/photos"]; throws on an unknown rule. */
export function parseKeepRules(specs: readonly string[]): KeepRule[] {
  const rules: KeepRule[] = [];
  for (const spec of specs.flatMap((s) => s.split(','))) {
    const s = spec.trim();
    if (s === 'largest' || s === 'newest' || s === 'oldest') rules.push({ kind: s });
    else if (s.startsWith('path-prefix=') && s.length > 'path-prefix='.length) {
      rules.push({ kind: 'path-prefix', dir: path.resolve(s.slice('path-prefix='.length)) });
    } else throw new ImgcmpError('usage', `unknown keep rule "${s}" (largest, newest, oldest, path-prefix=DIR)`);
  }
  if (!rules.length) throw new ImgcmpError('usage', 'no keep rule given');
  return rules;
}

function under(file: string, dir: string): boolean {
  return file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** Negative when a is the better one to keep. */
function compareForKeeping(rules: readonly KeepRule[], a: MemberInfo, b: MemberInfo): number {
  for (const r of rules) {
    let c = 0;
    if (r.kind === 'largest') c = b.width * b.height - a.width * a.height || b.bytes - a.bytes;
    else if (r.kind === 'newest') c = b.mtimeMs - a.mtimeMs;
    else if (r.kind === 'oldest') c = a.mtimeMs - b.mtimeMs;
    else c = (under(a.file, r.dir) ? 0 : 1) - (under(b.file, r.dir) ? 0 : 1);
    if (c !== 0) return c;
  }
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}

/** The member to keep. */
export function chooseKeeper(rules: readonly KeepRule[], members: readonly MemberInfo[]): MemberInfo {
  return [...members].sort((a, b) => compareForKeeping(rules, a, b))[0]!;
}
