/**
 * imgcmp as a library: an image index on a fingerprint database. `openIndex(dbfile)` opens (or
 * creates, with find's settings) a database and holds its lock until `close()`; images are added
 * under string ids (stored in the database's `files` dataset), looked up by their nearest entries,
 * measured exactly as `imgcmp find` and `imgcmp search` measure them (index/views.ts,
 * distancesToQuery), and grouped into clusters as find groups them (clusterFingerprints, through api/duplicates-cache.ts).
 *
 * Metadata (any JSON value per id) is stored in the database itself, in its `metadata` dataset
 * (db/database.ts). Indexes written before that kept it in a sidecar file, `DB.metadata.json`:
 * it is read when the database has no metadata dataset, and moved into it at the next save.
 *
 * Nothing acknowledged is lost: an add or remove resolves only once its record is in the
 * journal beside the database and flushed to disk (db/journal.ts). The journal is folded into
 * the database at checkpoints (every `checkpointChanges` changes or `checkpointSeconds` after the
 * first unsaved one, on save() and on close()) and replayed by the next openIndex after a crash.
 *
 * Every failure is thrown as an ImgcmpError (an IndexError, with `kind`, for the index's own).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Linkage } from '../cluster/linkage.js';
import { existingDbOrNone, writeDb, type FingerprintDb } from '../db/database.js';
import { encodeOp, Journal, journalFileOf, readJournal, syncFolder, type JournalOp } from '../db/journal.js';
import { acquireLock } from '../db/lock.js';
import { dbFromRecords, dbFromRecordsInSlices, recordsOf } from '../db/records.js';
import { writeDbApart } from '../db/write-apart.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { coarseCutBits } from '../index/cut.js';
import { LivePictures } from '../index/live.js';
import { decoderFor, decoderMissing, defaultJpegDecoder, type JpegDecoderName } from '../pixels/recipe.js';
import { SIMILARITY, findSettings } from '../stages/find.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';
import { checkOurs, realTarget, removeStaleTemporaries } from '../util/safe-write.js';
import { checkId, cutOf, nearestBounds, pageOf, searchThreadsOf, throttleOf } from './arguments.js';
import { clustersOfDb, DuplicatesCache } from './duplicates-cache.js';
import { IndexError } from './errors.js';
import { nearestQuery, neighboursOf, queryRecord } from './nearest.js';
import { comparePictures, fingerprintImage } from './measure.js';
import type { PostgresOptions } from './postgres.js';

export { ImgcmpError, type ErrorCode } from '../util/errors.js';
export { SIMILARITY } from '../stages/find.js';

export { IndexError, type IndexErrorKind } from './errors.js';
export type { PostgresIndex, PostgresOptions } from './postgres.js';

/** An image: a file's path, or its bytes. */
export type ImageSource = string | Uint8Array;
/** An image, or an entry of the index by its id. */
export type QuerySource = ImageSource | { id: string };

export interface OpenOptions {
  /** The JPEG decoder of a database created now (default: the native one where built). An existing database keeps its own. */
  decoder?: JpegDecoderName;
  /** The hash settings of a database created now (default: find's). */
  settings?: HashSettings;
  /** Told, in one line, of a damaged lock taken over, a torn journal, a failed checkpoint (default: standard error). */
  note?: (line: string) => void;
  /** Fold the journal into the database after this many changes (default 1000). */
  checkpointChanges?: number;
  /** ... or this many seconds after the first change not yet folded (default 60). */
  checkpointSeconds?: number;
  /**
   * Worker threads that searches use from 50,000 entries on (index/search-pool.ts; default: one
   * per core, os.availableParallelism(); 0: searches run on the caller's thread).
   */
  searchThreads?: number;
  /**
   * Make the search's copy of the entries and its tables while opening rather than at the first
   * search (default false): a server (`serve` sets it) is then as fast on its first search as on
   * every later one, at the cost of a longer start (about 15 s more at a million entries).
   */
  prepareSearch?: boolean;
}

