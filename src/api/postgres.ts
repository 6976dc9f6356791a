/**
 * The image index kept in PostgreSQL, shared by every process that opens it (`openIndex(
 * 'postgres://…')`, `imgcmp serve --store postgres://…`): several serve replicas behind a load
 * balancer see one index. The same interface as the HDF5 index (api/index.ts, Index), and the
 * same distances (index/views.ts, distancesToQuery).
 *
 * PostgreSQL holds the truth: an entry is written, with its views' hash blocks and a row of the
 * change sequence, in one transaction, and an add or remove returns once it has committed — a
 * replica killed afterwards loses nothing. Every replica keeps an in-memory copy (index/live.ts)
 * that answers searches, kept current by LISTEN/NOTIFY: a notification names the newest change,
 * and the replica reads the changes after the last one it applied (`imgcmp_changes`), so one
 * that was disconnected, or started late, catches up by the same query. Writers take the change
 * counter's row lock just before they commit, so change ids become visible in their order and a
 * reader that has applied change N has applied every change before it.
 *
 * The search can also run in PostgreSQL itself (`search: 'database'`): candidates by the
 * multi-index (pigeonhole) rule as indexed equality on hash blocks — a view within c bits of the
 * query agrees within ⌊c/m⌋ bits on one of its m blocks, so its block is one of the few values
 * near the query's — and every candidate measured with bit_count(a # b) exactly as
 * distancesToQuery measures it (views either way round, coarse views first).
 *
 * The schema is created and migrated here (imgcmp_schema holds its version); see README
 * ("The index on PostgreSQL") for the tables and the SQL that distributes them with Citus.
 */
