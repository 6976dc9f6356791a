/** A worker thread of HeifPool (heif.ts): decodes the HEIF files it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { decodeHeifBytes, type HeifAnswer, type HeifRequest } from './heif.js';

let lastError: unknown;

parentPort!.on('message', (request: HeifRequest) => {
  let answer: HeifAnswer;
  lastError = undefined;
  try {
    answer = { id: request.id, ok: true, image: decodeHeifBytes(request.bytes, request.minSide, request.maxPixels) };
  } catch (err) {
    lastError = err;
    answer = { id: request.id, ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(answer, answer.ok ? [answer.image.rgba.buffer as ArrayBuffer] : []);
  // WebAssembly that trapped (a bad file libheif did not catch) may have left its memory in any
  // state: this worker ends, and the pool starts a fresh one for the next file.
  if (!answer.ok && (lastError as Error | undefined)?.constructor?.name === 'RuntimeError') process.exit(1);
});