const CHECKPOINT_CHANGES = 1000;
const CHECKPOINT_SECONDS = 60;
/**
 * From this many entries a checkpoint writes the database on a worker thread (db/write-apart.ts):
 * below it, writing takes less than starting the thread and its HDF5 library (about 0.3 s).
 */
const WRITE_APART_FROM = 20_000;

export interface AddOptions {
  id: string;
  /** Any JSON value; kept beside the entry and returned with it. */
  metadata?: unknown;
  /**
   * Runs the image's decode and hashing (the part that takes the CPU), e.g. under a limit on
   * decodes at once; the wait for the change to be durable comes after it, outside (default: runs it as is).
   */
  throttle?: <T>(hash: () => Promise<T>) => Promise<T>;
}

export interface NearestOptions {
  /** At most this many entries (default 10). */
  k?: number;
  /** Only entries within this distance, a fraction of the bits (default: find's default cut, SIMILARITY.default; 1: all). */
  maxDistance?: number;
  /** Only entries for which this says true. */
  filter?: (id: string, metadata: unknown) => boolean;
  /** Match rotated, mirrored, cropped and framed copies (default true); false: the upright pictures only. */
  allOrientations?: boolean;
}

export interface Neighbour {
  id: string;
  /** A fraction of the fingerprint bits, 0 (identical) to 1. */
  distance: number;
  /** (1 − distance) × 100. */
  score: number;
  metadata: unknown;
}

export interface Comparison {
  distance: number;
  score: number;
  bits: number;
  nbits: number;
  /** Whether find, at `cut` (default SIMILARITY.default), would call them the same picture. */
  same: boolean;
}

/** The sidecar file of a database: the metadata of its entries, by id. */
export function metadataFileOf(dbfile: string): string {
  return `${dbfile}.metadata.json`;
}

const SIDECAR_FORMAT = 'imgcmp-metadata';

/**
 * What every index offers, whatever keeps its entries: an HDF5 fingerprint database
 * (ImageIndex) or PostgreSQL (api/postgres.ts, PostgresIndex).
 */
export interface Index {
  readonly settings: HashSettings;
  /** Where the entries are kept, said for a person: a file's absolute path, or a database URL without its password. */
  readonly location: string;
  fingerprint(source: ImageSource, name?: string): Promise<FingerprintRecord>;
  add(source: ImageSource, opts: AddOptions): Promise<void>;
  remove(id: string): Promise<void>;
  has(id: string): boolean;
  count(): number;
  list(opts?: { offset?: number; limit?: number }): string[];
  metadataOf(id: string): unknown;
  nearest(source: QuerySource, opts?: NearestOptions): Promise<Neighbour[]>;
  compare(a: QuerySource, b: QuerySource, opts?: { cut?: number }): Promise<Comparison>;
  duplicates(opts?: { cut?: number; linkage?: Linkage; includeFlat?: boolean }): string[][];
  /** Resolves once every change made so far is durable. */
  save(): Promise<void>;
  close(): Promise<void>;
}

