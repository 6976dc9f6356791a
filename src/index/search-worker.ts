/**
 * A search thread of index/search-pool.ts: it holds the sorted parts of a LivePictures' tables
 * (on shared memory: the owner's arrays, not copies) and answers queries with the slots those
 * parts propose (coarseCandidates over the sorted parts; the owner probes the added parts and
 * decides every candidate). Messages are handled in order, so a query sent after new tables is
 * answered from them.
 */
import { parentPort } from 'node:worker_threads';
import { coarseCandidates, nextMark, SortedOnly, type SortedParts } from './coarse-tables.js';

export interface TablesMessage {
  type: 'tables';
  perFile: number;
  /** Slots the stamps must cover. */
  slots: number;
  views: SortedParts;
  uprights: SortedParts;
  strips: SortedParts[];
}

export interface QueryMessage {
  type: 'query';
  id: number;
  /** The query's K coarse views. */
  coarse: Uint32Array;
  radius: number;
  /** The view penalty in coarse bits (coarseCandidates). */
  penalty: number;
}

export interface AnswerMessage {
  id: number;
  slots?: Int32Array;
  error?: string;
}

let tables: { perFile: number; views: SortedOnly; uprights: SortedOnly; strips: SortedOnly[] } | undefined;
let stamps = new Uint32Array(0);
let mark = 0;
const NO_DATA = new Uint32Array(0);

parentPort!.on('message', (message: TablesMessage | QueryMessage) => {
  if (message.type === 'tables') {
    tables = {
      perFile: message.perFile,
      views: new SortedOnly(message.views),
      uprights: new SortedOnly(message.uprights),
      strips: message.strips.map((parts) => new SortedOnly(parts)),
    };
    if (stamps.length < message.slots) {
      stamps = new Uint32Array(message.slots);
      mark = 0;
    }
    return;
  }
  let answer: AnswerMessage;
  try {
    if (!tables) throw new Error('a query before any tables');
    mark = nextMark(stamps, mark);
    const slots: number[] = [];
    coarseCandidates(tables.views, tables.uprights, tables.strips, message.coarse, tables.perFile, message.radius, NO_DATA, { stamps, mark, slots }, 'sorted', message.penalty);
    answer = { id: message.id, slots: Int32Array.from(slots) };
  } catch (error) {
    answer = { id: message.id, error: String(error) };
  }
  parentPort!.postMessage(answer, answer.slots ? [answer.slots.buffer as ArrayBuffer] : []);
});
