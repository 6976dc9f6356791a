/**
 * The clusters of an index, computed once per question (cut, linkage, flat pictures or not) and
 * per state of the index. Clustering the whole index takes seconds of CPU at a few hundred thousand
 * entries; without this every `GET /duplicates` would pay it again, a cheap way to overload a
 * server. Any add or remove (changed()) makes the answers stale. The clustering runs on the
 * calling thread, to its end, so requests that arrive while it runs wait for it and are then
 * answered from here: identical requests share one computation.
 */
import { clusterFingerprints } from '../cluster/cluster.js';
import type { Linkage } from '../cluster/linkage.js';
import type { FingerprintDb } from '../db/database.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';

/** Answers kept at once (distinct cuts asked for): a bound on the memory a client can make us hold. */
const KEPT = 8;

export interface DuplicatesQuestion {
  cut: number;
  linkage: Linkage;
  includeFlat: boolean;
}

export class DuplicatesCache {
  /** The state of the index: bumped by every change. */
  private state = 0;
  /** Answers at `state`, by question, the most recently used last. */
  private readonly answers = new Map<string, string[][]>();
  /** Clusterings computed so far (for tests and benchmarks: a repeated question computes none). */
  computed = 0;

  /** An entry was added, replaced or removed: every answer is stale. */
  changed(): void {
    this.state++;
    this.answers.clear();
  }

  /** The clusters for `question`: the kept answer while nothing changed, else `compute`'s. Callers get their own copy. */
  clusters(question: DuplicatesQuestion, compute: () => string[][]): string[][] {
    const key = `${question.cut}|${question.linkage}|${question.includeFlat ? 1 : 0}`;
    let answer = this.answers.get(key);
    if (answer) this.answers.delete(key); // re-inserted below as the most recently used
    else {
      const state = this.state;
      answer = compute();
      this.computed++;
      if (state !== this.state) return answer.map((c) => c.slice()); // changed meanwhile: not kept
    }
    this.answers.set(key, answer);
    while (this.answers.size > KEPT) this.answers.delete(this.answers.keys().next().value!);
    return answer.map((c) => c.slice());
  }
}

/** The clusters of every entry of `db` for `question`, as find groups them (absolute cut; the same for every kind of index). */
export function clustersOfDb(db: FingerprintDb, question: DuplicatesQuestion): string[][] {
  if (db.files.length < 2) return [];
  return clusterFingerprints(db.files, db.fps, { ...question, absolute: true }, {
    views: db.views,
    viewsPerFile: viewsPerFile(db.settings),
    selfViews: selfViewsPerFile(db.settings),
    viewPenalty: viewPenaltyOf(db.settings),
    flat: db.flat,
    coarse: db.coarse,
  }).clusters;
}
