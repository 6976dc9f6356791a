/**
 * Pictures kept in memory that change one at a time: entries added, replaced and removed under
 * string ids, each in a slot of growable packed arrays, so that a change costs one row instead of
 * a rebuild of every array (what the library's index, api/index.ts, and the PostgreSQL index's
 * replicas, api/postgres.ts, need). Searched through the coarse views' tables (coarse-tables.ts),
 * each candidate decided as distancesToQuery decides a row, so distances are the ones every other
 * imgcmp search measures; freed slots are passed over and reused. Pure computation.
 */
import { wordsFor, type PackedFingerprints } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { penaltyBits, selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { ChunkTable, coarseCandidates, coarseTablesPay, CoarseTable, nextMark, searchedViews, viewSearched } from './coarse-tables.js';
import { NARROW_UPRIGHTS, WIDE_VIEWS } from './picture-search.js';
import { SearchPool } from './search-pool.js';

/**
 * From this many entries on, searches go to the search threads (when there are any): below it a
 * search costs less than the messages to a thread and back.
 */
const THREADS_FROM = 50_000;
import { distancesToQuery, distanceToQuery, type QueryPicture, type StoredPictures } from './views.js';

export class LivePictures {
  readonly nbits: number;
  readonly words: number;
  /** Views per picture (K). */
  readonly perFile: number;
  /** The last views of each picture, matched view for view only (hash/views.ts strip views). */
  readonly selfViews: number;
  /** The view penalty, a share of the bits (hash/views.ts), and in bits of the coarse views. */
  readonly viewPenalty: number;
  private readonly coarsePenalty: number;
  readonly coarseBits: number;
  readonly coarseWords: number;
  private capacity = 0;
  /** Slots in use or freed: rows 0 .. end-1. */
  private end = 0;
  private upright = new Uint32Array(0);
  private views = new Uint32Array(0);
  private coarse = new Uint32Array(0);
  private flat = new Uint8Array(0);
  private size = new Float64Array(0);
  private mtime = new Float64Array(0);
  private ids: (string | undefined)[] = [];
  private readonly slotOf = new Map<string, number>();
  private readonly free: number[] = [];
  private sorted?: string[];
  /** The multi-index of the upright fingerprints (upright-only searches). */
  private readonly uprightTable: ChunkTable;
  /**
   * With coarse views: the tables of the coarse upright views (keys: slots) and of all coarse
   * views (keys: slot × K + view), coarse-tables.ts. Their sorted parts are made at the first
   * search (and again once the added parts have grown past `addedLimit`); a slot set since is
   * in their added parts (`added[slot]` = 1) unless `remake` is due.
   */
  private readonly coarseUprightTable?: CoarseTable;
  private readonly coarseViewsTable?: CoarseTable;
  /** One table per strip view (keys: slots): a strip view meets only the same strip view. */
  private readonly stripTables: CoarseTable[] = [];
  private added = new Uint8Array(0);
  private addedSlots = 0;
  /** Slots in the sorted parts when they were made. */
  private sortedSlots = 0;
  /** The sorted parts are to be made again before the next search through them. */
  private remake = true;
  /** Slot marks of the current search (a candidate is measured once). */
  private marks = new Uint32Array(0);
  private mark = 0;

  /** Threads that probe the sorted parts (searchThreads > 0): see withinAsync. */
  private readonly pool?: SearchPool;
  private readonly threadsFrom: number;

  /**
   * `addedSlotsLimit`: how many slots set since the sorted parts were made are searched in the added
   * parts before they are made again (default: an eighth of the slots, at least 4,096).
   * `searchThreads`: worker threads for withinAsync (0: it searches on this thread, as within);
   * `threadsFrom`: the entries from which they are used (default THREADS_FROM).
   */
  constructor(
    settings: HashSettings,
    private readonly addedSlotsLimit?: number,
    opts: { searchThreads?: number; threadsFrom?: number } = {},
  ) {
    this.threadsFrom = opts.threadsFrom ?? THREADS_FROM;
    this.nbits = settings.x * settings.x;
    this.words = wordsFor(this.nbits);
    this.perFile = viewsPerFile(settings);
    this.selfViews = selfViewsPerFile(settings);
    this.viewPenalty = viewPenaltyOf(settings);
    this.coarseBits = settings.coarseX ? settings.coarseX * settings.coarseX : 0;
    this.coarsePenalty = penaltyBits(this.viewPenalty, this.coarseBits);
    this.coarseWords = wordsFor(this.coarseBits);
    this.uprightTable = new ChunkTable(this.nbits);
    if (this.coarseBits && this.perFile > 1) {
      const shared = (opts.searchThreads ?? 0) > 0;
      this.coarseUprightTable = new CoarseTable(this.coarseBits, this.coarseWords, NARROW_UPRIGHTS, shared);
      this.coarseViewsTable = new CoarseTable(this.coarseBits, this.coarseWords, WIDE_VIEWS, shared);
      for (let i = 0; i < this.selfViews; i++) this.stripTables.push(new CoarseTable(this.coarseBits, this.coarseWords, NARROW_UPRIGHTS, shared));
      if (shared) this.pool = new SearchPool(opts.searchThreads!);
    }
  }

  private index(slot: number, add: boolean): void {
    if (add) this.uprightTable.add(slot, this.upright, slot * this.words);
    else this.uprightTable.remove(slot, this.upright, slot * this.words);
    const uprights = this.coarseUprightTable;
    const views = this.coarseViewsTable;
    if (!uprights || !views || this.remake) return;
    const k = this.perFile;
    const cw = this.coarseWords;
    const base = slot * k * cw;
    if (add) {
      if (this.addedSlots >= (this.addedSlotsLimit ?? Math.max(4096, this.sortedSlots >> 3))) {
        // Enough changes for the sorted parts to be made again (at the next search) of every slot.
        this.remake = true;
        for (const t of [uprights, views, ...this.stripTables]) t.dropAdded();
        this.added.fill(0);
        this.addedSlots = 0;
        return;
      }
      uprights.add(slot, this.coarse, base);
      for (let v = 0; v < k; v++) if (viewSearched(this.coarse, base, v, k, this.selfViews, cw, this.coarsePenalty)) views.add(slot * k + v, this.coarse, base + v * cw);
      this.stripTables.forEach((t, i) => t.add(slot, this.coarse, base + (k - this.selfViews + i) * cw));
      this.added[slot] = 1;
      this.addedSlots++;
    } else if (this.added[slot]) {
      // The slot's rows in the sorted parts (as they were made) stay: a search measures what it finds on the current rows.
      uprights.remove(slot, this.coarse, base);
      for (let v = 0; v < k; v++) if (viewSearched(this.coarse, base, v, k, this.selfViews, cw, this.coarsePenalty)) views.remove(slot * k + v, this.coarse, base + v * cw);
      this.stripTables.forEach((t, i) => t.remove(slot, this.coarse, base + (k - this.selfViews + i) * cw));
      this.added[slot] = 0;
      this.addedSlots--;
    }
  }

  /**
   * The sorted parts made of every slot in use, for searches within `coarseCutBits`, chunked for
   * the views' radius (the cut less the view penalty: most of a search's probes); the added parts emptied.
   */
  private remakeTables(coarseCutBits: number): void {
    const radius = Math.max(0, Math.floor(coarseCutBits) - this.coarsePenalty);
    const k = this.perFile;
    const cw = this.coarseWords;
    // Every slot below `end` is in use unless one was freed (and not taken again).
    const inUse = this.free.length === 0 ? undefined : (slot: number): boolean => this.ids[slot] !== undefined;
    this.coarseUprightTable!.remake(this.coarse, k * cw, this.end, radius, inUse);
    const searched = searchedViews(this.coarse, this.end, k, this.selfViews, cw, this.coarsePenalty);
    this.coarseViewsTable!.remake(this.coarse, cw, this.end * k, radius, inUse ? (key) => searched[key] === 1 && inUse((key / k) | 0) : (key) => searched[key] === 1);
    this.stripTables.forEach((t, i) => t.remake(this.coarse.subarray((k - this.selfViews + i) * cw), k * cw, this.end, radius, inUse));
    this.added.fill(0);
    this.addedSlots = 0;
    this.sortedSlots = this.count;
    this.remake = false;
    this.pool?.setTables({
      perFile: k,
      slots: this.end,
      views: this.coarseViewsTable!.sortedParts()!,
      uprights: this.coarseUprightTable!.sortedParts()!,
      strips: this.stripTables.map((t) => t.sortedParts()!),
    });
  }

  /** Stops the search threads. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  get count(): number {
    return this.slotOf.size;
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  /** Why `record` does not fit these settings (its arrays' lengths), or undefined when it does. */
  misfit(record: Pick<FingerprintRecord, 'bits' | 'views' | 'coarse'>): string | undefined {
    if (record.bits.length !== this.words) return `${record.bits.length} words of bits, not ${this.words}`;
    if (this.perFile > 1 && record.views?.length !== this.perFile * this.words) return `${record.views?.length ?? 0} words of views, not ${this.perFile * this.words}`;
    if (this.coarseBits && record.coarse?.length !== this.perFile * this.coarseWords) return `${record.coarse?.length ?? 0} words of coarse views, not ${this.perFile * this.coarseWords}`;
    return undefined;
  }

  private grow(): void {
    const capacity = Math.max(1024, this.capacity * 2);
    const copy = <T extends Uint32Array | Uint8Array | Float64Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(capacity * per);
      next.set(old);
      return next;
    };
    this.upright = copy(this.upright, (n) => new Uint32Array(n), this.words);
    if (this.perFile > 1) this.views = copy(this.views, (n) => new Uint32Array(n), this.perFile * this.words);
    if (this.coarseBits) this.coarse = copy(this.coarse, (n) => new Uint32Array(n), this.perFile * this.coarseWords);
    this.flat = copy(this.flat, (n) => new Uint8Array(n), 1);
    this.size = copy(this.size, (n) => new Float64Array(n), 1);
    this.mtime = copy(this.mtime, (n) => new Float64Array(n), 1);
    this.marks = copy(this.marks, (n) => new Uint32Array(n), 1);
    this.added = copy(this.added, (n) => new Uint8Array(n), 1);
    this.capacity = capacity;
  }

  /** Adds or replaces the entry `id` (the record's `file` is not used). Throws when the record does not fit (see misfit). */
  set(id: string, record: FingerprintRecord): void {
    const wrong = this.misfit(record);
    if (wrong) throw new Error(`${id}: ${wrong}`);
    let slot = this.slotOf.get(id);
    if (slot === undefined) {
      slot = this.free.pop();
      if (slot === undefined) {
        if (this.end === this.capacity) this.grow();
        slot = this.end++;
      }
      this.slotOf.set(id, slot);
      this.ids[slot] = id;
      this.sorted = undefined;
    } else this.index(slot, false);
    this.upright.set(record.bits, slot * this.words);
    if (this.perFile > 1) this.views.set(record.views!, slot * this.perFile * this.words);
    if (this.coarseBits) this.coarse.set(record.coarse!, slot * this.perFile * this.coarseWords);
    this.flat[slot] = record.flat ? 1 : 0;
    this.size[slot] = record.size;
    this.mtime[slot] = record.mtime;
    this.index(slot, true);
  }

  /** Removes `id`; false when there was none. */
  delete(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.index(slot, false);
    this.slotOf.delete(id);
    this.ids[slot] = undefined;
    this.free.push(slot);
    this.sorted = undefined;
    return true;
  }

  /** The record of `id` (copies of its arrays), or undefined. */
  record(id: string): FingerprintRecord | undefined {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return undefined;
    const k = this.perFile;
    return {
      file: id,
      bits: this.upright.slice(slot * this.words, (slot + 1) * this.words),
      views: k > 1 ? this.views.slice(slot * k * this.words, (slot + 1) * k * this.words) : undefined,
      coarse: this.coarseBits ? this.coarse.slice(slot * k * this.coarseWords, (slot + 1) * k * this.coarseWords) : undefined,
      flat: this.flat[slot] === 1,
      size: this.size[slot]!,
      mtime: this.mtime[slot]!,
    };
  }

  /** The ids, sorted as databases sort their paths (by UTF-16 code units). */
  sortedIds(): string[] {
    this.sorted ??= [...this.slotOf.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
  }

  /** Every record, sorted by id. */
  records(): FingerprintRecord[] {
    return this.sortedIds().map((id) => this.record(id)!);
  }

  /**
   * The entries within `cutBits` of a query (and, with coarse views, within `coarseCutBits` on
   * those), as distancesToQuery measures them: each candidate that the multi-indexes give (every
   * slot that can be within the cuts) decided as distancesToQuery decides a row (views.ts,
   * distanceToQuery), or every slot where probing would cost more than reading them all; nearest
   * first, ties by id.
   */
  within(query: QueryPicture, cutBits: number, coarseCutBits = Infinity): { id: string; bits: number }[] {
    const useViews = this.perFile > 1 && query.views !== undefined;
    const n = this.end;
    let rows: number[] | undefined;
    if (this.coarseTablesServe(query, coarseCutBits)) {
      const radius = Math.floor(coarseCutBits);
      if (this.remake) this.remakeTables(coarseCutBits);
      rows = [];
      coarseCandidates(this.coarseViewsTable!, this.coarseUprightTable!, this.stripTables, query.coarse!, this.perFile, radius, this.coarse, { stamps: this.marks, mark: this.nextMark(), slots: rows }, 'both', this.coarsePenalty);
    } else if (!useViews && this.uprightTable.probes(cutBits) < n) {
      rows = [];
      this.uprightTable.probeWithin(query.upright, 0, this.words, cutBits, this.upright, this.words, { perSlot: 1, onlyView: -1, stamps: this.marks, mark: this.nextMark(), slots: rows });
    }
    return this.decide(query, rows, cutBits, coarseCutBits);
  }

  /**
   * The same entries as within, with the sorted parts of the coarse views' tables probed on a
   * search thread (index/search-pool.ts) while this thread probes the added parts, from
   * THREADS_FROM entries on where there are threads; else within itself. Changes made while the
   * thread searches are seen as a search after them would see them, but for entries added
   * meanwhile (an add after the search began).
   */
  async withinAsync(query: QueryPicture, cutBits: number, coarseCutBits = Infinity): Promise<{ id: string; bits: number }[]> {
    const pool = this.pool;
    if (!pool || pool.broken || !this.coarseTablesServe(query, coarseCutBits)) return this.within(query, cutBits, coarseCutBits);
    const radius = Math.floor(coarseCutBits);
    if (this.remake) this.remakeTables(coarseCutBits);
    if (this.sortedSlots < this.threadsFrom) return this.within(query, cutBits, coarseCutBits);
    const fromSorted = pool.candidates(query.coarse!, radius, this.coarsePenalty);
    const rows: number[] = [];
    coarseCandidates(this.coarseViewsTable!, this.coarseUprightTable!, this.stripTables, query.coarse!, this.perFile, radius, this.coarse, { stamps: this.marks, mark: this.nextMark(), slots: rows }, 'added', this.coarsePenalty);
    let sorted: Int32Array;
    try {
      sorted = await fromSorted;
    } catch {
      // The thread failed (the pool says why from now on): this search, and the next, here.
      return this.within(query, cutBits, coarseCutBits);
    }
    // Each slot once: one found in both parts (a slot set again since the remake) is measured once.
    const all = Int32Array.from([...rows, ...sorted]).sort();
    const unique: number[] = [];
    for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) unique.push(all[i]!);
    return this.decide(query, unique, cutBits, coarseCutBits);
  }

  /** Whether a search for `query` within `coarseCutBits` goes through the coarse views' tables. */
  private coarseTablesServe(query: QueryPicture, coarseCutBits: number): boolean {
    const useViews = this.perFile > 1 && query.views !== undefined;
    const useCoarse = useViews && this.coarseBits > 0 && query.coarse !== undefined && Number.isFinite(coarseCutBits);
    return useCoarse && coarseTablesPay(this.end * this.perFile, this.coarseBits, coarseCutBits);
  }

  /**
   * Each candidate slot (every slot where `rows` is undefined) decided as distancesToQuery
   * decides a row: nearest first, ties by id; freed slots passed over.
   */
  private decide(query: QueryPicture, rows: readonly number[] | undefined, cutBits: number, coarseCutBits: number): { id: string; bits: number }[] {
    const all = this.select();
    const out: { id: string; bits: number }[] = [];
    if (rows) {
      for (const row of rows) {
        const id = this.ids[row];
        if (id === undefined) continue;
        const bits = distanceToQuery(all, query, row, cutBits, coarseCutBits);
        if (bits <= cutBits) out.push({ id, bits });
      }
    } else {
      for (const { row, bits } of distancesToQuery(all, query, cutBits, coarseCutBits)) {
        const id = this.ids[row];
        if (id !== undefined) out.push({ id, bits });
      }
    }
    return out.sort((a, b) => a.bits - b.bits || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Whether the next search within `coarseCutBits` would make the coarse views' tables first (prepare makes them now). */
  tablesDue(coarseCutBits: number): boolean {
    return this.remake && this.coarseViewsTable !== undefined && Number.isFinite(coarseCutBits) && coarseTablesPay(this.end * this.perFile, this.coarseBits, coarseCutBits);
  }

  /**
   * Makes the coarse views' tables now when the next search would make them (after a load, or
   * once the changes since have grown past the limit), so that no search waits for them: a
   * replica calls it after reading its entries and after catching up on changes.
   */
  prepare(coarseCutBits: number): void {
    if (this.tablesDue(coarseCutBits)) this.remakeTables(coarseCutBits);
  }

  /** A fresh mark for the slots of one search. */
  private nextMark(): number {
    return (this.mark = nextMark(this.marks, this.mark));
  }

  /** Every slot (in use or freed) as distancesToQuery reads stored pictures: the arrays themselves, no copy. */
  private select(): StoredPictures {
    const k = this.perFile;
    const pick = (data: Uint32Array, per: number, nbits: number, count: number): PackedFingerprints => ({ count: this.end * count, nbits, words: wordsFor(nbits), data: data.subarray(0, this.end * per) });
    return {
      upright: pick(this.upright, this.words, this.nbits, 1),
      views: k > 1 ? pick(this.views, k * this.words, this.nbits, k) : undefined,
      coarse: this.coarseBits ? pick(this.coarse, k * this.coarseWords, this.coarseBits, k) : undefined,
      perFile: k,
      selfViews: this.selfViews,
      viewPenalty: this.viewPenalty,
    };
  }
}
