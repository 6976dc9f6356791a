/**
 * The decisions file that the report page saves ("Save decisions") and `imgcmp dedupe --plan
 * FILE` carries out: for each cluster, the picture to keep and the pictures to move aside (the
 * others stay where they are), or "not duplicates". Reading and checking it, and the plan it
 * makes; reads the file system only to check move targets, as plan() does.
 *
 *   {"imgcmp": "decisions", "version": 1, "source": "...",
 *    "clusters": [{"name": "cluster_with_3/cluster_0", "files": [A, B, C], "keep": A, "move": [B]},
 *                 {"name": "cluster_with_2/cluster_0", "files": [D, E], "notDuplicates": true}]}
 */
import fs from 'node:fs';
import path from 'node:path';
import { plan, type Plan } from './dedupe.js';
import type { MemberInfo } from './keep.js';
import { fileError, ImgcmpError } from '../util/errors.js';

export interface ClusterDecision {
  name: string;
  files: string[];
  /** Undefined for "not duplicates". */
  keep?: string;
  move: string[];
  notDuplicates: boolean;
}

export interface Decisions {
  clusters: ClusterDecision[];
}

const DECISIONS = 'decisions';
const VERSION = 1;

/** An absolute, normalised path without NUL. */
function isPath(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && !v.includes('\0') && path.isAbsolute(v) && path.normalize(v) === v;
}

/**
 * The decisions of `file`. Throws an ImgcmpError naming the first thing wrong: not JSON, not a
 * decisions file, a path that is not absolute, a keeper or a move that is not a member of its
 * cluster, a file kept in one cluster and moved in another.
 */
export function readDecisions(file: string): Decisions {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw fileError(file, err);
  }
  const bad = (why: string): ImgcmpError => new ImgcmpError('file', `${file}: ${why}; nothing done`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON (save it from the report page: "Save decisions")');
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o['imgcmp'] !== DECISIONS) throw bad('not an imgcmp decisions file (save one from the report page)');
  if (o['version'] !== VERSION) throw bad(`decisions of version ${JSON.stringify(o['version'])}; this imgcmp reads version ${VERSION}`);
  if (!Array.isArray(o['clusters'])) throw bad('no "clusters" list');
  const clusters: ClusterDecision[] = [];
  const kept = new Set<string>();
  const moved = new Set<string>();
  (o['clusters'] as unknown[]).forEach((c, k) => {
    const at = `cluster ${k + 1}`;
    if (typeof c !== 'object' || c === null) throw bad(`${at} is not an object`);
    const d = c as Record<string, unknown>;
    const files = d['files'];
    if (!Array.isArray(files) || files.length < 2 || !files.every(isPath)) throw bad(`${at}: "files" is not a list of two or more absolute paths`);
    const members = new Set(files as string[]);
    const name = typeof d['name'] === 'string' ? d['name'] : at;
    if (d['notDuplicates'] === true) {
      clusters.push({ name, files: [...members], move: [], notDuplicates: true });
      return;
    }
    if (d['notDuplicates'] !== undefined && d['notDuplicates'] !== false) throw bad(`${at}: "notDuplicates" is not true or false`);
    const keep = d['keep'];
    const move = d['move'] ?? [];
    if (!isPath(keep) || !members.has(keep)) throw bad(`${at}: "keep" is not one of its files`);
    if (!Array.isArray(move) || !move.every((m) => isPath(m) && members.has(m) && m !== keep)) throw bad(`${at}: "move" lists a path that is not one of its files or is the one kept`);
    for (const m of move as string[]) if (kept.has(m)) throw bad(`${m} is kept in one cluster and moved in another`);
    if (moved.has(keep)) throw bad(`${keep} is kept in one cluster and moved in another`);
    kept.add(keep);
    for (const m of move as string[]) moved.add(m);
    clusters.push({ name, files: [...members], keep, move: [...new Set(move as string[])].filter((m) => !clustersMove(clusters, m)), notDuplicates: false });
  });
  return { clusters };
}

/** Whether an earlier cluster already moves `file` (a file in two clusters is moved once). */
function clustersMove(clusters: readonly ClusterDecision[], file: string): boolean {
  return clusters.some((c) => c.move.includes(file));
}

/** The pairs of paths the decisions mark "not duplicates": every pair of each such cluster's files, each sorted. */
export function notDuplicatePairs(decisions: Decisions): [string, string][] {
  const out: [string, string][] = [];
  for (const c of decisions.clusters) {
    if (!c.notDuplicates) continue;
    const files = [...c.files].sort();
    for (let i = 0; i < files.length; i++) for (let j = i + 1; j < files.length; j++) out.push([files[i]!, files[j]!]);
  }
  return out;
}

/** The clusters the decisions act on: each cluster's keeper first, then the members it moves ("not duplicates" left out). */
export function decidedClusters(decisions: Decisions): string[][] {
  return decisions.clusters.filter((c) => !c.notDuplicates).map((c) => [c.keep!, ...c.move]);
}

/**
 * The plan the decisions make, of `clusters` (decidedClusters' clusters, members as they checked
 * out on disk): each cluster's decided keeper kept, the others moved to their absolute path under
 * `moveTo` (checked as plan() checks every move). A cluster whose keeper is no longer there moves
 * nothing (its members are refused).
 */
export function planOfDecisions(clusters: readonly MemberInfo[][], decisions: Decisions, moveTo: string): Plan {
  const keepers = new Set(decisions.clusters.filter((c) => !c.notDuplicates).map((c) => c.keep!));
  const refused: Plan['refused'] = [];
  // plan() keeps the member its rules choose: the decided keeper is made the only one with
  // pixels, so that the rule "largest" chooses it; plan() reads nothing else of the members.
  const chosen = clusters.filter((c) => {
    if (c.some((m) => keepers.has(m.file))) return true;
    for (const m of c) refused.push({ from: m.file, reason: 'the picture decided to keep in its cluster is no longer there' });
    return false;
  });
  const info = (m: MemberInfo): MemberInfo => ({ file: m.file, width: keepers.has(m.file) ? 1 : 0, height: keepers.has(m.file) ? 1 : 0, bytes: 0, mtimeMs: 0 });
  const out = plan(chosen.map((c) => c.map(info)), [{ kind: 'largest' }], moveTo);
  out.refused.unshift(...refused);
  return out;
}
