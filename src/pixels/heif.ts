/**
 * HEIC/HEIF files, decoded by libheif (the npm package libheif-js: libheif and libde265 built to
 * WebAssembly, LGPL-3.0), which sharp's prebuilt libvips cannot read (it has no HEVC decoder).
 *
 * The decode is synchronous WebAssembly, so it runs in worker threads (one per core, started on
 * first use), each with its own libheif: several files decode at once and the main thread stays
 * free. A decode past the time limit has its worker ended and replaced.
 *
 * What comes back is upright RGBA: libheif applies the file's own transforms (irot, imir, clap)
 * as it decodes, and that is all the orientation a HEIF has — its EXIF Orientation tag, which
 * cameras and phones still write beside irot, describes the coded image and must not be applied
 * again (as imgproxy#736 found). With `minSide`, a thumbnail image item of at least
 * minSide × minSide is decoded instead of the primary image (the smallest such one): phones store
 * one of about 320 px, a few times cheaper to decode than 12 megapixels.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { timeLimitReason } from './jpeg.js';

/** An upright decoded image, 4 bytes (RGBA) a pixel, row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8Array;
  /** Whether it is the file's thumbnail item rather than its primary image. */
  thumbnail: boolean;
}

/** The few libheif C functions used here, as Emscripten exports them (a struct heif_error is returned through a first pointer argument). */
interface Libheif {
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _heif_context_alloc(): number;
  _heif_context_free(ctx: number): void;
  _heif_context_read_from_memory_without_copy(err: number, ctx: number, mem: number, size: number, options: number): void;
  _heif_context_get_primary_image_handle(err: number, ctx: number, out: number): void;
  _heif_image_handle_release(h: number): void;
  _heif_image_handle_get_width(h: number): number;
  _heif_image_handle_get_height(h: number): number;
  _heif_image_handle_get_number_of_thumbnails(h: number): number;
  _heif_image_handle_get_list_of_thumbnail_IDs(h: number, ids: number, count: number): number;
  _heif_image_handle_get_thumbnail(err: number, h: number, id: number, out: number): void;
  _heif_decode_image(err: number, h: number, out: number, colorspace: number, chroma: number, options: number): void;
  _heif_image_release(img: number): void;
  _heif_image_get_width(img: number, channel: number): number;
  _heif_image_get_height(img: number, channel: number): number;
  _heif_image_get_plane_readonly(img: number, channel: number, stride: number): number;
}

const COLORSPACE_RGB = 1;
const CHROMA_INTERLEAVED_RGBA = 11;
const CHANNEL_INTERLEAVED = 10;

let loaded: Libheif | undefined;

/** libheif, loaded (synchronously, about 50 ms) on first use in this thread. */
function libheif(): Libheif {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const js = require.resolve('libheif-js/libheif-wasm/libheif.js');
    const factory = require(js) as (opts: { wasmBinary: Buffer }) => Libheif;
    loaded = factory({ wasmBinary: fs.readFileSync(js.replace(/\.js$/, '.wasm')) });
  }
  return loaded;
}

/** Whether libheif-js is installed (it is a dependency; this guards a broken installation). */
export function heifAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('libheif-js/libheif-wasm/libheif.js');
    return true;
  } catch {
    return false;
  }
}

/**
 * Decodes HEIF `bytes` in this thread: the smallest thumbnail item of at least minSide on both
 * sides when there is one (minSide > 0), else the primary image; upright. Throws with libheif's
 * reason, or when the image declares more than `maxPixels` pixels.
 */
