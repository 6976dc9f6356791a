/**
 * The second thread of a linear scan (see scan.ts): takes its range of rows from workerData,
 * answers on the port it was given, and always raises the `done` flag that the first thread
 * waits on — also when something went wrong, so that the first thread never waits in vain.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import type { ScanTask } from './scan.js';

interface Job {
  data: SharedArrayBuffer;
  count: number;
  nbits: number;
  words: number;
  task: ScanTask;
  done: SharedArrayBuffer;
  port: MessagePort;
}

const job = workerData as Job;
const done = new Int32Array(job.done);
try {
  const { scanPairsRange, scanMaxRange } = await import('./scan.js');
  const fps = { count: job.count, nbits: job.nbits, words: job.words, data: new Uint32Array(job.data) };
  const { task } = job;
  if (task.kind === 'pairs') {
    const p = scanPairsRange(fps, task.cutBits!, task.i0, task.i1);
    job.port.postMessage({ result: { a: p.a.slice(), b: p.b.slice(), bits: p.bits.slice(), length: p.length } });
  } else {
    job.port.postMessage({ result: scanMaxRange(fps, task.i0, task.i1) });
  }
} catch (err) {
  job.port.postMessage({ error: err instanceof Error ? err.message : String(err) });
} finally {
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}
