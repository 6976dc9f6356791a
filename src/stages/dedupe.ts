/**
 * Dedupe: keep one picture per cluster and move the others aside (a plan, carried out only when
 * asked), or undo an applied dedupe from its journal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { apply, plan, undo, type JournalEntry, type LinkKind, type Plan, type PlannedMove } from '../actions/dedupe.js';
import { inspect } from '../actions/inspect.js';
import type { KeepRule } from '../actions/keep.js';
import { mapLimited } from '../util/pool.js';
import { loadClusters, type ClusterSource } from './clusters.js';

export interface DedupeJob {
  source: ClusterSource;
  rules: readonly KeepRule[];
  moveTo: string;
  /** Carry the plan out (else only make it). */
  apply: boolean;
  link: LinkKind | null;
  inFlight: number;
  /** The plan, before anything is moved. */
  onPlan?: (plan: Plan) => void;
  onMoved?: (move: PlannedMove) => void;
}

export interface DedupeResult {
  plan: Plan;
  moveTo: string;
  /** The bytes of the files the plan moves (what emptying moveTo afterwards frees). */
  planBytes: number;
  /** With `apply`: the moves made and the journal that undoes them. */
  moved?: number;
  journal?: string;
}

/**
 * Plans (and with `apply`, makes) the moves that keep one picture per cluster of `job.source`.
 * Throws an ImgcmpError when the clusters cannot be had or a move does not check out (what was
 * moved stays moved, and is in the journal).
 */
export async function runDedupe(job: DedupeJob): Promise<DedupeResult> {
  const loaded = await loadClusters(job.source);
  // A few files at a time, as everywhere: thousands at once would run out of file handles.
  const infos = await mapLimited(loaded.clustering.clusters.flat(), job.inFlight, inspect);
  let at = 0;
  const members = loaded.clustering.clusters.map((c) => infos.slice(at, (at += c.length)));
  const moveTo = path.resolve(job.moveTo);
  const planned = plan(members, job.rules, moveTo);
  const bytesOf = new Map(infos.map((i) => [i.file, i.bytes]));
  const planBytes = planned.moves.reduce((sum, m) => sum + (bytesOf.get(m.from) ?? 0), 0);
  job.onPlan?.(planned);
  if (!job.apply) return { plan: planned, moveTo, planBytes };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const journal = path.join(moveTo, `imgcmp-dedupe-${stamp}.journal`);
  fs.mkdirSync(moveTo, { recursive: true });
  const moved = apply(planned.moves, journal, job.link, job.onMoved);
  return { plan: planned, moveTo, planBytes, moved, journal };
}

/**
 * Undoes the dedupe of `journal`; see actions/dedupe.ts undo. `onCut` is told of a last line cut
 * short and of the complete entries restored without it. Returns the files restored.
 */
export function runUndo(journal: string, onRestored?: (e: JournalEntry) => void, onCut?: (line: number, complete: number) => void): number {
  return undo(journal, onRestored, onCut);
}
