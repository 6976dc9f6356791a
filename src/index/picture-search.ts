/**
 * distancesToQuery (views.ts) without looking at every stored picture: the same rows and the same
 * distances, found through multi-indexes of the coarse fingerprints (coarse-tables.ts). Pure.
 *
 * distancesToQuery keeps a stored picture when some coarse view of it lies within the coarse cut
 * of the query's coarse upright, or its coarse upright within the coarse cut of some coarse view
 * of the query (a strip view: within the cut of the same strip view) — and then measures the
 * full views. So the candidates are the hits of exact searches: the query's coarse upright among
 * all stored coarse views (K per picture), and each of the query's K coarse views among the
 * stored coarse uprights; each candidate is then decided as distancesToQuery decides every row
 * (views.ts, distanceToQuery). Both tables are built on the first query that needs them and
 * serve every query after (a wider cut probes more of them). Where a search would look at a large
 * share of the rows anyway (a wide cut), where there are no coarse fingerprints, or for
 * upright-only queries, every row is looked at, as distancesToQuery does.
 *
 * Memory: for n pictures of K views, the views' table holds (at n = 1,000,000, K = 38: 35
 * million views keyed) three chunks of an entry per view: the coarse view less the chunk's bits
 * and its key (10 bytes: about 1.05 GB); the uprights' table and one table per strip view four
 * chunks of n each (about 40 MB each).
 */
import { penaltyBits } from '../hash/views.js';
import { coarseCandidates, coarseTablesPay, CoarseTable, nextMark, searchedViews } from './coarse-tables.js';
import { distancesToQuery, distanceToQuery, type QueryPicture, type StoredPictures } from './views.js';

/** The widest chunk of the views' table, in bits: one query over tens of millions of views leaves a few per bucket instead of hundreds at 16 bits. */
export const WIDE_VIEWS = 22;
/** The widest chunk of the uprights' table: its offsets stay in cache (256 KB per chunk), which pays for K probes per query. */
export const NARROW_UPRIGHTS = 16;

export class PictureSearch {
  private tables?: { views: CoarseTable; uprights: CoarseTable; strips: CoarseTable[]; stamps: Uint32Array; mark: number };

  constructor(readonly stored: StoredPictures) {}

  /** Whether queries within `coarseCutBits` go through the tables (else through every row). */
  indexed(coarseCutBits: number): boolean {
    const { coarse, views, perFile } = this.stored;
    if (!coarse || !views || perFile <= 1) return false;
    return coarseTablesPay(coarse.count, coarse.nbits, coarseCutBits);
  }

  private tablesFor(radius: number): { views: CoarseTable; uprights: CoarseTable; strips: CoarseTable[]; stamps: Uint32Array; mark: number } {
    if (!this.tables) {
      const coarse = this.stored.coarse!;
      const k = this.stored.perFile;
      const n = this.stored.upright.count;
      const views = new CoarseTable(coarse.nbits, coarse.words, WIDE_VIEWS);
      const searched = searchedViews(coarse.data, n, k, this.stored.selfViews ?? 0, coarse.words, penaltyBits(this.stored.viewPenalty ?? 0, coarse.nbits));
      views.remake(coarse.data, coarse.words, n * k, radius, (key) => searched[key] === 1);
      const uprights = new CoarseTable(coarse.nbits, coarse.words, NARROW_UPRIGHTS);
      uprights.remake(coarse.data, k * coarse.words, n, radius);
      // A strip view of a picture meets only the same strip view of another: a table of each.
      const strips = Array.from({ length: this.stored.selfViews ?? 0 }, (_, i) => {
        const table = new CoarseTable(coarse.nbits, coarse.words, NARROW_UPRIGHTS);
        table.remake(coarse.data.subarray((k - (this.stored.selfViews ?? 0) + i) * coarse.words), k * coarse.words, n, radius);
        return table;
      });
      this.tables = { views, uprights, strips, stamps: new Uint32Array(n), mark: 0 };
    }
    return this.tables;
  }

  /** Exactly distancesToQuery(stored, query, cutBits, coarseCutBits): rows in order with their distance in bits. */
  distances(query: QueryPicture, cutBits: number, coarseCutBits = Infinity): { row: number; bits: number }[] {
    const { coarse, perFile } = this.stored;
    if (!query.views || !query.coarse || !this.indexed(coarseCutBits)) return distancesToQuery(this.stored, query, cutBits, coarseCutBits);
    const radius = Math.floor(coarseCutBits);
    const penalty = penaltyBits(this.stored.viewPenalty ?? 0, coarse!.nbits);
    // Chunked for the views' radius (the cut less the view penalty): most of a search's probes.
    const tables = this.tablesFor(Math.max(0, radius - penalty));
    tables.mark = nextMark(tables.stamps, tables.mark);
    const slots: number[] = [];
    coarseCandidates(tables.views, tables.uprights, tables.strips, query.coarse, perFile, radius, coarse!.data, { stamps: tables.stamps, mark: tables.mark, slots }, 'both', penalty);
    const rows = Int32Array.from(slots).sort();
    const out: { row: number; bits: number }[] = [];
    for (const row of rows) {
      const bits = distanceToQuery(this.stored, query, row, cutBits, coarseCutBits);
      if (bits <= cutBits) out.push({ row, bits });
    }
    return out;
  }
}