export function decodeHeifBytes(bytes: Uint8Array, minSide: number, maxPixels: number): RgbaImage {
  const lib = libheif();
  const scratch = lib._malloc(64); // heif_error at +0 (code, subcode, message), out pointers at +16, +20
  const errAt = scratch;
  const outAt = scratch + 16;
  const mem = lib._malloc(bytes.length);
  const ctx = lib._heif_context_alloc();
  const handles: number[] = [];
  let img = 0;
  const check = (what: string): void => {
    const code = lib.HEAP32[errAt >> 2]!;
    if (code === 0) return;
    const msgPtr = lib.HEAP32[(errAt >> 2) + 2]!;
    let end = msgPtr;
    const heap = lib.HEAPU8;
    while (msgPtr && heap[end] !== 0 && end - msgPtr < 500) end++;
    const message = msgPtr ? Buffer.from(heap.subarray(msgPtr, end)).toString('utf8') : `error ${code}`;
    throw new Error(`HEIF ${what}: ${message}`);
  };
  try {
    if (!mem || !ctx) throw new Error('HEIF: out of memory');
    lib.HEAPU8.set(bytes, mem);
    lib._heif_context_read_from_memory_without_copy(errAt, ctx, mem, bytes.length, 0);
    check('file');
    lib._heif_context_get_primary_image_handle(errAt, ctx, outAt);
    check('primary image');
    const primary = lib.HEAP32[outAt >> 2]!;
    handles.push(primary);
    let chosen = primary;
    let thumbnail = false;
    const n = minSide > 0 ? lib._heif_image_handle_get_number_of_thumbnails(primary) : 0;
    if (n > 0) {
      const ids = lib._malloc(4 * n);
      try {
        const got = lib._heif_image_handle_get_list_of_thumbnail_IDs(primary, ids, n);
        let best = 0;
        for (let k = 0; k < got; k++) {
          lib._heif_image_handle_get_thumbnail(errAt, primary, lib.HEAP32[(ids >> 2) + k]!, outAt);
          if (lib.HEAP32[errAt >> 2] !== 0) continue; // a broken thumbnail: the primary image will do
          const t = lib.HEAP32[outAt >> 2]!;
          handles.push(t);
          const w = lib._heif_image_handle_get_width(t);
          const h = lib._heif_image_handle_get_height(t);
          if (w >= minSide && h >= minSide && (!best || w * h < lib._heif_image_handle_get_width(best) * lib._heif_image_handle_get_height(best))) best = t;
        }
        if (best) {
          chosen = best;
          thumbnail = true;
        }
      } finally {
        lib._free(ids);
      }
    }
    const declared = lib._heif_image_handle_get_width(chosen) * lib._heif_image_handle_get_height(chosen);
    if (declared > maxPixels) throw new Error(`image declares ${declared} pixels, more than the limit of ${maxPixels}`);
    lib._heif_decode_image(errAt, chosen, outAt, COLORSPACE_RGB, CHROMA_INTERLEAVED_RGBA, 0);
    check('decoding');
    img = lib.HEAP32[outAt >> 2]!;
    const width = lib._heif_image_get_width(img, CHANNEL_INTERLEAVED);
    const height = lib._heif_image_get_height(img, CHANNEL_INTERLEAVED);
    const plane = lib._heif_image_get_plane_readonly(img, CHANNEL_INTERLEAVED, outAt);
    const stride = lib.HEAP32[outAt >> 2]!;
    if (!plane || width <= 0 || height <= 0) throw new Error('HEIF decoding: no RGBA plane');
    const rgba = new Uint8Array(width * height * 4);
    const heap = lib.HEAPU8;
    if (stride === width * 4) rgba.set(heap.subarray(plane, plane + rgba.length));
    else for (let y = 0; y < height; y++) rgba.set(heap.subarray(plane + y * stride, plane + y * stride + width * 4), y * width * 4);
    return { width, height, rgba, thumbnail };
  } finally {
    if (img) lib._heif_image_release(img);
    for (const h of handles) lib._heif_image_handle_release(h);
    if (ctx) lib._heif_context_free(ctx);
    lib._free(mem);
    lib._free(scratch);
  }
}

/** A request to a worker, and its answer. */
export interface HeifRequest {
  id: number;
  bytes: Uint8Array;
  minSide: number;
  maxPixels: number;
}
export type HeifAnswer = { id: number; ok: true; image: RgbaImage } | { id: number; ok: false; reason: string };

interface Job {
  request: HeifRequest;
  resolve: (image: RgbaImage) => void;
  reject: (err: Error) => void;
}

/** One worker thread and the job it is on. */
interface Slot {
  worker: Worker;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Worker threads decoding HEIF files, one job each at a time; jobs wait in order. Idle workers
 * do not keep the process alive.
 */
export class HeifPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private next = 0;

  constructor(
    private readonly size = Math.max(1, os.availableParallelism()),
    private readonly timeLimitMs = 60_000,
  ) {}

  decode(bytes: Uint8Array, minSide: number, maxPixels: number): Promise<RgbaImage> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { id: ++this.next, bytes, minSide, maxPixels }, resolve, reject });
      this.pump();
    });
  }

  /** Ends every worker (for tests and benchmarks; a CLI run just exits). */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.timer = setTimeout(() => this.fail(slot, new Error(timeLimitReason(this.timeLimitMs)), true), this.timeLimitMs);
      const bytes = job.request.bytes;
      // The file's bytes are handed over, not copied, when they own their whole buffer.
      const transfer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [];
      slot.worker.postMessage(job.request, transfer);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./heif-worker.js', import.meta.url));
    const slot: Slot = { worker, job: undefined, timer: undefined };
    worker.unref();
    worker.on('message', (answer: HeifAnswer) => {
      const job = slot.job;
      if (!job || job.request.id !== answer.id) return;
      this.settle(slot);
      if (answer.ok) job.resolve(answer.image);
      else job.reject(new Error(answer.reason));
      this.pump();
    });
    worker.on('error', (err) => this.fail(slot, err instanceof Error ? err : new Error(String(err)), false));
    worker.on('exit', () => this.fail(slot, new Error('the HEIF decoder stopped'), false));
    this.slots.push(slot);
    return slot;
  }

  private settle(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
    slot.worker.unref();
  }

  /** The slot's job fails with `err`; the worker is dropped (and ended, if `end`). */
  private fail(slot: Slot, err: Error, end: boolean): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    this.slots.splice(at, 1);
    const job = slot.job;
    this.settle(slot);
    if (end) void slot.worker.terminate();
    job?.reject(err);
    this.pump();
  }
}
