/**
 * JPEG files decoded by the native helper (native/jpeg-grey.c): straight to a grey thumbnail,
 * decoded at the smallest DCT scale that still covers it, with no per-call cost but the decode.
 *
 * One helper process per core, each serving requests in order over a pipe; requests go to the
 * helper with the fewest outstanding. The helpers run in their own process group, so a Ctrl-C
 * at the terminal reaches only imgcmp, which finishes the images in flight; they exit when their
 * input closes, as it does when imgcmp exits or is killed.
 *
 * The thumbnails themselves come through a file that each helper shares with imgcmp (in
 * /dev/shm where there is one: memory): imgcmp creates it exclusively under a fresh name, unlinks
 * it at once (nothing is left behind, whatever happens) and hands the open file to the helper,
 * which writes each thumbnail at the slot its request names; imgcmp reads it with one system
 * call. Through the pipe, a 128 KiB thumbnail cost imgcmp's main thread three reads, their
 * buffers, a copy and the stream's events — more than hashing one of its views.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ImgcmpError } from '../util/errors.js';

/** The reason given for a decode that ran past its time limit (as decode.ts says it). */
export function timeLimitReason(ms: number): string {
  return `decoding took longer than ${ms / 1000} s (IMGCMP_DECODE_TIMEOUT sets the limit)`;
}

/** Where `npm run build` puts the helper (src/pixels/native/build.mjs). */
export const HELPER_PATH = fileURLToPath(new URL('../../native/imgcmp-jpeg-grey', import.meta.url));

/** A file's size and modification time as fs.Stats has them (mtimeMs computed as Node does). */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/**
 * A JPEG's square thumbnail as stored (not yet upright), with the EXIF orientation that turns it
 * upright and the stats of the file the helper read (it opens it without blocking and decodes
 * only a regular file); or the helper's reason to leave the file to sharp.
 */
export type JpegReply =
  | { ok: true; thumbnail: Float64Array; words?: Uint32Array; orientation: number; width: number; height: number; stamp: FileStamp; release: () => void }
  | { ok: false; reason: string; status?: number };
const NO_THUMBNAIL = new Float64Array(0);

/**
 * The bits of a JPEG's views as the helper computed them (JpegDecoder.viewBits: native/
 * view-bits.c), with the stats of the file it read; or its reason to leave the file to sharp,
 * or (`noRecipe`) to imgcmp's own hashing of its thumbnail.
 */
export type JpegBitsReply =
  | { ok: true; flat: boolean; words: Uint32Array; stamp: FileStamp }
  | { ok: false; reason: string; noRecipe: boolean };

const STATUS_OK = 0;
/** A hash request the helper could not answer (no recipe, or another source side): ask for the thumbnail instead. */
const STATUS_NO_HASH = 3;
/** A request's side with this bit set asks for the views' bits instead of the thumbnail. */
export const HASH_REQUEST = 0x80000000;
/** The side field of a setup message: the hash recipe that the hash requests after it use. */
const SETUP_REQUEST = 0xffffffff;
/**
 * A reply's head: status, width, height, orientation, length (u32 each), the file's size (u64),
 * modification time (i64 seconds, u32 nanoseconds), and where the body is (u32: 0 following in
 * the pipe, 1 in the shared file at the request's slot).
 */
export const HEADER_BYTES = 44;
/** The shared file holds a thumbnail of at most this many bytes per slot (a side of 362 pixels). */
export const SLOT_BYTES = 1 << 20;
/** A request's slot when its reply is to come through the pipe. */
export const NO_SLOT = 0xffffffff;

/**
 * A request to the helper, as its protocol has it: u32 path length, u32 thumbnail side, u32 slot
 * of the shared file for the thumbnail (NO_SLOT: through the pipe), the path.
 */
export function helperRequest(file: Buffer, side: number, slot = NO_SLOT): Buffer {
  const request = Buffer.allocUnsafe(12 + file.length);
  request.writeUInt32LE(file.length, 0);
  request.writeUInt32LE(side >>> 0, 4);
  request.writeUInt32LE(slot, 8);
  file.copy(request, 12);
  return request;
}

/** A setup message: the hash recipe (hash/native-spec.ts) for the hash requests that follow it. */
export function helperSetup(spec: Float64Array): Buffer {
  return helperRequest(Buffer.from(spec.buffer, spec.byteOffset, spec.byteLength), SETUP_REQUEST, 0);
}

