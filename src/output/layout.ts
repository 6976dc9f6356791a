/**
 * Clusters out: the `cluster_with_N/cluster_K/` tree of symbolic links that imgcmp users browse,
 * and the summary table that imgcmp prints.
 *
 * Safety: the tree is built beside the target under a temporary name and swapped in by rename.
 * An existing target is replaced only if imgcmp made it (it carries MARKER) or it is empty; any
 * other folder is refused. Removing an old tree removes links and folders, never a link's target.
 */
import fs from 'node:fs';
import path from 'node:path';
import { convertedName } from '../walk/names.js';

/** File that marks a folder as a cluster tree written by imgcmp (and so replaceable). */
export const MARKER = '.imgcmp-cluster';

/** A folder that must not be touched: the message names it and says why. */
export class RefusedError extends Error {}

/** Clusters by size, ascending sizes; within a size, the given cluster order. */
export function bySize(clusters: readonly string[][]): Map<number, string[][]> {
  const out = new Map<number, string[][]>();
  for (const c of clusters) {
    let list = out.get(c.length);
    if (!list) out.set(c.length, (list = []));
    list.push(c);
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

/** imgcmp's summary: the cluster folder, then "size : number of clusters of that size". */
export function summaryLines(outdir: string | undefined, clusters: readonly string[][]): string[] {
  const lines = [`cluster dir: ${outdir ?? '(not written)'}`, 'items per cluster : number of such clusters'];
  for (const [size, list] of bySize(clusters)) lines.push(`${size} : ${list.length}`);
  return lines;
}

/**
 * Link names for the members of one cluster: the base name, or — where two members share a base
 * name — imgcmp's flattened absolute path ("home_a_x.jpg"), which is unique per path.
 */
export function linkNames(members: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(path.basename(m), (counts.get(path.basename(m)) ?? 0) + 1);
  const used = new Set<string>();
  return members.map((m) => {
    let name = counts.get(path.basename(m))! > 1 ? convertedName(m) : path.basename(m);
    // Only a path listed twice can still collide; number the repeats.
    for (let k = 1; used.has(name); k++) name = `${k}_${counts.get(path.basename(m))! > 1 ? convertedName(m) : path.basename(m)}`;
    used.add(name);
    return name;
  });
}

/** Throws RefusedError unless `dir` is absent, empty, or an imgcmp cluster tree. */
export function checkReplaceable(dir: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new RefusedError(`${dir}: exists and is not a folder; refusing to replace it`);
    throw new RefusedError(`${dir}: cannot read (${code ?? 'error'})`);
  }
  if (entries.length && !entries.includes(MARKER)) {
    throw new RefusedError(`${dir}: folder is not empty and was not written by imgcmp cluster; refusing to replace it (choose another --outdir)`);
  }
  const foreign = firstForeignFile(dir);
  if (foreign) {
    throw new RefusedError(`${dir}: holds ${foreign}, which imgcmp did not write; refusing to replace the folder`);
  }
}

/** A file other than links, folders and the marker under `dir` (someone put it there), if any. */
function firstForeignFile(dir: string, top = true): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink() || (top && e.isFile() && e.name === MARKER)) continue;
    if (e.isDirectory()) {
      const inner = firstForeignFile(p, false);
      if (inner) return inner;
      continue;
    }
    return p;
  }
  return undefined;
}

/** Writes the symlink tree of `clusters` to `outdir`, replacing an earlier tree safely. */
export function writeClusterTree(outdir: string, clusters: readonly string[][]): void {
  const target = path.resolve(outdir);
  checkReplaceable(target);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const fresh = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.new-`));
  try {
    fs.writeFileSync(path.join(fresh, MARKER), 'written by imgcmp cluster; this folder is replaced on the next run\n');
    for (const [size, list] of bySize(clusters)) {
      const sizeDir = path.join(fresh, `cluster_with_${size}`);
      fs.mkdirSync(sizeDir);
      list.forEach((members, k) => {
        const dir = path.join(sizeDir, `cluster_${k}`);
        fs.mkdirSync(dir);
        const names = linkNames(members);
        members.forEach((m, i) => fs.symlinkSync(m, path.join(dir, names[i]!)));
      });
    }
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
  let old: string | undefined;
  if (fs.existsSync(target)) {
    old = `${fresh}.old`;
    fs.renameSync(target, old);
  }
  fs.renameSync(fresh, target);
  // The old tree holds only our links and folders (checked above); rm does not follow links.
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
