/**
 * The checks of an index call's arguments, one place for both indexes (api/index.ts on a
 * database file, api/postgres.ts on PostgreSQL), so that both refuse the same values in the same
 * words. Each throws an IndexError ('invalid').
 */
import os from 'node:os';
import { SIMILARITY } from '../stages/find-settings.js';
import { IndexError } from './errors.js';

/** An entry's id: a non-empty string. */
export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !id) throw new IndexError('invalid', 'an id is a non-empty string');
}

/** list()'s page: from `offset` (default 0), at most `limit` (default all). */
export function pageOf(opts: { offset?: number; limit?: number }): { offset: number; limit: number } {
  const offset = opts.offset ?? 0;
  const limit = opts.limit ?? Infinity;
  if (!Number.isInteger(offset) || offset < 0) throw new IndexError('invalid', `offset must be a whole number ≥ 0, not ${String(offset)}`);
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) throw new IndexError('invalid', `limit must be a whole number ≥ 0, not ${String(limit)}`);
  return { offset, limit };
}

/** nearest()'s bounds: at most `k` entries (default 10) within `maxDistance` (default find's cut). */
export function nearestBounds(opts: { k?: number; maxDistance?: number }): { k: number; maxDistance: number } {
  const k = opts.k ?? 10;
  const maxDistance = opts.maxDistance ?? SIMILARITY.default;
  if (!Number.isInteger(k) || k < 0) throw new IndexError('invalid', `k must be a whole number ≥ 0, not ${String(k)}`);
  if (typeof maxDistance !== 'number' || !(maxDistance >= 0 && maxDistance <= 1)) throw new IndexError('invalid', `maxDistance must be from 0 to 1, not ${String(maxDistance)}`);
  return { k, maxDistance };
}

/** duplicates()'s cut (default find's), a fraction of the bits. */
export function cutOf(opts: { cut?: number }): number {
  const cut = opts.cut ?? SIMILARITY.default;
  if (typeof cut !== 'number' || !(cut >= 0 && cut <= 1)) throw new IndexError('invalid', `cut must be from 0 to 1, not ${String(cut)}`);
  return cut;
}

/** add()'s throttle (default: none, the work runs as is): a function that runs the hashing it is given. */
export function throttleOf(opts: { throttle?: unknown }): <T>(hash: () => Promise<T>) => Promise<T> {
  const throttle = opts.throttle;
  if (throttle === undefined) return (hash) => hash();
  if (typeof throttle !== 'function') throw new IndexError('invalid', `throttle must be a function, not ${typeof throttle}`);
  return throttle as <T>(hash: () => Promise<T>) => Promise<T>;
}

/** openIndex()'s search threads (default: one per core; 0: searches on the caller's thread). */
export function searchThreadsOf(opts: { searchThreads?: number }): number {
  const threads = opts.searchThreads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 0) throw new IndexError('invalid', `searchThreads must be a whole number ≥ 0, not ${String(threads)}`);
  return threads;
}
