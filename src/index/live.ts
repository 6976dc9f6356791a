/**
 * Pictures kept in memory that change one at a time: entries added, replaced and removed under
 * string ids, each in a slot of growable packed arrays, so that a change costs one row instead of
 * a rebuild of every array (what the PostgreSQL index's replicas need, api/postgres.ts). Searched
 * with distancesToQuery over the slots, so distances are the ones every other imgcmp search
 * measures; freed slots are passed over and reused. Pure computation.
 */
import { hamming, wordsFor, type PackedFingerprints } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { selfViewsPerFile, viewsPerFile } from '../hash/views.js';
import { chunkValue, masksWithin } from './mih.js';
import { distancesToQuery, type QueryPicture, type StoredPictures } from './views.js';

/** The widest chunk of a ChunkTable: 2^16 buckets per chunk. */
const CHUNK_BITS = 16;
/** Keys per block of a bucket's chain. */
const BLOCK = 16;

/**
 * An incremental multi-index (mih.ts's rule, kept current row by row): rows of packed bits cut
 * into chunks of at most 16 bits, a bucket of keys per chunk value. A row within r bits of a
 * query agrees within ⌊r/m⌋ bits on one of its m chunks, so probing the buckets of the values
 * that near the query's chunks finds every such row (and others, which the caller measures).
 */
class ChunkTable {
  readonly chunks: { offset: number; bits: number }[] = [];
  /**
   * Buckets are chains of blocks of BLOCK entries in one pool (no object per bucket: a million
   * small typed arrays cost more to make and to collect than the keys themselves). An entry is
   * its key and, with `width`, a copy of the key's row (`width` words), so that a probe measures
   * it where it lies instead of fetching the row from elsewhere in memory. Per chunk and value:
   * the first and last block of its chain (−1: empty) and the entries in the last one.
   */
  private readonly head: Int32Array[];
  private readonly tail: Int32Array[];
  private readonly fill: Int32Array[];
  /** Words per entry: the key, then the row's copy. */
  private readonly entry: number;
  private pool: Uint32Array;
  private next = new Int32Array(1024);
  private blocks = 0;
  private readonly freeBlocks: number[] = [];

  constructor(
    nbits: number,
    private readonly width = 0,
  ) {
    const m = Math.ceil(nbits / CHUNK_BITS);
    for (let c = 0, offset = 0; c < m; c++) {
      const bits = Math.floor(nbits / m) + (c < nbits % m ? 1 : 0);
      this.chunks.push({ offset, bits });
      offset += bits;
    }
    this.head = this.chunks.map((c) => new Int32Array(2 ** c.bits).fill(-1));
    this.tail = this.chunks.map((c) => new Int32Array(2 ** c.bits).fill(-1));
    this.fill = this.chunks.map((c) => new Int32Array(2 ** c.bits));
    this.entry = 1 + width;
    this.pool = new Uint32Array(BLOCK * 1024 * this.entry);
  }

  private newBlock(): number {
    const reused = this.freeBlocks.pop();
    if (reused !== undefined) return reused;
    if (this.blocks === this.next.length) {
      const next = new Int32Array(this.next.length * 2);
      next.set(this.next);
      this.next = next;
      const pool = new Uint32Array(this.pool.length * 2);
      pool.set(this.pool);
      this.pool = pool;
    }
    return this.blocks++;
  }

  add(key: number, data: Uint32Array, at: number): void {
    const e = this.entry;
    for (let c = 0; c < this.chunks.length; c++) {
      const { offset, bits } = this.chunks[c]!;
      const value = chunkValue(data, at, offset, bits);
      const tail = this.tail[c]!;
      const fill = this.fill[c]!;
      let block = tail[value]!;
      if (block < 0 || fill[value] === BLOCK) {
        const fresh = this.newBlock();
        this.next[fresh] = -1;
        if (block < 0) this.head[c]![value] = fresh;
        else this.next[block] = fresh;
        tail[value] = block = fresh;
        fill[value] = 0;
      }
      const where = (block * BLOCK + fill[value]!) * e;
      this.pool[where] = key;
      for (let w = 0; w < this.width; w++) this.pool[where + 1 + w] = data[at + w]!;
      fill[value]!++;
    }
  }

