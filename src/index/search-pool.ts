/**
 * Worker threads that probe the sorted parts of a LivePictures' tables (index/live.ts), so that
 * searches run on every core instead of the one thread that owns the entries: the sorted parts
 * lie on shared memory (coarse-tables.ts, made with `shared`), each thread is handed them once
 * per remake, and a query costs a message each way (its coarse views; the slots proposed). The
 * owner keeps the entries, the added parts and the decision on every candidate, so the threads
 * never read anything that changes.
 *
 * Queries wait in one queue, first come first served, and a thread is handed the next as it
 * answers one, holding at most IN_FLIGHT at a time: under many concurrent searches a query does
 * not wait behind the queue of one thread while another runs dry, which is what sets the slowest
 * searches' time (the latency tail) when every thread has a queue of its own.
 */
import { Worker } from 'node:worker_threads';
import type { AnswerMessage, QueryMessage, TablesMessage } from './search-worker.js';

/** Queries a thread holds at a time: its next one already sent while it answers one. */
const IN_FLIGHT = 2;

type Entry = { worker: Worker; pending: number };

export class SearchPool {
  private readonly workers: Entry[] = [];
  /** Queries not yet handed to a thread, oldest first. */
  private readonly queued: QueryMessage[] = [];
  private readonly waiting = new Map<number, { resolve: (slots: Int32Array) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  /** Why the pool stopped (a thread failed): searches then run on the owner's thread. */
  broken?: string;
  private closed = false;

  constructor(threads: number) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./search-worker.js', import.meta.url));
      const entry = { worker, pending: 0 };
      worker.on('message', (answer: AnswerMessage) => {
        const next = this.queued.shift();
        if (next) worker.postMessage(next);
        else if (--entry.pending === 0) worker.unref();
        const waiter = this.waiting.get(answer.id);
        this.waiting.delete(answer.id);
        if (!waiter) return;
        if (answer.slots) waiter.resolve(answer.slots);
        else waiter.reject(new Error(`search thread: ${answer.error}`));
      });
      worker.on('error', (error) => this.fail(`search thread: ${error.message}`));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(`search thread exited with ${code}`);
      });
      // An idle thread never keeps a process alive: a program that is done exits (unref after the
      // listeners, which would keep it again). One with a query keeps it until it answers.
      worker.unref();
      this.workers.push(entry);
    }
  }

  private fail(why: string): void {
    this.broken ??= why;
    for (const { reject } of this.waiting.values()) reject(new Error(why));
    this.waiting.clear();
    this.queued.length = 0;
  }

  /** Hands every thread the sorted parts of a remake (shared memory: no copy). */
  setTables(tables: Omit<TablesMessage, 'type'>): void {
    for (const { worker } of this.workers) worker.postMessage({ type: 'tables', ...tables } satisfies TablesMessage);
  }

  /** The slots the sorted parts propose for a query's coarse views within `radius`, `penalty` bits for the views (coarseCandidates): from the least busy thread, or from the first to be free. */
  candidates(coarse: Uint32Array, radius: number, penalty: number): Promise<Int32Array> {
    if (this.broken) return Promise.reject(new Error(this.broken));
    let entry = this.workers[0]!;
    for (const w of this.workers) if (w.pending < entry.pending) entry = w;
    const id = this.nextId++;
    const message: QueryMessage = { type: 'query', id, coarse, radius, penalty };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (entry.pending >= IN_FLIGHT) {
        this.queued.push(message);
        return;
      }
      if (entry.pending++ === 0) entry.worker.ref();
      entry.worker.postMessage(message);
    });
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    this.closed = true;
    this.fail('the index was closed');
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }
}

