/**
 * writeDb on a thread of its own, so that the calling thread goes on meanwhile: an index's
 * checkpoint at a million entries is about 15 s of HDF5 work (packing and writing 1.7 GiB), which
 * on the server's own thread stopped every request for as long.
 */
import { Worker } from 'node:worker_threads';
import { ImgcmpError } from '../util/errors.js';
import type { FingerprintDb } from './database.js';
import type { WriteMessage, WrittenMessage } from './write-worker.js';

/**
 * Writes `db` to `dbfile` as writeDb does (the same bytes), on a worker thread. The database's
 * arrays are handed to the thread, not copied: `db` is not to be used afterwards (its typed arrays
 * are emptied).
 */
export function writeDbApart(dbfile: string, db: FingerprintDb): Promise<void> {
  const buffers = new Set<ArrayBuffer>();
  for (const array of [db.fps.data, db.views?.data, db.coarse?.data, db.flat, db.size, db.mtime]) {
    if (array && array.buffer instanceof ArrayBuffer) buffers.add(array.buffer);
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./write-worker.js', import.meta.url));
    let answered = false;
    worker.once('message', (m: WrittenMessage) => {
      answered = true;
      if (m.error === undefined) resolve();
      else reject(m.code ? new ImgcmpError(m.code, m.error) : new Error(m.error));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the database's writing thread stopped (exit ${code})`));
    });
    worker.postMessage({ dbfile, db } satisfies WriteMessage, [...buffers]);
  });
}