  remove(key: number, data: Uint32Array, at: number): void {
    const e = this.entry;
    for (let c = 0; c < this.chunks.length; c++) {
      const { offset, bits } = this.chunks[c]!;
      const value = chunkValue(data, at, offset, bits);
      const head = this.head[c]!;
      const tail = this.tail[c]!;
      const fill = this.fill[c]!;
      const last = tail[value]!;
      let found = -1;
      search: for (let block = head[value]!; block >= 0; block = this.next[block]!) {
        for (let i = block * BLOCK * e, end = i + (block === last ? fill[value]! : BLOCK) * e; i < end; i += e) {
          if (this.pool[i] === key) {
            found = i;
            break search;
          }
        }
      }
      if (found < 0) continue;
      // The chain's last entry takes the removed one's place.
      const lastAt = (last * BLOCK + fill[value]! - 1) * e;
      this.pool.copyWithin(found, lastAt, lastAt + e);
      if (--fill[value]! > 0) continue;
      // The last block is empty: free it; the block before it (found from the head) becomes the last.
      this.freeBlocks.push(last);
      let before = -1;
      for (let block = head[value]!; block !== last; block = this.next[block]!) before = block;
      if (before < 0) head[value] = -1;
      else this.next[before] = -1;
      tail[value] = before;
      fill[value] = before < 0 ? 0 : BLOCK;
    }
  }

  /** Probes per query row for a search within `r` bits. */
  probes(r: number): number {
    return this.chunks.reduce((sum, c) => sum + ballSize(c.bits, Math.floor(r / this.chunks.length)), 0);
  }

  /**
   * Every row within `r` bits of the query row q[qAt..] (`words` words): probes the buckets near
   * the query's chunks and measures each key's row — key k is view k mod perSlot of slot
   * ⌊k / perSlot⌋, at data[slot × stride + view × words]; the slot of a row within `r` is pushed
   * to `out` unless `marks` has it at `mark` already.
   */
  probeWithin(q: Uint32Array, qAt: number, words: number, r: number, data: Uint32Array, stride: number, perSlot: number, marks: Uint32Array, mark: number, out: number[]): void {
    const radius = Math.floor(r / this.chunks.length);
    for (let c = 0; c < this.chunks.length; c++) {
      const { offset, bits } = this.chunks[c]!;
      const head = this.head[c]!;
      const tail = this.tail[c]!;
      const fill = this.fill[c]!;
      const pool = this.pool;
      const next = this.next;
      const e = this.entry;
      const inline = this.width === words;
      const qv = chunkValue(q, qAt, offset, bits);
      const masks = masksFor(bits, radius);
      for (let mi = 0; mi < masks.length; mi++) {
        const value = qv ^ masks[mi]!;
        const last = tail[value]!;
        for (let block = head[value]!; block >= 0; block = next[block]!) {
          for (let i = block * BLOCK * e, end = i + (block === last ? fill[value]! : BLOCK) * e; i < end; i += e) {
            const key = pool[i]!;
            const slot = perSlot === 1 ? key : (key / perSlot) | 0;
            if (marks[slot] === mark) continue;
            const d = inline ? hamming(q, qAt, pool, i + 1, words, r) : hamming(q, qAt, data, slot * stride + (key - slot * perSlot) * words, words, r);
            if (d <= r) {
              marks[slot] = mark;
              out.push(slot);
            }
          }
        }
      }
    }
  }
}

const MASKS = new Map<string, Int32Array>();
function masksFor(bits: number, r: number): Int32Array {
  const key = `${bits}/${r}`;
  let masks = MASKS.get(key);
  if (!masks) MASKS.set(key, (masks = masksWithin(bits, r)));
  return masks;
}

function ballSize(bits: number, r: number): number {
  let total = 0;
  let term = 1;
  for (let k = 0; k <= Math.min(r, bits); k++) {
    total += term;
    term = (term * (bits - k)) / (k + 1);
  }
  return total;
}

export class LivePictures {
  readonly nbits: number;
  readonly words: number;
  /** Views per picture (K). */
  readonly perFile: number;
  /** The last views of each picture, matched view for view only (hash/views.ts strip views). */
  readonly selfViews: number;
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
  /** Multi-indexes: of the upright fingerprints; of the coarse upright views and of all coarse views (keys: slots). */
  private readonly uprightTable: ChunkTable;
  private readonly coarseUprightTable?: ChunkTable;
  private readonly coarseViewsTable?: ChunkTable;
  /** Slot marks of the current search (a candidate is measured once). */
  private marks = new Uint32Array(0);
  private mark = 0;

  constructor(settings: HashSettings) {
    this.nbits = settings.x * settings.x;
    this.words = wordsFor(this.nbits);
    this.perFile = viewsPerFile(settings);
    this.selfViews = selfViewsPerFile(settings);
    this.coarseBits = settings.coarseX ? settings.coarseX * settings.coarseX : 0;
    this.coarseWords = wordsFor(this.coarseBits);
    this.uprightTable = new ChunkTable(this.nbits);
    if (this.coarseBits && this.perFile > 1) {
      // The coarse views are short (2 words for 64 bits): their tables keep a copy beside each key.
      this.coarseUprightTable = new ChunkTable(this.coarseBits, this.coarseWords);
      this.coarseViewsTable = new ChunkTable(this.coarseBits, this.coarseWords);
    }
  }

