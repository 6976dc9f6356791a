/**
 * Dedupe: keep one picture per cluster and move the others aside (a plan, carried out only when
 * asked), or undo an applied dedupe from its journal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { apply, checkMembers, DEDUPE_MARKER, plan, readJournal, undo, type JournalEntry, type LinkKind, type Plan, type PlannedMove } from '../actions/dedupe.js';
import { existingDbOrNone, readDb, writeDb } from '../db/database.js';
import { acquireLock } from '../db/lock.js';
import { dbFromRecords, recordsOf } from '../db/records.js';
import { settingsDifference } from '../hash/settings.js';
import { fsPath } from '../walk/fspath.js';
import { reasonOf } from '../util/errors.js';
import { removeStaleTemporaries } from '../util/safe-write.js';
import { inspect } from '../actions/inspect.js';
import type { KeepRule } from '../actions/keep.js';
import { mapLimited } from '../util/pool.js';
import { loadClusters, type ClusterSource } from './clusters.js';
import { planOfDecisions, type Decisions } from '../actions/decisions.js';
import { loadDecided, recordNotDuplicates } from './decide.js';

export interface DedupeJob {
  source: ClusterSource;
  rules: readonly KeepRule[];
  moveTo: string;
  /** Carry the plan out (else only make it). */
  apply: boolean;
  link: LinkKind | null;
  inFlight: number;
  /** The plan's source instead of the clusters and rules: decisions saved from the report page, and their "not duplicates" pairs to record with `apply`. */
  decisions?: { decisions: Decisions; notDuplicates: [string, string][] };
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
  const loaded = job.decisions ? await loadDecided(job.decisions.decisions, job.source.dbfile) : await loadClusters({ ...job.source, keepMissing: true });
  // Members gone or changed since they were fingerprinted are named and left alone.
  const db = loaded.db;
  const row = db ? new Map(db.files.map((f, i) => [f, i])) : undefined;
  const checked = checkMembers(loaded.clustering.clusters, (f) => ((i) => (db && i !== undefined ? { size: db.size[i]!, mtime: db.mtime[i]! } : undefined))(row?.get(f)));
  // A few files at a time, as everywhere: thousands at once would run out of file handles.
  const infos = await mapLimited(checked.clusters.flat(), job.inFlight, inspect);
  let at = 0;
  const members = checked.clusters.map((c) => infos.slice(at, (at += c.length)));
  const moveTo = path.resolve(job.moveTo);
  const planned = job.decisions ? planOfDecisions(members, job.decisions.decisions, moveTo) : plan(members, job.rules, moveTo);
  planned.refused.unshift(...checked.refused);
  const bytesOf = new Map(infos.map((i) => [i.file, i.bytes]));
  const planBytes = planned.moves.reduce((sum, m) => sum + (bytesOf.get(m.from) ?? 0), 0);
  job.onPlan?.(planned);
  if (!job.apply) return { plan: planned, moveTo, planBytes };
  if (job.decisions) await recordNotDuplicates(job.source.dbfile, job.decisions.notDuplicates);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const journal = path.join(moveTo, `imgcmp-dedupe-${stamp}.journal`);
  fs.mkdirSync(moveTo, { recursive: true });
  // The marker keeps fingerprint and find out of this folder.
  fs.writeFileSync(path.join(moveTo, DEDUPE_MARKER), 'imgcmp dedupe --move-to folder: never searched by fingerprint or find\n');
  if (!db) return { plan: planned, moveTo, planBytes, moved: apply(planned.moves, journal, job.link, job.onMoved), journal };
  // The database follows the files, under its lock: the rows of the moved files leave it (kept
  // beside the journal, for --undo to bring back).
  const dbfile = path.resolve(job.source.dbfile);
  const release = acquireLock(dbfile);
  const done: PlannedMove[] = [];
  try {
    return { plan: planned, moveTo, planBytes, moved: apply(planned.moves, journal, job.link, (m) => (done.push(m), job.onMoved?.(m)), dbfile), journal };
  } finally {
    try {
      if (done.length) await dropRows(dbfile, journal, done);
    } catch (err) {
      // The moves stand and are journalled; the entries left behind are named as gone by the next run.
      process.stderr.write(`imgcmp dedupe: ${dbfile}: not updated (${reasonOf(err)}); imgcmp fingerprint --prune -f ${dbfile} drops the moved files\n`);
    } finally {
      release();
    }
  }
}

/**
 * Takes the rows of the moved files out of the database (read again under the lock), after
 * saving them beside the journal (JOURNAL.hdf) for --undo to bring back.
 */
async function dropRows(dbfile: string, journal: string, done: readonly PlannedMove[]): Promise<void> {
  const current = await readDb(dbfile);
  const records = recordsOf(current);
  const rows = done.flatMap((m) => [m.from, ...(m.also ?? [])]).flatMap((f) => (records.has(f) ? [records.get(f)!] : []));
  if (!rows.length) return;
  await writeDb(`${journal}.hdf`, dbFromRecords(current.settings, rows));
  for (const r of rows) records.delete(r.file);
  await writeDb(dbfile, dbFromRecords(current.settings, records.values()));
}

/**
 * Brings back into the journal's database the rows of the files `--undo` restored (kept beside
 * the journal by --apply): those whose file is back and that the database lacks, made with its
 * settings. Under the database's lock. Returns the rows brought back.
 */
async function restoreRows(journal: string): Promise<number> {
  let dbfile: string | undefined;
  try {
    ({ dbfile } = readJournal(journal));
  } catch {
    return 0; // said by undo
  }
  const saved = `${journal}.hdf`;
  if (!dbfile || !fs.existsSync(saved)) return 0;
  const release = acquireLock(dbfile);
  try {
    const current = await existingDbOrNone(dbfile);
    if (!current) return 0;
    const kept = await readDb(saved);
    if (settingsDifference(current.settings, kept.settings)) return 0;
    const records = recordsOf(current);
    let back = 0;
    for (const r of recordsOf(kept).values()) {
      if (!records.has(r.file) && fs.existsSync(fsPath(r.file))) {
        records.set(r.file, r);
        back++;
      }
    }
    if (back) await writeDb(dbfile, dbFromRecords(current.settings, records.values()));
    return back;
  } finally {
    release();
  }
}

/**
 * Undoes the dedupe of `journal`; see actions/dedupe.ts undo. `onCut` is told of a last line cut
 * short and of the complete entries restored without it. Returns the files restored.
 */
export async function runUndo(journal: string, onRestored?: (e: JournalEntry) => void, onCut?: (line: number, complete: number) => void): Promise<number> {
  // A run killed while saving its rows beside the journal left a temporary file there: ours to remove.
  removeStaleTemporaries(`${journal}.hdf`);
  try {
    return await undo(journal, onRestored, onCut);
  } finally {
    // What was restored returns to the database, also when the undo stopped part way.
    await restoreRows(journal);
  }
}