interface Pending {
  file: Buffer;
  side: number;
  /** Whether the run that asked is stopping: then a request still waiting is dropped. */
  stopped?: () => boolean;
  resolve: (reply: JpegReply) => void;
  reject: (err: Error) => void;
  /** The shared file's slot of this request on the helper it was sent to, or NO_SLOT. */
  slot?: number;
  /** For the bits of the views instead of the thumbnail: the recipe's setup message (helperSetup). */
  recipe?: Buffer;
}

/**
 * A file for a helper's thumbnails: created exclusively (never a file that was there, never
 * through a link), readable by imgcmp alone, unlinked at once. Undefined where none can be made:
 * replies then come through the pipe.
 */
function sharedFile(): number | undefined {
  const dir = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const name = path.join(dir, `.imgcmp-jpeg-${process.pid}-${crypto.randomBytes(8).toString('hex')}`);
  try {
    const fd = fs.openSync(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    fs.unlinkSync(name);
    return fd;
  } catch {
    return undefined;
  }
}

/** One helper process and the requests it has been sent, oldest first. */
class Helper {
  readonly pending: Pending[] = [];
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private chunks: Buffer[] = [];
  private readonly head = Buffer.alloc(HEADER_BYTES);
  /** The file shared with this helper for thumbnails, and its slots not in use. */
  private readonly shared = sharedFile();
  private readonly freeSlots: number[] = [];
  private slots = 0;
  /** The recipe last sent to this helper (a setup message), which its hash requests use. */
  private recipe: Buffer | undefined;
  private buffered = 0;
  private gone = false;
  private timer: NodeJS.Timeout | undefined;
  /** The next turn of handing over replies, when more were buffered than TAKE_AT_ONCE. */
  private later: NodeJS.Immediate | undefined;
  /** Why this helper was stopped by imgcmp (a request ran past the time limit), if it was. */
  stoppedFor: string | undefined;

  constructor(
    maxPixels: number,
    private readonly timeLimit: number,
    onGone: (helper: Helper, orphans: Pending[], why: string) => void,
    /** Called for each reply read, before it is handed over: the decoder sends this helper more work. */
    private readonly onReply: () => void,
    /** A buffer of `length` bytes for a thumbnail, and how it is given back (see JpegDecoder.buffer). */
    private readonly buffer: (length: number) => Buffer,
    private readonly giveBack: (body: Buffer) => void,
  ) {
    const shared = this.shared;
    this.child =
      shared === undefined
        ? spawn(HELPER_PATH, [String(maxPixels)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true })
        : (spawn(HELPER_PATH, [String(maxPixels), '3'], { stdio: ['pipe', 'pipe', 'inherit', shared], detached: true }) as unknown as ChildProcessByStdio<Writable, Readable, null>);
    this.child.stdout.on('data', (chunk: Buffer) => this.take(chunk));
    // Writes to a helper that died fail with EPIPE; its exit below settles the requests.
    this.child.stdin.on('error', () => undefined);
    const leave = (why: string): void => {
      if (this.gone) return;
      // The replies that came before it went are handed over first (their thumbnails read from
      // the shared file while it is open): only the requests left are orphans.
      clearImmediate(this.later);
      this.replies(true);
      this.gone = true;
      clearTimeout(this.timer);
      if (shared !== undefined) fs.closeSync(shared);
      onGone(this, this.pending.splice(0), why);
    };
    this.child.on('error', (err) => leave(err.message));
    this.child.on('exit', (code, signal) => leave(signal ? `stopped by ${signal}` : `exited with status ${String(code)}`));
    this.idle();
  }

  send(p: Pending): void {
    // A slot of the shared file for the thumbnail, where it fits one (errors come by the pipe;
    // so do the views' bits, 1.5 KiB under find's settings).
    p.slot = !p.recipe && this.shared !== undefined && p.side > 0 && p.side * p.side * 8 <= SLOT_BYTES ? (this.freeSlots.pop() ?? this.slots++) : NO_SLOT;
    if (this.pending.push(p) === 1) {
      this.busy();
      this.arm();
    }
    if (p.recipe && p.recipe !== this.recipe) {
      this.child.stdin.write(p.recipe);
      this.recipe = p.recipe;
    }
    this.child.stdin.write(helperRequest(p.file, p.recipe ? (p.side | HASH_REQUEST) >>> 0 : p.side, p.slot));
  }

  /**
   * Times the request being decoded now (the oldest): past the limit, the helper is killed, that
   * request fails with the reason and the ones queued behind it go to a fresh helper.
   */
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    this.timer = setTimeout(() => {
      this.stoppedFor = timeLimitReason(this.timeLimit);
      this.child.kill('SIGKILL');
    }, this.timeLimit);
  }

  /**
   * Replies arrive in chunks: a head, and the body where it did not go to the shared file (a
   * reason; a thumbnail where no file could be shared, 128 KiB at 128 pixels, in two or three
   * chunks). Each reply's body is copied once, when complete, straight into its own buffer.
   */
  private take(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.replies();
  }

  /**
   * Hands over the replies buffered, TAKE_AT_ONCE of them (`all`: every one): what their readers
   * do next (hash the thumbnail, give its buffer back) runs before the next ones are handed
   * over, after the event loop's turn. A helper sent far ahead may have a hundred replies
   * waiting; handed over at once, each would hold its thumbnail's buffer until all were hashed.
   */
  private replies(all = false): void {
    const head = this.head;
    let taken = 0;
    while (this.buffered >= HEADER_BYTES) {
      if (!all && taken++ === TAKE_AT_ONCE) {
        this.later ??= setImmediate(() => {
          this.later = undefined;
          this.replies();
        });
        return;
      }
      this.copyOut(head, false);
      const length = head.readUInt32LE(16);
      const inShared = head.readUInt32LE(40) === 1;
      if (!inShared && this.buffered < HEADER_BYTES + length) return;
      this.copyOut(head, true);
      const p = this.pending.shift();
      // Its own buffer (a Float64Array needs an 8-byte-aligned one), not zeroed first: every
      // byte is copied in next. One in the shared file is no larger than a slot.
      let unread = inShared && length > SLOT_BYTES;
      const body = this.buffer(unread ? 0 : length);
      let released = false;
      if (!inShared) this.copyOut(body, true);
      else if (!unread && !this.readShared(body, p?.slot)) unread = true;
      if (p?.slot !== undefined && p.slot !== NO_SLOT) this.freeSlots.push(p.slot);
      const status = head.readUInt32LE(0);
      const reply: JpegReply =
        unread
          ? { ok: false, reason: 'the JPEG decoder\'s thumbnail could not be read back' }
          : status !== STATUS_OK
          ? { ok: false, reason: body.toString('utf8'), status }
          : length % (p?.recipe ? 4 : 8)
            ? { ok: false, reason: 'the JPEG decoder sent a malformed reply' }
            : {
                ok: true,
                // the views' bits (a hash request), copied out: the buffer is given back at once
                ...(p?.recipe ? { thumbnail: NO_THUMBNAIL, words: Uint32Array.from(new Uint32Array(body.buffer, body.byteOffset, length / 4)) } : { thumbnail: new Float64Array(body.buffer, body.byteOffset, length / 8) }),
                orientation: head.readUInt32LE(12),
                // the size it was decoded at (before the EXIF orientation): its aspect is the file's
                width: head.readUInt32LE(4),
                height: head.readUInt32LE(8),
                // as Node's fs.Stats computes them (lib/internal/fs/utils.js: msFromTimeSpec)
                stamp: { size: Number(head.readBigUInt64LE(20)), mtimeMs: Number(head.readBigInt64LE(28)) * 1e3 + head.readUInt32LE(36) / 1e6 },
                // once: a buffer given back twice would be handed to two thumbnails at once
                release: () => {
                  if (!released) this.giveBack(body);
                  released = true;
                },
              };
      if (reply.ok && reply.words) reply.release();
      this.arm();
      // More work for this helper before the reply is handed over: what the reply's reader does
      // next (hashing, in imgcmp's one thread) then overlaps the helper's next decode.
      this.onReply();
      if (!this.pending.length) this.idle();
      p?.resolve(reply);
    }
  }

  /** Reads a thumbnail that the helper wrote to the shared file at `slot` into `to`; whether it could. */
  private readShared(to: Uint8Array, slot: number | undefined): boolean {
    // After the helper is gone its file is closed (and the number may be another file's by now).
    if (this.gone || this.shared === undefined || slot === undefined || slot === NO_SLOT || to.length > SLOT_BYTES) return false;
    try {
      return fs.readSync(this.shared, to, 0, to.length, slot * SLOT_BYTES) === to.length;
    } catch {
      return false;
    }
  }

  /** Copies the first `to.length` bytes buffered into `to`; with `consume`, drops them. */
  private copyOut(to: Uint8Array, consume: boolean): void {
    let done = 0;
    let i = 0;
    while (done < to.length) {
      const c = this.chunks[i]!;
      const n = Math.min(c.length, to.length - done);
      to.set(n === c.length ? c : c.subarray(0, n), done);
      done += n;
      if (!consume) i++;
      else if (n === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(n);
    }
    if (consume) this.buffered -= to.length;
  }

  // While a helper has no work, it must not keep imgcmp running; while it has, it must.
  private busy(): void {
    this.child.ref();
    (this.child.stdout as Readable & { ref(): void }).ref();
  }

  private idle(): void {
    this.child.unref();
    (this.child.stdout as Readable & { unref(): void }).unref();
  }
}

let built: boolean | undefined;

/**
 * Requests sent to one helper ahead of its replies, at most. The helpers decode ahead of
 * imgcmp's thread, which hashes what they decoded: a folder has runs of small JPEGs (fast to
 * decode, as slow as any to hash: imgcmp's thread is then the slower) and runs of large ones
 * (the helpers are then the slower), hundreds of files long in make-variants. Sent far enough
 * ahead, the helpers are still decoding the next large ones while imgcmp's thread works through
 * the small ones, and both cores stay busy; with 16 (and 4 in flight before that), a tenth
 * of the cores' time in such a run was idle. Their thumbnails wait in the shared file
 * (HELPER_BYTES bounds that); a request sent cannot move to another helper (END_DEPTH).
 */
export const HELPER_DEPTH = 128;
/** Bytes of thumbnails one helper may hold decoded ahead: the depth for large thumbnails is less. */
const HELPER_BYTES = 16 << 20;
/**
 * The depth a helper is kept at while few requests wait: at most a fair share of them, at
 * least this many. As the queue runs out at the end of a run the helpers hold a few requests
 * each, not HELPER_DEPTH, and finish together.
 */
const END_DEPTH = 4;
/** Replies handed over in one turn of the event loop at most (Helper.replies). */
const TAKE_AT_ONCE = 8;
/** Bytes of thumbnails' buffers kept for reuse at most (see JpegDecoder.buffer): 64 of find's. */
const SPARE_BYTES = 8 << 20;

/**
 * The helper processes of this run. Requests wait in order in one queue, and go to the helper
 * with the fewest outstanding as long as it has fewer than HELPER_DEPTH (END_DEPTH as the queue
 * runs out): every helper has work queued for the whole run, and none has much more than
 * another at its end.
 */
export class JpegDecoder {
  private readonly helpers: Helper[] = [];
  private readonly queue: Pending[] = [];
  /**
   * Buffers of thumbnails given back (JpegReply.release), for the next replies of the same
   * size: a fresh 128 KiB buffer per JPEG is memory that glibc maps and the kernel clears for
   * each one, and that V8 then counts as external memory, collecting garbage for it.
   */
  private readonly spare: Buffer[] = [];
  private spareBytes = 0;

  constructor(
    private readonly maxPixels: number,
    /** The time one decode may take (ms), after which its helper is killed. */
    private readonly timeLimit = 60_000,
    private readonly processes = os.availableParallelism(),
  ) {}

  /** Whether the helper was built (a C compiler and libjpeg's headers were there at install). */
  static available(): boolean {
    if (built === undefined) {
      try {
        fs.accessSync(HELPER_PATH, fs.constants.X_OK);
        built = true;
      } catch {
        built = false;
      }
    }
    return built;
  }

  /**
   * The side × side grey thumbnail of the JPEG file at `file` (its path's bytes). The reply's
   * `release()` gives its thumbnail's buffer back for reuse: its caller then no longer reads it.
   * Once `stopped()` says so, a request not yet sent to a helper fails with an ImgcmpError of
   * code 'stopped' instead.
   */
  decode(file: Buffer, side: number, stopped?: () => boolean): Promise<JpegReply> {
    return new Promise((resolve, reject) => {
      this.queue.push({ file, side, stopped, resolve, reject });
      this.pump();
    });
  }

  /**
   * The bits of the views of the JPEG file at `file`, decoded to a side × side source and hashed
   * by the helper under `recipe` (helperSetup of hash/native-spec.ts's nativeViewSpec, one
   * Buffer per recipe: it is sent to each helper once); stopping as decode does.
   */
  async viewBits(file: Buffer, side: number, recipe: Buffer, stopped?: () => boolean): Promise<JpegBitsReply> {
    const reply = await new Promise<JpegReply>((resolve, reject) => {
      this.queue.push({ file, side, stopped, resolve, reject, recipe });
      this.pump();
    });
    if (!reply.ok) return { ok: false, reason: reply.reason, noRecipe: reply.status === STATUS_NO_HASH };
    const words = reply.words ?? new Uint32Array(0);
    if (!words.length) return { ok: false, reason: 'the JPEG decoder sent no bits', noRecipe: true };
    return { ok: true, flat: (words[0]! & 1) === 1, words: words.subarray(1), stamp: reply.stamp };
  }

  /** Starts the helper processes now (their start overlaps the caller's work until the first decode). */
  start(): void {
    while (this.helpers.length < this.processes) this.spawn();
  }

  private spawn(): Helper {
    const helper = new Helper(
      this.maxPixels,
      this.timeLimit,
      (gone, orphans, why) => this.lost(gone, orphans, why),
      () => this.pump(),
      (length) => this.buffer(length),
      (body) => this.giveBack(body),
    );
    this.helpers.push(helper);
    return helper;
  }

  /** Sends queued requests to the helpers with room for them, starting helpers up to `processes`. */
  private pump(): void {
    while (this.queue.length) {
      // A request of a run that is stopping is not sent (it would hold the run up): it fails
      // with code 'stopped', which is no failure of its file.
      if (this.queue[0]!.stopped?.()) {
        this.queue.shift()!.reject(new ImgcmpError('stopped', 'not decoded: the run is stopping'));
        continue;
      }
      let helper = this.helpers.reduce<Helper | undefined>((best, h) => (!best || h.pending.length < best.pending.length ? h : best), undefined);
      if (!helper || (helper.pending.length > 0 && this.helpers.length < this.processes)) helper = this.spawn();
      const side = this.queue[0]!.side;
      const most = Math.max(END_DEPTH, Math.min(HELPER_DEPTH, Math.floor(HELPER_BYTES / (8 * side * side))));
      const depth = Math.min(most, Math.max(END_DEPTH, Math.ceil(this.queue.length / this.processes)));
      if (helper.pending.length >= depth) return;
      helper.send(this.queue.shift()!);
    }
  }

  private giveBack(body: Buffer): void {
    if (body.length && this.spareBytes + body.length <= SPARE_BYTES) {
      this.spare.push(body);
      this.spareBytes += body.length;
    }
  }

  /** A buffer of `length` bytes, not zeroed: one given back, or a fresh one (8-byte aligned for a Float64Array). */
  private buffer(length: number): Buffer {
    const i = this.spare.findIndex((b) => b.length === length);
    if (i < 0) return Buffer.allocUnsafeSlow(length);
    const body = this.spare[i]!;
    this.spare[i] = this.spare[this.spare.length - 1]!;
    this.spare.pop();
    this.spareBytes -= body.length;
    return body;
  }

  /**
   * A helper died. The request it was decoding fails (a file that crashes the decoder is
   * reported, never retried in a loop); the ones queued behind it go to a fresh helper. A helper
   * that could not even start fails every request: the fault is the installation's, not a file's.
   */
  private lost(gone: Helper, orphans: Pending[], why: string): void {
    this.helpers.splice(this.helpers.indexOf(gone), 1);
    const [current, ...queued] = orphans;
    if (!current) {
      this.pump();
      return;
    }
    if (gone.stoppedFor) {
      current.reject(new Error(gone.stoppedFor));
      this.queue.unshift(...queued);
      this.pump();
      return;
    }
    const started = !/ENOENT|EACCES|spawn/.test(why);
    current.reject(new Error(`the JPEG decoder ${started ? 'crashed' : 'could not start'} (${why})`));
    if (started) this.queue.unshift(...queued);
    else for (const p of queued) p.reject(new Error(`the JPEG decoder could not start (${why})`));
    this.pump();
  }
}
