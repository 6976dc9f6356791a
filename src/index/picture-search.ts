/**
 * distancesToQuery (views.ts) without looking at every stored picture: the same rows and the same
 * distances, found through multi-index hashing (mih.ts) of the coarse fingerprints. Pure.
 *
 * distancesToQuery keeps a stored picture when some coarse view of it lies within the coarse cut
 * of the query's coarse upright, or its coarse upright within the coarse cut of some coarse view
 * of the query — and then measures the full views. So the candidates are exactly the hits of two
 * exact searches: the query's coarse upright among all stored coarse views (K per picture), and
 * each of the query's K coarse views among the stored coarse uprights. Both tables are built on
 * the first query that needs them (for its coarse cut; a wider cut later builds them again) and
 * serve every query after. Where a search would look at a large share of the rows anyway (a wide
 * cut), where there are no coarse fingerprints, or for upright-only queries, every row is looked
 * at, as distancesToQuery does.
 *
 * Memory: for n pictures of K views, the views' table holds (at n = 1,000,000, K = 32) three
 * chunks of n·K row ids and a copy of the coarse views each (about 1.2 GB); the uprights'
 * table four chunks of n (about 50 MB).
 */
import { selectRows } from '../hash/bits.js';
import { bestChunking, buildIndex, searchWithin, type MihIndex } from './mih.js';
import { distancesToQuery, viewMin, type QueryPicture, type StoredPictures } from './views.js';

/** The widest chunk of the views' table, in bits. */
const WIDE_VIEWS = 22;

/** Above this share of the rows to verify, a table does not pay; look at every row. */
const WORTH = 0.35;

export class PictureSearch {
  private tables?: { radius: number; views: MihIndex; uprights: MihIndex };

  constructor(readonly stored: StoredPictures) {}

  /** Whether queries within `coarseCutBits` go through the tables (else through every row). */
  indexed(coarseCutBits: number): boolean {
    const { coarse, views, perFile } = this.stored;
    if (!coarse || !views || perFile <= 1 || !Number.isFinite(coarseCutBits)) return false;
    return bestChunking(coarse.count, coarse.nbits, Math.floor(coarseCutBits)).cost < WORTH * coarse.count;
  }

  private tablesFor(radius: number): { views: MihIndex; uprights: MihIndex } {
    if (!this.tables || this.tables.radius < radius) {
      this.tables = undefined; // the old tables go before the new ones are made
      const coarse = this.stored.coarse!;
      const k = this.stored.perFile;
      const n = this.stored.upright.count;
      const uprights = selectRows(coarse, Array.from({ length: n }, (_, i) => i * k));
      this.tables = {
        radius,
        // One query over all n·K views: tables of up to 22 bits (16 MB each) leave a few rows per
        // bucket to verify instead of hundreds at 16 bits (at n = 1,000,000, K = 32).
        views: buildIndex(coarse, Math.max(1, bestChunking(coarse.count, coarse.nbits, radius, WIDE_VIEWS).m), radius),
        uprights: buildIndex(uprights, Math.max(1, bestChunking(n, coarse.nbits, radius).m), radius),
      };
    }
    return this.tables;
  }

  /** Exactly distancesToQuery(stored, query, cutBits, coarseCutBits): rows in order with their distance in bits. */
  distances(query: QueryPicture, cutBits: number, coarseCutBits = Infinity): { row: number; bits: number }[] {
    const { views, coarse, perFile } = this.stored;
    if (!query.views || !query.coarse || !this.indexed(coarseCutBits)) return distancesToQuery(this.stored, query, cutBits, coarseCutBits);
    const radius = Math.floor(coarseCutBits);
    const tables = this.tablesFor(radius);
    const words = coarse!.words;
    const self = this.stored.selfViews ?? 0;
    const candidates = new Set<number>();
    searchWithin(tables.views, query.coarse, 0, radius, -1, (r) => void candidates.add(Math.floor(r / perFile)));
    for (let v = 0; v < perFile; v++) searchWithin(tables.uprights, query.coarse, v * words, radius, -1, (row) => void candidates.add(row));
    // A strip view (the last `self`) meets only the same strip view of a stored picture.
    for (let v = perFile - self; v < perFile; v++) {
      searchWithin(tables.views, query.coarse, v * words, radius, -1, (r) => {
        if (r % perFile === v) candidates.add(Math.floor(r / perFile));
      });
    }
    const out: { row: number; bits: number }[] = [];
    for (const row of [...candidates].sort((a, b) => a - b)) {
      // With strip views some candidates met a strip view through an upright one: the coarse rule decides, as in distancesToQuery.
      if (self && viewMin(query.coarse, 0, coarse!.data, row * perFile * words, perFile, words, radius, self) > radius) continue;
      const bits = viewMin(query.views, 0, views!.data, row * perFile * views!.words, perFile, views!.words, cutBits, self);
      if (bits <= cutBits) out.push({ row, bits });
    }
    return out;
  }
}
