/**
 * The thread of writeDbApart (db/write-apart.ts): writes one database with writeDb and says how
 * it went, then ends.
 */
import { parentPort } from 'node:worker_threads';
import { ImgcmpError } from '../util/errors.js';
import { writeDb, type FingerprintDb } from './database.js';

export interface WriteMessage {
  dbfile: string;
  db: FingerprintDb;
}

export interface WrittenMessage {
  /** Why the write failed (none: it succeeded). */
  error?: string;
  /** The ImgcmpError's code, when it was one. */
  code?: ImgcmpError['code'];
}

parentPort!.once('message', ({ dbfile, db }: WriteMessage) => {
  writeDb(dbfile, db).then(
    () => parentPort!.postMessage({} satisfies WrittenMessage),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err), code: err instanceof ImgcmpError ? err.code : undefined } satisfies WrittenMessage),
  );
});
