/**
 * Pictures kept in memory that change one at a time: entries added, replaced and removed under
 * string ids, each in a slot of growable packed arrays, so that a change costs one row instead of
 * a rebuild of every array (what the PostgreSQL index's replicas need, api/postgres.ts). Searched
 * with distancesToQuery over the slots, so distances are the ones every other imgcmp search
 * measures; freed slots are passed over and reused. Pure computation.
 */
import { wordsFor, type PackedFingerprints } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import { distancesToQuery, type QueryPicture } from './views.js';

export class LivePictures {
  readonly nbits: number;
  readonly words: number;
  /** Views per picture (K). */
  readonly perFile: number;
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

  constructor(settings: HashSettings) {
    this.nbits = settings.x * settings.x;
    this.words = wordsFor(this.nbits);
    this.perFile = viewsPerFile(settings);
    this.coarseBits = settings.coarseX ? settings.coarseX * settings.coarseX : 0;
    this.coarseWords = wordsFor(this.coarseBits);
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
    }
    this.upright.set(record.bits, slot * this.words);
    if (this.perFile > 1) this.views.set(record.views!, slot * this.perFile * this.words);
    if (this.coarseBits) this.coarse.set(record.coarse!, slot * this.perFile * this.coarseWords);
    this.flat[slot] = record.flat ? 1 : 0;
    this.size[slot] = record.size;
    this.mtime[slot] = record.mtime;
  }

  /** Removes `id`; false when there was none. */
  delete(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
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
   * those), as distancesToQuery measures them; nearest first, ties by id.
   */
  within(query: QueryPicture, cutBits: number, coarseCutBits = Infinity): { id: string; bits: number }[] {
    const n = this.end;
    const packed = (data: Uint32Array, rows: number, nbits: number): PackedFingerprints => ({ count: rows, nbits, words: wordsFor(nbits), data: data.subarray(0, rows * wordsFor(nbits)) });
    const stored = {
      upright: packed(this.upright, n, this.nbits),
      views: this.perFile > 1 ? packed(this.views, n * this.perFile, this.nbits) : undefined,
      coarse: this.coarseBits ? packed(this.coarse, n * this.perFile, this.coarseBits) : undefined,
      perFile: this.perFile,
    };
    const out: { id: string; bits: number }[] = [];
    for (const { row, bits } of distancesToQuery(stored, query, cutBits, coarseCutBits)) {
      const id = this.ids[row];
      if (id !== undefined) out.push({ id, bits });
    }
    return out.sort((a, b) => a.bits - b.bits || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
