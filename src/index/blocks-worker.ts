/**
 * The second thread of a key search (see blocks.ts): takes its share of the view rows from
 * workerData, answers on the port it was given, and always raises the `done` flag that the
 * first thread waits on — also when something went wrong, so that the first thread never waits
 * in vain.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import type { BlockTask, SharedRows } from './blocks.js';

interface Shared extends SharedRows {
  count: number;
  nbits: number;
  words: number;
}

interface Job {
  upright: Shared;
  views: Shared;
  task: BlockTask;
  done: SharedArrayBuffer;
  port: MessagePort;
}

const job = workerData as Job;
const done = new Int32Array(job.done);
try {
  const { blockPairsRange } = await import('./blocks.js');
  const rows = (s: Shared) => ({ count: s.count, nbits: s.nbits, words: s.words, data: new Uint32Array(s.data, s.offset, s.count * s.words) });
  const found = blockPairsRange(rows(job.upright), rows(job.views), job.task);
  const a = found.a.slice();
  const b = found.b.slice();
  job.port.postMessage({ result: { a, b, length: found.length } }, [a.buffer, b.buffer]);
} catch (err) {
  job.port.postMessage({ error: err instanceof Error ? err.message : String(err) });
} finally {
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}