/** Whether `location` names a PostgreSQL database (postgres:// or postgresql://) rather than a file. */
export function isDatabaseUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Opens the index of `dbfile`, creating the database (with find's settings) when absent. Holds the
 * database's lock until close(). Changes left in the journal by a crash are replayed and saved.
 */
export async function openIndex(dbfile: string, opts: OpenOptions & PostgresOptions = {}): Promise<Index> {
  if (typeof dbfile !== 'string' || !dbfile) throw new IndexError('invalid', 'openIndex: dbfile must be a file name');
  // A postgres:// URL opens the index kept in PostgreSQL (api/postgres.ts), shared by every process that opens it.
  if (isDatabaseUrl(dbfile)) return (await import('./postgres.js')).openPostgresIndex(dbfile, opts);
  const note = opts.note ?? ((line: string) => process.stderr.write(`imgcmp: ${line}\n`));
  const checkpointChanges = opts.checkpointChanges ?? CHECKPOINT_CHANGES;
  const checkpointSeconds = opts.checkpointSeconds ?? CHECKPOINT_SECONDS;
  if (!Number.isInteger(checkpointChanges) || checkpointChanges < 1) throw new IndexError('invalid', `checkpointChanges must be a whole number ≥ 1, not ${String(checkpointChanges)}`);
  if (typeof checkpointSeconds !== 'number' || !(checkpointSeconds > 0)) throw new IndexError('invalid', `checkpointSeconds must be a number > 0, not ${String(checkpointSeconds)}`);
  const release = acquireLock(dbfile, opts.note);
  try {
    const journalFile = journalFileOf(dbfile);
    removeStaleTemporaries(realTarget(dbfile));
    removeStaleTemporaries(journalFile);
    const existing = await existingDbOrNone(dbfile);
    const settings = existing?.settings ?? opts.settings ?? findSettings(opts.decoder ?? defaultJpegDecoder());
    const missing = decoderMissing(decoderFor(settings.resample));
    if (missing) throw new ImgcmpError('usage', missing);
    const sidecar = fs.existsSync(metadataFileOf(dbfile));
    const metadata = existing?.metadata ? new Map(existing.files.map((id, i) => [id, existing.metadata![i]!] as const).filter(([, m]) => m !== '')) : readSidecar(dbfile);
    const records = existing ? recordsOf(existing) : new Map<string, FingerprintRecord>();
    const replay = readJournal(journalFile, settings, note);
    for (const op of replay.ops) applyOp(records, metadata, op);
    const searchThreads = searchThreadsOf(opts);
    const index = new ImageIndex(dbfile, settings, records, metadata, release, { sidecar, note, checkpointChanges, checkpointSeconds, searchThreads });
    await index.begin(!existing || replay.ops.length > 0 || replay.tornBytes > 0, journalFile);
    if (opts.prepareSearch === true) index.prepareSearch();
    return index;
  } catch (err) {
    release();
    throw err;
  }
}

/** Applies a change to the entries (idempotent: an add sets, a remove drops what is there). */
function applyOp(records: Map<string, FingerprintRecord>, metadata: Map<string, string>, op: JournalOp): void {
  if ('remove' in op) {
    records.delete(op.remove);
    metadata.delete(op.remove);
    return;
  }
  records.set(op.add.file, op.add);
  if (op.metadata === undefined) metadata.delete(op.add.file);
  else metadata.set(op.add.file, op.metadata);
}

function readSidecar(dbfile: string): Map<string, string> {
  const file = metadataFileOf(dbfile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new ImgcmpError('database', `${file}: ${reasonOf(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ImgcmpError('database', `${file}: not readable as JSON`);
  }
  const entries = (parsed as { format?: unknown; metadata?: unknown } | null)?.metadata;
  if ((parsed as { format?: unknown } | null)?.format !== SIDECAR_FORMAT || !entries || typeof entries !== 'object' || Array.isArray(entries)) {
    throw new ImgcmpError('database', `${file}: not an imgcmp metadata file`);
  }
  return new Map(Object.entries(entries as Record<string, unknown>).map(([id, v]) => [id, JSON.stringify(v)]));
}


interface IndexOptions {
  /** A sidecar metadata file of an older imgcmp is beside the database: removed once the database holds its metadata. */
  sidecar: boolean;
  note: (line: string) => void;
  checkpointChanges: number;
  checkpointSeconds: number;
  /** Worker threads for searches (OpenOptions.searchThreads, checked: searchThreadsOf). */
  searchThreads?: number;
}

export class ImageIndex implements Index {
  /**
   * The entries as searches read them (index/live.ts), made at the first search and kept current
   * by every add and remove after it (not made again: at a million entries that takes seconds).
   */
  private live?: LivePictures;
  /** The ids sorted as the database sorts them (list), until the next change. */
  private sorted?: string[];
  private closed = false;
  private closing?: Promise<void>;
  private saving: Promise<void> = Promise.resolve();
  private pending?: Promise<void>;
  private journal?: Journal;
  /** The checkpoint due checkpointSeconds after the first change not yet folded. */
  private timer?: NodeJS.Timeout;
  private autoSaving = false;
  /** The lock is released: nothing may be written any more. */
  private released = false;
  /** The clusters answered by duplicates() since the last change. */
  private readonly clusterCache = new DuplicatesCache();

  /** @internal Use openIndex. */
  constructor(
    readonly dbfile: string,
    readonly settings: HashSettings,
    private readonly records: Map<string, FingerprintRecord>,
    private readonly metadata: Map<string, string>,
    private readonly release: () => void,
    private readonly options: IndexOptions = { sidecar: false, note: () => undefined, checkpointChanges: CHECKPOINT_CHANGES, checkpointSeconds: CHECKPOINT_SECONDS },
  ) {}

  /** @internal Saves the entries as opened when `save` (a new database, changes replayed), then starts an empty journal. */
  async begin(save: boolean, journalFile: string): Promise<void> {
    if (save) await this.save();
    this.journal = await Journal.start(journalFile);
  }

  /** Appends a change to the journal: its promise resolves once the change is on disk. Throws (nothing changed) when it cannot be taken. */
  private journalled(op: JournalOp, id: string): Promise<void> {
    let frame: Buffer;
    try {
      frame = encodeOp(op);
    } catch (err) {
      throw new IndexError('invalid', `${id}: ${reasonOf(err)}`, { cause: err });
    }
    if (!this.journal) throw new IndexError('closed', `${this.dbfile}: the index is not open`);
    return this.journal.append(frame);
  }

  /** After a change: a checkpoint once checkpointChanges are unfolded, or checkpointSeconds after the first. */
  private changed(): void {
    if ((this.journal?.unfolded ?? 0) >= this.options.checkpointChanges) this.checkpointSoon();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.checkpointSoon();
      }, this.options.checkpointSeconds * 1000);
      this.timer.unref();
    }
    this.clusterCache.changed();
  }

  /** A checkpoint in the background: a failure is told in one line; the changes stay in the journal. */
  private checkpointSoon(): void {
    if (this.autoSaving || this.closed) return;
    this.autoSaving = true;
    this.save()
      .catch((err) => this.options.note(`${this.dbfile}: checkpoint failed (${reasonOf(err)}); the changes stay in the journal`))
      .finally(() => (this.autoSaving = false));
  }

  get location(): string {
    return path.resolve(this.dbfile);
  }

  private open(): void {
    if (this.closed) throw new IndexError('closed', `${this.dbfile}: the index is closed`);
  }

  /** The fingerprint record of an image (hashed with the database's settings). `name` names it in errors. */
  async fingerprint(source: ImageSource, name = typeof source === 'string' ? source : 'image'): Promise<FingerprintRecord> {
    this.open();
    return fingerprintImage(this.settings, source, name);
  }


  /**
   * Adds (or replaces) the entry `id`. Resolves once the change is durable (in the journal,
   * flushed to disk); searches see it from the moment the image is hashed.
   */
  async add(source: ImageSource, opts: AddOptions): Promise<void> {
    this.open();
    checkId(opts?.id);
    let meta: string | undefined;
    if (opts.metadata !== undefined) {
      try {
        meta = JSON.stringify(opts.metadata);
      } catch (err) {
        throw new IndexError('invalid', `metadata of ${opts.id}: not JSON (${reasonOf(err)})`);
      }
      if (meta === undefined) throw new IndexError('invalid', `metadata of ${opts.id}: not JSON`);
    }
    const record = await throttleOf(opts)(() => this.fingerprint(source));
    this.open();
    const size = typeof source === 'string' ? record.size : source.length;
    const op: JournalOp = { add: { ...record, file: opts.id, size, mtime: typeof source === 'string' ? record.mtime : Date.now() }, metadata: meta };
    // Journalled and applied in one step, so that the journal's order is the order of the changes.
    const durable = this.journalled(op, opts.id);
    if (!this.records.has(opts.id)) this.sorted = undefined;
    applyOp(this.records, this.metadata, op);
    this.live?.set(opts.id, op.add);
    this.changed();
    await durable;
  }

  /** Removes the entry `id`, resolving once that is durable; an IndexError ('not-found') when there is none. */
  async remove(id: string): Promise<void> {
    this.open();
    checkId(id);
    if (!this.records.has(id)) throw new IndexError('not-found', `${id}: no such entry`);
    const op: JournalOp = { remove: id };
    const durable = this.journalled(op, id);
    applyOp(this.records, this.metadata, op);
    this.sorted = undefined;
    this.live?.delete(id);
    this.changed();
    await durable;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  count(): number {
    return this.records.size;
  }

  /** Ids in order (sorted, as the database stores them), from `offset`, at most `limit` (default all). */
  list(opts: { offset?: number; limit?: number } = {}): string[] {
    this.open();
    const { offset, limit } = pageOf(opts);
    this.sorted ??= [...this.records.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // as dbFromRecords sorts them
    return this.sorted.slice(offset, offset + limit);
  }

  /** The metadata of `id` (undefined when none was given); an IndexError ('not-found') when there is no such entry. */
  metadataOf(id: string): unknown {
    if (!this.records.has(id)) throw new IndexError('not-found', `${id}: no such entry`);
    const m = this.metadata.get(id);
    return m === undefined ? undefined : JSON.parse(m);
  }

  /** The coarse cut of a search at find's default cut, in bits (Infinity without coarse views). */
  private defaultCoarseCut(): number {
    const coarseBits = this.settings.coarseX ? this.settings.coarseX * this.settings.coarseX : 0;
    return coarseBits ? coarseCutBits(SIMILARITY.default, coarseBits) : Infinity;
  }

  /** @internal The search's copy of the entries and its tables made now (OpenOptions.prepareSearch). */
  prepareSearch(): void {
    this.pictures().prepare(this.defaultCoarseCut());
  }

  /** @internal Whether a search at the default cut now would find its copy of the entries and their tables made (no wait). */
  get searchReady(): boolean {
    return this.live !== undefined && !this.live.tablesDue(this.defaultCoarseCut());
  }

  /** The entries as searches read them: made of the records at the first search, then kept current. */
  private pictures(): LivePictures {
    if (!this.live) {
      const live = new LivePictures(this.settings, undefined, { searchThreads: this.options.searchThreads ?? 0 });
      for (const [id, record] of this.records) live.set(id, record);
      this.live = live;
    }
    return this.live;
  }

  /** The entries as a database (sorted by id), made now. */
  private db(): FingerprintDb {
    return dbFromRecords(this.settings, this.records.values());
  }

  /** A query's record: an entry's own (then `self`), or the image's, hashed (api/nearest.ts). */
  private query(source: QuerySource): Promise<{ record: FingerprintRecord; self?: string }> {
    return queryRecord(source, (id) => this.records.get(id), (image) => this.fingerprint(image));
  }

  /**
   * The entries nearest to an image (or to an entry, which is then not its own match), best first
   * (ties by id), measured as imgcmp search measures them.
   */
  async nearest(source: QuerySource, opts: NearestOptions = {}): Promise<Neighbour[]> {
    this.open();
    const { k, maxDistance } = nearestBounds(opts);
    const { record, self } = await this.query(source);
    const live = this.pictures();
    const { query, within, coarseWithin } = nearestQuery(record, maxDistance, opts, live);
    // Through the coarse fingerprints' tables where they pay (index/live.ts): the rows and distances of distancesToQuery, nearest first, ties by id.
    const found = await live.withinAsync(query, within, coarseWithin);
    return neighboursOf(found, (n) => this.metadata.get(n.id), { k, self, nbits: live.nbits, filter: opts.filter });
  }

  /** The distance of two images (or entries), as imgcmp compare measures it with this database's settings. */
  async compare(a: QuerySource, b: QuerySource, opts: { cut?: number } = {}): Promise<Comparison> {
    this.open();
    const cut = opts.cut ?? SIMILARITY.default;
    const [qa, qb] = await Promise.all([this.query(a), this.query(b)]);
    return comparePictures(this.settings, qa.record, qb.record, cut);
  }

  /**
   * The clusters of near-duplicate entries at `cut` (default SIMILARITY.default), as find groups
   * them; computed once per question until the next add or remove (api/duplicates-cache.ts).
   */
  duplicates(opts: { cut?: number; linkage?: Linkage; includeFlat?: boolean } = {}): string[][] {
    this.open();
    const question = { cut: cutOf(opts), linkage: opts.linkage ?? 'average', includeFlat: opts.includeFlat ?? false };
    return this.clusterCache.clusters(question, () => clustersOfDb(this.db(), question));
  }

  /** @internal The clusterings duplicates() has computed (a repeated question computes none); for tests and benchmarks. */
  get duplicatesComputed(): number {
    return this.clusterCache.computed;
  }

  /**
   * A checkpoint: writes the database with its metadata (atomically, a new file renamed over the
   * old one) and empties the journal of the changes it holds. Saves asked for while one is being
   * written are done together by the next one; the promise resolves once the entries as they
   * were when it was asked for are in the database on disk.
   */
  save(): Promise<void> {
    if (this.released) return Promise.reject(new IndexError('closed', `${this.dbfile}: the index is closed`));
    if (this.pending) return this.pending;
    const next = this.saving.then(() => {
      this.pending = undefined;
      return this.writeNow();
    });
    this.pending = next;
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async writeNow(): Promise<void> {
    // The changes up to `upTo` are all applied to the entries (journalled and applied in one step).
    const upTo = this.journal?.last ?? 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    const metadataOf = (id: string): string => this.metadata.get(id) ?? '';
    if (this.records.size >= WRITE_APART_FROM) {
      // A large database is written on a thread of its own, so that searches and changes go on
      // meanwhile: the entries as they are now (those of `upTo`) copied in slices between
      // requests, then handed to the thread; changes made since are in the journal.
      await writeDbApart(this.dbfile, await dbFromRecordsInSlices(this.settings, this.records.values(), metadataOf));
    } else {
      const db = this.db();
      await writeDb(this.dbfile, { ...db, metadata: db.files.map(metadataOf) });
    }
    // The new database's name must be on disk before the journal that it replaces is emptied.
    syncFolder(path.dirname(realTarget(this.dbfile)));
    if (this.options.sidecar) {
      const sidecar = metadataFileOf(this.dbfile);
      checkOurs(sidecar, (head) => head.includes(SIDECAR_FORMAT));
      fs.rmSync(sidecar, { force: true });
      this.options.sidecar = false;
    }
    await this.journal?.reset(upTo);
  }

  /**
   * Finishes the changes in flight, saves (a checkpoint) unless there is nothing to save,
   * removes the emptied journal and releases the database's lock; the index is unusable
   * afterwards. When the save fails the journal stays, and the next openIndex replays it.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.timer);
      let saved = false;
      try {
        await this.journal?.settled();
        // Nothing changed since the last checkpoint (and the file is there, in today's format):
        // the database on disk is the index already. Writing it again costs seconds at a million
        // entries (serve's SIGTERM, every CLI command that opens an index to search it).
        const unchanged = this.journal !== undefined && this.journal.unfolded === 0 && !this.options.sidecar && fs.existsSync(this.dbfile);
        if (!unchanged) await this.save();
        saved = true;
      } finally {
        try {
          await this.journal?.close(saved);
        } finally {
          this.released = true;
          this.release();
          await this.live?.close();
        }
      }
    })();
    return this.closing;
  }
}