import os from 'node:os';
import pg from 'pg';
import type { Linkage } from '../cluster/linkage.js';
import { dbFromRecords } from '../db/records.js';
import { wordsFor } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { penaltyBits, selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { coarseCutBits } from '../index/cut.js';
import { LivePictures } from '../index/live.js';
import { chunkValue, masksWithin } from '../index/mih.js';
import { decoderFor, decoderMissing, defaultJpegDecoder } from '../pixels/recipe.js';
import { SIMILARITY, findSettings } from '../stages/find.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';
import { checkId, cutOf, nearestBounds, pageOf, searchThreadsOf, throttleOf } from './arguments.js';
import { clustersOfDb, DuplicatesCache } from './duplicates-cache.js';
import { IndexError } from './errors.js';
import { nearestQuery, neighboursOf, queryRecord } from './nearest.js';
import type { AddOptions, Comparison, ImageSource, Index, Neighbour, NearestOptions, OpenOptions, QuerySource } from './index.js';
import { comparePictures, fingerprintImage } from './measure.js';

/** The schema version this imgcmp writes; imgcmp_schema.version says which one a database has. */
export const SCHEMA_VERSION = 1;
/** The channel that change notifications go to; the payload is the change id. */
const CHANNEL = 'imgcmp_changes';
/** Held (pg_advisory_lock) while the schema is created or migrated, so that replicas started together do it once. */
const MIGRATION_LOCK = 0x696d67636d70; // "imgcmp"
/** The widest hash block (a block is an integer column). */
const MAX_BLOCK_BITS = 24;
/** More probe values than this per query picture, and the database search reads every entry instead (still exact). */
const MAX_PROBES = 200_000;

export interface PostgresOptions {
  /** Where nearest() searches: the replica's in-memory copy (default), or PostgreSQL itself (the same answers, slower). */
  search?: 'memory' | 'database';
  /** How often (ms) the replica also asks for changes it was not told of (default 5000). */
  pollMs?: number;
  /** Connections in the pool (default 4). */
  connections?: number;
}

/** A database URL said for a person: without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString().replace(/^(postgres(?:ql)?:\/\/[^@/]*):@/i, '$1@');
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** Table and block layout, from the settings. */
interface Layout {
  nbits: number;
  words: number;
  perFile: number;
  /** The last views of each entry, measured view for view only (strip views). */
  selfViews: number;
  /** The view penalty in bits, on the full and on the coarse fingerprints (hash/views.ts, viewPenaltyOf). */
  penalty: number;
  coarsePenalty: number;
  coarseBits: number;
  coarseWords: number;
  blocks: { offset: number; bits: number }[];
}

function layoutOf(settings: HashSettings): Layout {
  const nbits = settings.x * settings.x;
  const m = Math.max(1, Math.ceil(nbits / MAX_BLOCK_BITS));
  const blocks: { offset: number; bits: number }[] = [];
  for (let c = 0, offset = 0; c < m; c++) {
    const bits = Math.floor(nbits / m) + (c < nbits % m ? 1 : 0);
    blocks.push({ offset, bits });
    offset += bits;
  }
  const coarseBits = settings.coarseX ? settings.coarseX * settings.coarseX : 0;
  const penalty = viewPenaltyOf(settings);
  return {
    nbits,
    words: wordsFor(nbits),
    perFile: viewsPerFile(settings),
    selfViews: selfViewsPerFile(settings),
    penalty: penaltyBits(penalty, nbits),
    coarsePenalty: penaltyBits(penalty, coarseBits),
    coarseBits,
    coarseWords: wordsFor(coarseBits),
    blocks,
  };
}

/** The schema changes from version i to i + 1 (MIGRATIONS[i]); a new database runs them all from 0. */
const MIGRATIONS: ((l: Layout) => string[])[] = [
  (l) => {
    const b = l.blocks.map((_, i) => `b${i}`);
    return [
      `CREATE TABLE imgcmp_entries (
        id text PRIMARY KEY,
        seq bigint NOT NULL,
        bits bit(${l.nbits}) NOT NULL,
        views bytea,
        coarse bytea,
        flat boolean NOT NULL,
        size double precision NOT NULL,
        mtime double precision NOT NULL,
        metadata json
      )`,
      `CREATE TABLE imgcmp_views (
        id text NOT NULL,
        v smallint NOT NULL,
        bits bit(${l.nbits}) NOT NULL,
        coarse bit(${Math.max(1, l.coarseBits)}),
        ${b.map((c) => `${c} integer NOT NULL`).join(',\n        ')},
        PRIMARY KEY (id, v)
      )`,
      ...b.map((c) => `CREATE INDEX imgcmp_views_${c} ON imgcmp_views (${c}, v)`),
      `CREATE TABLE imgcmp_changes (seq bigint PRIMARY KEY, id text NOT NULL, op "char" NOT NULL)`,
      `CREATE TABLE imgcmp_counter (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL)`,
      `INSERT INTO imgcmp_counter (seq) VALUES (0)`,
    ];
  },
];

/** The SQL that creates the schema for `settings` (the README shows it; the store runs it). */
export function schemaSql(settings: HashSettings): string[] {
  const l = layoutOf(settings);
  return MIGRATIONS.flatMap((m) => m(l));
}

/** Settings read from a database: checked before anything is sized by them. */
function checkedSettings(value: unknown, where: string): HashSettings {
  const s = value as Partial<HashSettings> | null;
  const int = (v: unknown, lo: number, hi: number): boolean => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  if (
    !s ||
    typeof s !== 'object' ||
    typeof s.method !== 'string' ||
    !int(s.x, 2, 64) ||
    typeof s.orientations !== 'boolean' ||
    typeof s.crops !== 'boolean' ||
    (s.borders !== undefined && typeof s.borders !== 'boolean') ||
    (s.coarseX !== undefined && !int(s.coarseX, 0, (s.x as number) - 1)) ||
    typeof s.resample !== 'string' ||
    !int(s.hashVersion, 1, 1000)
  ) {
    throw new ImgcmpError('database', `${where}: imgcmp_schema.settings are not imgcmp hash settings`);
  }
  return s as HashSettings;
}

/** How many values of `bits` bits lie within `r` bits of one. */
function ballSize(bits: number, r: number): number {
  let total = 0;
  let term = 1; // C(bits, k)
  for (let k = 0; k <= Math.min(r, bits); k++) {
    total += term;
    term = (term * (bits - k)) / (k + 1);
  }
  return total;
}

/** Packed words as bytes, little-endian (the bytea columns). */
function wordsToBytes(words: Uint32Array): Buffer {
  const out = Buffer.alloc(words.length * 4);
  for (let i = 0; i < words.length; i++) out.writeUInt32LE(words[i]!, i * 4);
  return out;
}

function bytesToWords(bytes: Buffer): Uint32Array {
  const out = new Uint32Array(bytes.length >>> 2);
  if (os.endianness() === 'LE') new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  else for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32LE(i * 4);
  return out;
}

/** Bits of packed words (`nbits` from word `at`) as PostgreSQL bit-string text, bit 0 first. */
function bitText(words: Uint32Array, at: number, nbits: number): string {
  let s = '';
  for (let i = 0; i < nbits; i++) s += (words[at + (i >>> 5)]! >>> (i & 31)) & 1 ? '1' : '0';
  return s;
}

function bitsFromText(text: string, nbits: number): Uint32Array | undefined {
  if (text.length !== nbits || !/^[01]*$/.test(text)) return undefined;
  const out = new Uint32Array(wordsFor(nbits));
  for (let i = 0; i < nbits; i++) if (text.charCodeAt(i) === 49) out[i >>> 5]! |= 1 << (i & 31);
  return out;
}

/** A row of imgcmp_entries (as selected by ENTRY_COLUMNS). */
interface EntryRow {
  id: unknown;
  bits: unknown;
  views: unknown;
  coarse: unknown;
  flat: unknown;
  size: unknown;
  mtime: unknown;
  metadata: unknown;
}

const ENTRY_COLUMNS = 'e.id, e.bits, e.views, e.coarse, e.flat, e.size, e.mtime, e.metadata::text AS metadata';

/** The record and metadata of a database row, or why it is not one of these settings. */
function recordOfRow(row: EntryRow, l: Layout): { id: string; record: FingerprintRecord; metadata?: string } | string {
  const id = row.id;
  if (typeof id !== 'string' || !id) return 'an entry without an id';
  const bytesOf = (v: unknown, words: number): Uint32Array | undefined => (Buffer.isBuffer(v) && v.length === words * 4 ? bytesToWords(v) : undefined);
  const bits = typeof row.bits === 'string' ? bitsFromText(row.bits, l.nbits) : undefined;
  if (!bits) return `${id}: bits are not ${l.nbits} bits`;
  const views = l.perFile > 1 ? bytesOf(row.views, l.perFile * l.words) : undefined;
  if (l.perFile > 1 && !views) return `${id}: views are not ${l.perFile} × ${l.words} words`;
  const coarse = l.coarseBits ? bytesOf(row.coarse, l.perFile * l.coarseWords) : undefined;
  if (l.coarseBits && !coarse) return `${id}: coarse views are not ${l.perFile} × ${l.coarseWords} words`;
  if (typeof row.flat !== 'boolean' || typeof row.size !== 'number' || typeof row.mtime !== 'number') return `${id}: flat, size or mtime of the wrong type`;
  if (row.metadata !== null && typeof row.metadata !== 'string') return `${id}: metadata of the wrong type`;
  return { id, record: { file: id, bits, views, coarse, flat: row.flat, size: row.size, mtime: row.mtime }, metadata: (row.metadata as string | null) ?? undefined };
}

/** Opens (creating or migrating its schema when needed) the index kept in the PostgreSQL database at `url`. */
export async function openPostgresIndex(url: string, opts: OpenOptions & PostgresOptions = {}): Promise<PostgresIndex> {
  const location = redactUrl(url);
  const note = opts.note ?? ((line: string) => process.stderr.write(`imgcmp: ${line}\n`));
  const pool = new pg.Pool({ connectionString: url, max: opts.connections ?? 4 });
  // An idle connection that breaks (a restarted server) is dropped by the pool; said, not thrown.
  pool.on('error', (err) => note(`${location}: ${reasonOf(err)}`));
  try {
    const settings = await migrate(pool, location, opts.settings ?? findSettings(opts.decoder ?? defaultJpegDecoder()));
    const missing = decoderMissing(decoderFor(settings.resample));
    if (missing) throw new ImgcmpError('usage', missing);
    const index = new PostgresIndex(url, location, pool, settings, opts.search ?? 'memory', note, searchThreadsOf(opts));
    await index.start(opts.pollMs ?? 5000);
    return index;
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof ImgcmpError) throw err;
    throw new ImgcmpError('database', `${location}: ${reasonOf(err)}`, { cause: err });
  }
}

