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
import { replaceFolder, type OwnedFolder } from '../util/replace.js';
import { convertedName } from '../walk/names.js';
import { fsPath, toBytes } from '../walk/fspath.js';

/** File that marks a folder as a cluster tree written by imgcmp (and so replaceable). */
const MARKER = '.imgcmp-cluster';

/** A cluster tree: only symbolic links (and folders) besides the marker. */
export const CLUSTER_TREE: OwnedFolder = { marker: MARKER, writer: 'imgcmp cluster', ours: (e) => e.isSymbolicLink() };

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

/**
 * The cluster tree as checked once the old tree is moved aside: imgcmp's links point at files of
 * the clustering (`known`); a link pointing anywhere else is the user's, and is kept.
 */
function treeOf(known: Iterable<string>): OwnedFolder {
  const targets = new Set<string>();
  for (const f of known) targets.add(toBytes(f).toString('latin1'));
  return {
    ...CLUSTER_TREE,
    ours: (e, p) => {
      if (!e.isSymbolicLink()) return false;
      try {
        return targets.has(fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1'));
      } catch {
        return false;
      }
    },
  };
}

/**
 * Writes the symlink tree of `clusters` to `outdir`, replacing an earlier tree safely. `known`:
 * the files the clustering was made of (default: the clusters' members), which the old tree's
 * links point at.
 */
export async function writeClusterTree(outdir: string, clusters: readonly string[][], known: Iterable<string> = clusters.flat()): Promise<void> {
  await replaceFolder(outdir, CLUSTER_TREE, (fresh) => {
    for (const [size, list] of bySize(clusters)) {
      const sizeDir = path.join(fresh, `cluster_with_${size}`);
      fs.mkdirSync(sizeDir);
      list.forEach((members, k) => {
        const dir = path.join(sizeDir, `cluster_${k}`);
        fs.mkdirSync(dir);
        const names = linkNames(members);
        members.forEach((m, i) => fs.symlinkSync(fsPath(m), fsPath(path.join(dir, names[i]!))));
      });
    }
  }, treeOf(known));
}
