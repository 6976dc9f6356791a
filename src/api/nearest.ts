/**
 * nearest()'s steps that do not depend on where the entries are kept, one place for both indexes
 * (api/index.ts on a database file, api/postgres.ts on PostgreSQL): the query's record, the cuts
 * in bits, and the answer made from the entries found, so that both answer alike.
 */
import type { FingerprintRecord } from '../hash/settings.js';
import { coarseCutBits, cutBits } from '../index/cut.js';
import type { QueryPicture } from '../index/views.js';
import { checkId } from './arguments.js';
import { IndexError } from './errors.js';
import type { ImageSource, Neighbour, NearestOptions, QuerySource } from './index.js';

/** The record of a query: an entry's own (then `self`, which is not its own match), or the image's, hashed. */
export async function queryRecord(
  source: QuerySource,
  recordOf: (id: string) => FingerprintRecord | undefined,
  fingerprint: (source: ImageSource) => Promise<FingerprintRecord>,
): Promise<{ record: FingerprintRecord; self?: string }> {
  if (source && typeof source === 'object' && !(source instanceof Uint8Array)) {
    checkId(source.id);
    const record = recordOf(source.id);
    if (!record) throw new IndexError('not-found', `${source.id}: no such entry`);
    return { record, self: source.id };
  }
  return { record: await fingerprint(source) };
}

/**
 * What to search for: the query picture (upright only when `allOrientations` is false), the cut
 * in bits, and the coarse cut (Infinity where coarse views do not apply).
 */
export function nearestQuery(
  record: FingerprintRecord,
  maxDistance: number,
  opts: Pick<NearestOptions, 'allOrientations'>,
  layout: { nbits: number; coarseBits: number; perFile: number },
): { query: QueryPicture; upright: boolean; within: number; coarseWithin: number } {
  const upright = opts.allOrientations === false;
  return {
    query: upright ? { upright: record.bits } : { upright: record.bits, views: record.views, coarse: record.coarse },
    upright,
    within: Math.floor(cutBits(maxDistance, layout.nbits)),
    coarseWithin: layout.coarseBits && layout.perFile > 1 && !upright ? Math.floor(coarseCutBits(maxDistance, layout.coarseBits)) : Infinity,
  };
}

/** The answer: the first `k` of `found` (nearest first) but the query itself, whose metadata passes `filter`. */
export function neighboursOf<T extends { id: string; bits: number }>(
  found: readonly T[],
  metadataText: (n: T) => string | undefined,
  opts: { k: number; self?: string; nbits: number; filter?: NearestOptions['filter'] },
): Neighbour[] {
  const out: Neighbour[] = [];
  for (const n of found) {
    if (out.length >= opts.k) break;
    if (n.id === opts.self) continue;
    const m = metadataText(n);
    const metadata = m === undefined ? undefined : JSON.parse(m);
    if (opts.filter && !opts.filter(n.id, metadata)) continue;
    const distance = n.bits / opts.nbits;
    out.push({ id: n.id, distance, score: (1 - distance) * 100, metadata });
  }
  return out;
}