/** Creates the schema with `wanted` settings when absent, migrates an older one; the database's settings. */
async function migrate(pool: pg.Pool, location: string, wanted: HashSettings): Promise<HashSettings> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS imgcmp_schema (version integer NOT NULL, settings jsonb NOT NULL, created timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number; settings: unknown }>('SELECT version, settings FROM imgcmp_schema');
      if (rows.length > 1) throw new ImgcmpError('database', `${location}: imgcmp_schema has ${rows.length} rows, not one`);
      let version = rows[0]?.version ?? 0;
      const settings = rows.length ? checkedSettings(rows[0]!.settings, location) : wanted;
      if (version > SCHEMA_VERSION) throw new ImgcmpError('database', `${location}: schema version ${version} was made by a newer imgcmp (this one knows ${SCHEMA_VERSION})`);
      if (!rows.length) await client.query('INSERT INTO imgcmp_schema (version, settings) VALUES (0, $1)', [JSON.stringify(settings)]);
      const l = layoutOf(settings);
      while (version < SCHEMA_VERSION) {
        await client.query('BEGIN');
        try {
          for (const sql of MIGRATIONS[version]!(l)) await client.query(sql);
          await client.query('UPDATE imgcmp_schema SET version = $1', [version + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        version++;
      }
      return settings;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

export class PostgresIndex implements Index {
  private readonly live: LivePictures;
  private readonly metadata = new Map<string, string>();
  private readonly layout: Layout;
  /** The last change applied to the in-memory copy. */
  private applied = 0;
  private closed = false;
  private listener?: pg.Client;
  private poll?: NodeJS.Timeout;
  private reconnect?: NodeJS.Timeout;
  private pulling: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;
  private readonly writes = new Set<Promise<unknown>>();
  private failing = false;
  /** The clusters answered by duplicates() since the in-memory copy last changed. */
  private readonly clusterCache = new DuplicatesCache();

  /** @internal Use openIndex. */
  constructor(
    private readonly url: string,
    readonly location: string,
    private readonly pool: pg.Pool,
    readonly settings: HashSettings,
    private readonly searchIn: 'memory' | 'database',
    private readonly note: (line: string) => void,
    searchThreads = 0,
  ) {
    this.live = new LivePictures(settings, undefined, { searchThreads: searchIn === 'memory' ? searchThreads : 0 });
    this.layout = layoutOf(settings);
  }

  /** The last change id this replica has applied (for tests and the benchmark). */
  get appliedChange(): number {
    return this.applied;
  }

  /** Listens, loads every entry, then applies the changes made meanwhile. */
  async start(pollMs: number): Promise<void> {
    await this.listen();
    await this.load();
    await this.catchUp();
    this.poll = setInterval(() => void this.catchUp().catch(() => undefined), pollMs);
    this.poll.unref();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', () => undefined); // said once by 'end' below
    client.on('notification', () => void this.catchUp().catch(() => undefined));
    client.on('end', () => {
      if (this.listener !== client || this.closed) return;
      this.listener = undefined;
      this.note(`${this.location}: lost the connection for change notifications; reconnecting`);
      this.scheduleReconnect(250);
    });
    await client.connect();
    if (this.closed) {
      await client.end(); // closed while reconnecting
      return;
    }
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private scheduleReconnect(delay: number): void {
    if (this.closed) return;
    this.reconnect = setTimeout(() => {
      this.listen().then(
        () => {
          this.note(`${this.location}: listening for changes again`);
          void this.catchUp().catch(() => undefined);
        },
        () => this.scheduleReconnect(Math.min(delay * 2, 5000)),
      );
    }, delay);
    this.reconnect.unref();
  }

  /** Reads every entry in one snapshot, with the change id it stands at. */
  private async load(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ seq: string }>('SELECT seq FROM imgcmp_counter');
      const at = Number(rows[0]?.seq ?? 0);
      await client.query(`DECLARE imgcmp_load NO SCROLL CURSOR FOR SELECT ${ENTRY_COLUMNS} FROM imgcmp_entries e`);
      for (;;) {
        const batch = await client.query<EntryRow>('FETCH 5000 FROM imgcmp_load');
        for (const row of batch.rows) this.applyRow(row);
        if (batch.rows.length < 5000) break;
      }
      await client.query('COMMIT');
      this.applied = at;
      this.prepareSearch();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** The in-memory copy's tables made now where a search would otherwise wait for them (index/live.ts, prepare). */
  private prepareSearch(): void {
    if (this.layout.coarseBits) this.live.prepare(coarseCutBits(SIMILARITY.default, this.layout.coarseBits));
  }

  private applyRow(row: EntryRow): void {
    const got = recordOfRow(row, this.layout);
    if (typeof got === 'string') {
      this.note(`${this.location}: ${got}; entry left out`);
      return;
    }
    this.live.set(got.id, got.record);
    if (got.metadata === undefined) this.metadata.delete(got.id);
    else this.metadata.set(got.id, got.metadata);
    this.clusterCache.changed();
  }

  /**
   * Applies the changes after the last one applied. Calls while one runs are answered by the
   * next run, which starts after it, so a caller sees every change committed before its call.
   */
  catchUp(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.pulling.then(() => {
      this.queued = undefined;
      return this.pull();
    });
    this.queued = next;
    this.pulling = next.catch(() => undefined);
    return next;
  }

  private async pull(): Promise<void> {
    if (this.closed) return;
    try {
      for (;;) {
        const { rows } = await this.pool.query<EntryRow & { seq: string; change: string; op: string }>(
          `SELECT c.seq, c.id AS change, c.op, ${ENTRY_COLUMNS}
             FROM imgcmp_changes c LEFT JOIN imgcmp_entries e ON e.id = c.id AND e.seq = c.seq
            WHERE c.seq > $1 ORDER BY c.seq LIMIT 5000`,
          [this.applied],
        );
        if (rows.length && Number(rows[0]!.seq) !== this.applied + 1) {
          // Changes were pruned past this replica's place: read everything again.
          await this.reload();
          continue;
        }
        for (const row of rows) {
          if (row.op === 'd') {
            this.live.delete(row.change);
            this.metadata.delete(row.change);
            this.clusterCache.changed();
          } else if (row.id !== null) this.applyRow(row); // else replaced or removed by a later change
          this.applied = Number(row.seq);
        }
        if (rows.length === 5000) continue;
        // Caught up, unless changes came meanwhile or the ones after this replica's were all pruned (one snapshot: the counter and its change row commit together).
        const head = await this.pool.query<{ seq: string; next: boolean }>('SELECT (SELECT seq FROM imgcmp_counter) AS seq, EXISTS (SELECT 1 FROM imgcmp_changes WHERE seq = $1) AS next', [this.applied + 1]);
        if (Number(head.rows[0]?.seq ?? 0) <= this.applied) break;
        if (!head.rows[0]!.next) await this.reload();
      }
      this.prepareSearch();
      if (this.failing) this.note(`${this.location}: reading changes again`);
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.note(`${this.location}: could not read changes (${reasonOf(err)}); searches answer from the copy in memory until it can`);
      this.failing = true;
      throw new ImgcmpError('database', `${this.location}: ${reasonOf(err)}`, { cause: err });
    }
  }

  private async reload(): Promise<void> {
    for (const id of [...this.live.sortedIds()]) this.live.delete(id);
    this.metadata.clear();
    this.clusterCache.changed();
    await this.load();
  }

  private open(): void {
    if (this.closed) throw new IndexError('closed', `${this.location}: the index is closed`);
  }


  async fingerprint(source: ImageSource, name?: string): Promise<FingerprintRecord> {
    this.open();
    return fingerprintImage(this.settings, source, name);
  }

  /** Runs `work` in a transaction that ends by taking the next change id for `id`; returns that id. */
  private async change(id: string, op: 'a' | 'd', work: (client: pg.PoolClient) => Promise<void>): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      // The counter's row lock is held from here to the commit: change ids commit in order.
      const { rows } = await client.query<{ seq: string }>('UPDATE imgcmp_counter SET seq = seq + 1 RETURNING seq');
      const seq = rows[0]!.seq;
      if (op === 'a') await client.query('UPDATE imgcmp_entries SET seq = $2 WHERE id = $1', [id, seq]);
      await client.query('INSERT INTO imgcmp_changes (seq, id, op) VALUES ($1, $2, $3)', [seq, id, op]);
      await client.query('SELECT pg_notify($1, $2)', [CHANNEL, seq]);
      await client.query('COMMIT');
      return Number(seq);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private async tracked<T>(work: Promise<T>): Promise<T> {
    this.writes.add(work);
    try {
      return await work;
    } finally {
      this.writes.delete(work);
    }
  }

  private dbError(err: unknown): unknown {
    return err instanceof ImgcmpError ? err : new ImgcmpError('database', `${this.location}: ${reasonOf(err)}`, { cause: err });
  }

  /** Adds (or replaces) the entry `id`; returns once it is committed and in this replica's copy. */
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
    const fingerprinted = await throttleOf(opts)(() => this.fingerprint(source));
    this.open();
    const record: FingerprintRecord = {
      ...fingerprinted,
      file: opts.id,
      size: typeof source === 'string' ? fingerprinted.size : source.length,
      mtime: typeof source === 'string' ? fingerprinted.mtime : Date.now(),
    };
    await this.put(opts.id, record, meta);
  }

  /** Writes an entry as add() does, from its record (the benchmark's loader and add() share it). */
  async put(id: string, record: FingerprintRecord, meta?: string): Promise<void> {
    this.open();
    checkId(id);
    const wrong = this.live.misfit(record);
    if (wrong) throw new IndexError('invalid', `${id}: ${wrong}`);
    const l = this.layout;
    const views = l.perFile > 1 ? record.views! : record.bits;
    const viewBits: string[] = [];
    const coarseBits: (string | null)[] = [];
    const blocks: number[][] = l.blocks.map(() => []);
    for (let v = 0; v < l.perFile; v++) {
      viewBits.push(bitText(views, v * l.words, l.nbits));
      coarseBits.push(l.coarseBits ? bitText(record.coarse!, v * l.coarseWords, l.coarseBits) : null);
      l.blocks.forEach((b, i) => blocks[i]!.push(chunkValue(views, v * l.words, b.offset, b.bits)));
    }
    const m = l.blocks.length;
    const seq = await this.tracked(
      this.change(id, 'a', async (client) => {
        await client.query(
          `INSERT INTO imgcmp_entries (id, seq, bits, views, coarse, flat, size, mtime, metadata)
           VALUES ($1, 0, $2::text::bit(${l.nbits}), $3, $4, $5, $6, $7, $8::json)
           ON CONFLICT (id) DO UPDATE SET bits = EXCLUDED.bits, views = EXCLUDED.views, coarse = EXCLUDED.coarse,
             flat = EXCLUDED.flat, size = EXCLUDED.size, mtime = EXCLUDED.mtime, metadata = EXCLUDED.metadata`,
          [id, bitText(record.bits, 0, l.nbits), l.perFile > 1 ? wordsToBytes(record.views!) : null, l.coarseBits ? wordsToBytes(record.coarse!) : null, record.flat, record.size, record.mtime, meta ?? null],
        );
        await client.query('DELETE FROM imgcmp_views WHERE id = $1', [id]);
        const cols = l.blocks.map((_, i) => `b${i}`);
        await client.query(
          `INSERT INTO imgcmp_views (id, v, bits, coarse, ${cols.join(', ')})
           SELECT $1, t.ord - 1, t.bits::bit(${l.nbits}), t.coarse::bit(${Math.max(1, l.coarseBits)}), ${cols.map((c) => `t.${c}`).join(', ')}
             FROM unnest($2::text[], $3::text[], ${cols.map((_, i) => `$${i + 4}::integer[]`).join(', ')}) WITH ORDINALITY AS t(bits, coarse, ${cols.join(', ')}, ord)`,
          [id, viewBits, coarseBits, ...blocks.slice(0, m)],
        );
      }),
    ).catch((err) => {
      throw this.dbError(err);
    });
    await this.caughtUpTo(seq);
  }

  private async caughtUpTo(seq: number): Promise<void> {
    while (this.applied < seq && !this.closed) await this.catchUp();
  }

  /** Removes the entry `id`; an IndexError ('not-found') when there is none. Returns once committed. */
  async remove(id: string): Promise<void> {
    this.open();
    checkId(id);
    const seq = await this.tracked(
      this.change(id, 'd', async (client) => {
        const gone = await client.query('DELETE FROM imgcmp_entries WHERE id = $1', [id]);
        if (!gone.rowCount) throw new IndexError('not-found', `${id}: no such entry`);
        await client.query('DELETE FROM imgcmp_views WHERE id = $1', [id]);
      }),
    ).catch((err) => {
      throw this.dbError(err);
    });
    await this.caughtUpTo(seq);
  }

  has(id: string): boolean {
    return this.live.has(id);
  }

  count(): number {
    return this.live.count;
  }

  list(opts: { offset?: number; limit?: number } = {}): string[] {
    this.open();
    const { offset, limit } = pageOf(opts);
    return this.live.sortedIds().slice(offset, offset + limit);
  }

  metadataOf(id: string): unknown {
    if (!this.live.has(id)) throw new IndexError('not-found', `${id}: no such entry`);
    const m = this.metadata.get(id);
    return m === undefined ? undefined : JSON.parse(m);
  }

  /** A query's record: an entry's own (then `self`), or the image's, hashed (api/nearest.ts). */
  private query(source: QuerySource): Promise<{ record: FingerprintRecord; self?: string }> {
    return queryRecord(source, (id) => this.live.record(id), (image) => this.fingerprint(image));
  }

  /** The entries nearest to an image (or to an entry, then not its own match), best first (ties by id), as imgcmp search measures them. */
  async nearest(source: QuerySource, opts: NearestOptions = {}): Promise<Neighbour[]> {
    this.open();
    const { k, maxDistance } = nearestBounds(opts);
    const { record, self } = await this.query(source);
    const l = this.layout;
    const { query, upright, within, coarseWithin } = nearestQuery(record, maxDistance, opts, l);
    const found =
      this.searchIn === 'database'
        ? await this.searchDatabase(record, upright, within, coarseWithin)
        : (await this.live.withinAsync(query, within, coarseWithin)).map((n) => ({ ...n, metadata: this.metadata.get(n.id) }));
    return neighboursOf(found, (n) => n.metadata, { k, self, nbits: l.nbits, filter: opts.filter });
  }

  /**
   * The entries within `within` bits of a query, searched in PostgreSQL: candidates whose hash
   * block equals one of the values within ⌊within/m⌋ bits of the query's block (btree lookups on
   * imgcmp_views), measured there with bit_count as distancesToQuery measures them. Nearest
   * first, ties by id.
   */
  async searchDatabase(record: FingerprintRecord, upright: boolean, within: number, coarseWithin: number): Promise<{ id: string; bits: number; metadata?: string }[]> {
    const l = this.layout;
    const m = l.blocks.length;
    const radius = Math.floor(within / m);
    const useViews = !upright && l.perFile > 1 && record.views !== undefined;
    const useCoarse = useViews && l.coarseBits > 0 && Number.isFinite(coarseWithin);
    const views = useViews ? record.views! : record.bits;
    const queries = useViews ? l.perFile : 1;
    // Views from this one on are strip views: each is measured against the same view only (index/views.ts).
    const anyViews = l.perFile - l.selfViews;
    // Every comparison but upright against upright carries the view penalty: those views need
    // only come within the cut less it (a narrower radius); the two upright pictures, within the cut.
    const viewRadius = useViews ? Math.max(0, Math.floor((within - l.penalty) / m)) : radius;
    const ball = (r: number): number => l.blocks.reduce((n, b) => n + ballSize(b.bits, r), 0);
    // Probe values per query picture, counted before any is made: a wide radius reads every entry instead.
    const probeCount = useViews ? ball(viewRadius) * (queries + 1) + (radius > viewRadius ? 2 * ball(radius) : 0) : ball(radius);
    const scan = probeCount > MAX_PROBES || within >= l.nbits;
    const masks = new Map<string, number[]>();
    /** The values within `r` bits of block i of the query's views from..to-1. */
    const probes = (i: number, to: number, from = 0, r = viewRadius): number[] => {
      const b = l.blocks[i]!;
      const key = `${b.bits}:${r}`;
      if (!masks.has(key)) masks.set(key, Array.from(masksWithin(b.bits, r)));
      const values = new Set<number>();
      for (let v = from; v < to; v++) {
        const q = chunkValue(views, v * l.words, b.offset, b.bits);
        for (const mask of masks.get(key)!) values.add(q ^ mask);
      }
      return [...values];
    };
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const q0 = param(bitText(record.bits, 0, l.nbits));
    let candidates: string;
    if (scan) candidates = 'SELECT id FROM imgcmp_entries';
    else if (useViews) {
      // A view of the entry near the query's upright picture, or the entry's upright picture near a view of the query.
      const ofUpright = l.blocks.map((_, i) => `b${i} = ANY(${param(probes(i, 1))}::integer[])`);
      const ofViews = l.blocks.map((_, i) => `b${i} = ANY(${param(probes(i, queries))}::integer[])`);
      candidates = `SELECT id FROM imgcmp_views WHERE ${ofUpright.join(' OR ')} UNION SELECT id FROM imgcmp_views WHERE v = 0 AND (${ofViews.join(' OR ')})`;
      if (radius > viewRadius) {
        // The entry's upright picture within the whole cut of the query's.
        candidates += ` UNION SELECT id FROM imgcmp_views WHERE v = 0 AND (${l.blocks.map((_, i) => `b${i} = ANY(${param(probes(i, 1, 0, radius))}::integer[])`).join(' OR ')})`;
      }
      // A strip view (the last l.selfViews) near the same strip view of the entry.
      for (let v = queries - l.selfViews; v < queries; v++) {
        candidates += ` UNION SELECT id FROM imgcmp_views WHERE v = ${v} AND (${l.blocks.map((_, i) => `b${i} = ANY(${param(probes(i, v + 1, v))}::integer[])`).join(' OR ')})`;
      }
    } else candidates = `SELECT id FROM imgcmp_views WHERE v = 0 AND (${l.blocks.map((_, i) => `b${i} = ANY(${param(probes(i, 1))}::integer[])`).join(' OR ')})`;
    let sql: string;
    if (useViews) {
      const qv = param(Array.from({ length: queries }, (_, v) => bitText(views, v * l.words, l.nbits)));
      const coarseSelect = useCoarse
        ? (() => {
            const qc = param(Array.from({ length: queries }, (_, v) => bitText(record.coarse!, v * l.coarseWords, l.coarseBits)));
            const own = `bit_count((${qc}::bit(${l.coarseBits})[])[w.v + 1] # w.coarse)`;
            return `, min(CASE WHEN w.v >= ${anyViews} THEN ${l.coarsePenalty} + ${own} ELSE (CASE WHEN w.v = 0 THEN 0 ELSE ${l.coarsePenalty} END) + least(bit_count((${qc}::bit(${l.coarseBits})[])[1] # w.coarse), bit_count((${qc}::bit(${l.coarseBits})[])[w.v + 1] # s.coarse)) END) AS coarse`;
          })()
        : '';
      sql = `WITH candidates AS (${candidates}),
        distances AS (
          SELECT w.id, min(CASE WHEN w.v >= ${anyViews} THEN ${l.penalty} + bit_count((${qv}::bit(${l.nbits})[])[w.v + 1] # w.bits) ELSE (CASE WHEN w.v = 0 THEN 0 ELSE ${l.penalty} END) + least(bit_count(${q0}::bit(${l.nbits}) # w.bits), bit_count((${qv}::bit(${l.nbits})[])[w.v + 1] # s.bits)) END) AS bits${coarseSelect}
            FROM candidates c JOIN imgcmp_views w ON w.id = c.id JOIN imgcmp_views s ON s.id = w.id AND s.v = 0
           GROUP BY w.id)
        SELECT d.id, d.bits, e.metadata::text AS metadata FROM distances d JOIN imgcmp_entries e ON e.id = d.id
         WHERE d.bits <= ${param(within)}${useCoarse ? ` AND d.coarse <= ${param(coarseWithin)}` : ''}`;
    } else {
      sql = `SELECT e.id, bit_count(${q0}::bit(${l.nbits}) # e.bits) AS bits, e.metadata::text AS metadata
               FROM imgcmp_entries e WHERE e.id IN (${candidates}) AND bit_count(${q0}::bit(${l.nbits}) # e.bits) <= ${param(within)}`;
    }
    let rows: { id: string; bits: string | number; metadata: string | null }[];
    try {
      rows = (await this.pool.query<{ id: string; bits: string | number; metadata: string | null }>(sql, params)).rows;
    } catch (err) {
      throw this.dbError(err);
    }
    return rows
      .map((r) => ({ id: r.id, bits: Number(r.bits), metadata: r.metadata ?? undefined }))
      .sort((a, b) => a.bits - b.bits || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async compare(a: QuerySource, b: QuerySource, opts: { cut?: number } = {}): Promise<Comparison> {
    this.open();
    const cut = opts.cut ?? SIMILARITY.default;
    const [qa, qb] = await Promise.all([this.query(a), this.query(b)]);
    return comparePictures(this.settings, qa.record, qb.record, cut);
  }

  /** The clusters of the in-memory copy, computed once per question until the copy changes (api/duplicates-cache.ts). */
  duplicates(opts: { cut?: number; linkage?: Linkage; includeFlat?: boolean } = {}): string[][] {
    this.open();
    const question = { cut: cutOf(opts), linkage: opts.linkage ?? 'average', includeFlat: opts.includeFlat ?? false };
    return this.clusterCache.clusters(question, () => clustersOfDb(dbFromRecords(this.settings, this.live.records()), question));
  }

  /** @internal The clusterings duplicates() has computed (a repeated question computes none); for tests and benchmarks. */
  get duplicatesComputed(): number {
    return this.clusterCache.computed;
  }

  /** Every add and remove is committed when it returns; this waits for those still running. */
  async save(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.save();
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.reconnect);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pulling;
    await this.pool.end().catch(() => undefined);
    await this.live.close();
  }
}