  private index(slot: number, add: boolean): void {
    const act = (t: ChunkTable, data: Uint32Array, at: number): void => (add ? t.add(slot, data, at) : t.remove(slot, data, at));
    act(this.uprightTable, this.upright, slot * this.words);
    if (this.coarseUprightTable && this.coarseViewsTable) {
      const base = slot * this.perFile * this.coarseWords;
      act(this.coarseUprightTable, this.coarse, base);
      // Keys of the views' table name the view too (slot × K + v), so that a probe measures that view alone.
      for (let v = 0; v < this.perFile; v++) (add ? this.coarseViewsTable.add(slot * this.perFile + v, this.coarse, base + v * this.coarseWords) : this.coarseViewsTable.remove(slot * this.perFile + v, this.coarse, base + v * this.coarseWords));
    }
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
   * those), as distancesToQuery measures them — it measures them, on the candidate rows that the
   * multi-indexes give (every row that can be within the cuts), or on every row where probing
   * would cost more than reading them all; nearest first, ties by id.
   */
  within(query: QueryPicture, cutBits: number, coarseCutBits = Infinity): { id: string; bits: number }[] {
    const useViews = this.perFile > 1 && query.views !== undefined;
    const useCoarse = useViews && this.coarseBits > 0 && query.coarse !== undefined && Number.isFinite(coarseCutBits);
    const n = this.end;
    let rows: number[] | undefined;
    // Probing pays while it looks up fewer buckets than a scan measures rows (2K views each with views).
    if (useCoarse && this.coarseUprightTable!.probes(coarseCutBits) * (this.perFile + 1) < n * this.perFile) {
      // Coarse views within the coarse cut: the query's upright one near a stored view, or one of its views near a stored upright one.
      const q = query.coarse!;
      const cw = this.coarseWords;
      const k = this.perFile;
      const mark = this.nextMark();
      rows = [];
      this.coarseViewsTable!.probeWithin(q, 0, cw, coarseCutBits, this.coarse, k * cw, k, this.marks, mark, rows);
      // A strip view of the query near a stored view (distancesToQuery keeps those near the same strip view).
      for (let v = k - this.selfViews; v < k; v++) this.coarseViewsTable!.probeWithin(q, v * cw, cw, coarseCutBits, this.coarse, k * cw, k, this.marks, mark, rows);
      // The upright view of a slot is its view 0: stride K × cw, one key per slot.
      for (let v = 0; v < k; v++) this.coarseUprightTable!.probeWithin(q, v * cw, cw, coarseCutBits, this.coarse, k * cw, 1, this.marks, mark, rows);
    } else if (!useViews && this.uprightTable.probes(cutBits) < n) {
      rows = [];
      this.uprightTable.probeWithin(query.upright, 0, this.words, cutBits, this.upright, this.words, 1, this.marks, this.nextMark(), rows);
    }
    const out: { id: string; bits: number }[] = [];
    const found = rows ? distancesToQuery(this.select(rows), query, cutBits, coarseCutBits).map((d) => ({ row: rows[d.row]!, bits: d.bits })) : distancesToQuery(this.select(), query, cutBits, coarseCutBits);
    for (const { row, bits } of found) {
      const id = this.ids[row];
      if (id !== undefined) out.push({ id, bits });
    }
    return out.sort((a, b) => a.bits - b.bits || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A fresh mark for the slots of one search. */
  private nextMark(): number {
    if (++this.mark === 0xffffffff) {
      this.marks.fill(0);
      this.mark = 1;
    }
    return this.mark;
  }

  /** The stored pictures of `rows` (default: every slot), as distancesToQuery reads them. */
  private select(rows?: number[]): StoredPictures {
    const k = this.perFile;
    const pick = (data: Uint32Array, per: number, nbits: number, count: number): PackedFingerprints => {
      const words = wordsFor(nbits);
      if (!rows) return { count: this.end * count, nbits, words, data: data.subarray(0, this.end * per) };
      const out = new Uint32Array(rows.length * per);
      rows.forEach((r, i) => out.set(data.subarray(r * per, (r + 1) * per), i * per));
      return { count: rows.length * count, nbits, words, data: out };
    };
    return {
      upright: pick(this.upright, this.words, this.nbits, 1),
      views: k > 1 ? pick(this.views, k * this.words, this.nbits, k) : undefined,
      coarse: this.coarseBits ? pick(this.coarse, k * this.coarseWords, this.coarseBits, k) : undefined,
      perFile: k,
      selfViews: this.selfViews,
    };
  }
}
