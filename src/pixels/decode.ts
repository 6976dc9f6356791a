/**
 * Pixels in: the one place where image files are decoded for hashing. A file becomes an upright
 * (EXIF orientation applied), alpha-flattened-onto-white, greyscale thumbnail of exactly the
 * requested size, from one decode, by one of the recipes of recipe.ts.
 */
import fs from 'node:fs';
import type SharpModule from 'sharp';
import { fsPath, hasEscapes, toBytes } from '../walk/fspath.js';
import { JpegDecoder, timeLimitReason, type FileStamp } from './jpeg.js';
import { decoderMissing, type JpegDecoderName } from './recipe.js';
import { applyOrientation } from './orientation.js';
import { aspectOf, specialFormat, specialGreySource } from './formats.js';

let sharpLoaded: Promise<typeof SharpModule> | undefined;
/**
 * sharp, loaded on first use (a run of JPEGs for the native decoder never needs it). One libvips
 * thread per image: throughput comes from several images in flight on libuv's pool, not from
 * splitting one small thumbnail across threads. The operation cache only costs memory here:
 * every file is seen once.
 */
export function loadSharp(): Promise<typeof SharpModule> {
  sharpLoaded ??= import('sharp').then(({ default: sharp }) => {
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return sharpLoaded;
}

/**
 * The time one decoder call may take (ms): a generous 60 s, or IMGCMP_DECODE_TIMEOUT seconds.
 * A file that takes longer is reported as such, so that one pathological file cannot stall a run.
 */
export function decodeTimeLimit(): number {
  const s = Number(process.env.IMGCMP_DECODE_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

/**
 * `work`, or a rejection once it has taken `ms` (the work itself is left to finish: libvips cannot
 * be stopped, and its result is dropped).
 */
export function withTimeLimit<T>(work: Promise<T>, ms = decodeTimeLimit()): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(timeLimitReason(ms))), ms);
  });
  // Measured as well as timed: a decode that ends while the event loop was busy past the limit
  // is over it all the same, whichever callback runs first.
  const t0 = Date.now();
  const timed = work.then((value) => {
    if (Date.now() - t0 > ms) throw new Error(timeLimitReason(ms));
    return value;
  });
  return Promise.race([timed, late]).finally(() => clearTimeout(timer));
}

/** The kind of a file that is no regular file, in words. */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Why a file of these stats is not decoded, or undefined for a regular file. */
export function notRegular(st: fs.Stats): string | undefined {
  return st.isFile() ? undefined : `not a regular file (${kindOf(st)}); only regular files are read`;
}

/**
 * The stats of `path`, which must be a regular file: stat'ed first (a FIFO, socket or device is
 * refused without being opened), then opened without blocking and fstat'ed, so that a file
 * swapped for a FIFO in between cannot block either. Decoders read only files that pass.
 *
 * Synchronous calls, though the function is async for its callers: each is one short system
 * call, and the promise API's file handles cost ten times their CPU time (0.15 ms a file, a
 * sixth of what imgcmp itself spends on a JPEG under find's settings). Errors come as rejections.
 */
export async function regularFile(path: string): Promise<fs.Stats> {
  const p = fsPath(path);
  const why = notRegular(fs.statSync(p));
  if (why) throw new Error(why);
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    const again = notRegular(st);
    if (again) throw new Error(again);
    return st;
  } finally {
    fs.closeSync(fd);
  }
}

/** Images declaring more pixels than this are refused before decoding (decompression bombs). */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

/**
 * The reason a decoder failed, in the file system's words where it is the file system's doing:
 * libvips calls an unreadable file or a directory an "unsupported image format". Asked only
 * after a failure, so a successful decode pays nothing for it.
 */
export async function explainFailure(path: string, err: unknown): Promise<never> {
  await fs.promises.access(fsPath(path), fs.constants.R_OK);
  if ((await fs.promises.stat(fsPath(path))).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  throw err;
}

/**
 * What sharp should open for a path: the path itself, or — for a name that is not valid UTF-8,
 * which sharp cannot take as a file name — the file's bytes.
 */
export async function sharpSource(path: string): Promise<string | Buffer> {
  return hasEscapes(path) ? fs.promises.readFile(toBytes(path)) : path;
}

let helpers: JpegDecoder | undefined;

/** The native JPEG decoder's helpers, started on first use. */
function jpegHelpers(): JpegDecoder {
  helpers ??= new JpegDecoder(MAX_INPUT_PIXELS, decodeTimeLimit());
  return helpers;
}

/**
 * Starts the native JPEG decoder's processes now, where it is built, for a run that is about to
 * decode JPEGs with it: they start while the caller lists the files, not after.
 */
export function startJpegHelpers(): void {
  if (!decoderMissing('libjpeg')) jpegHelpers().start();
}

/**
 * Decodes `path` into a side × side grey thumbnail, row-major (the aspect ratio not kept, as
 * imgcmp does), by the recipe of `decoder` (see recipe.ts).
 */
export async function greyThumbnail(path: string, side: number, decoder: JpegDecoderName = 'sharp'): Promise<ArrayLike<number>> {
  return (await greySource(path, side, decoder, false)).pixels;
}

/**
 * As greyThumbnail, with the aspect (width / height) of the upright picture, which the square
 * thumbnail does not keep; `withAspect` false: 1 (and no header read for it). A caller that is
 * done with `pixels` may call `release` (where there is one) to have their buffer reused.
 * `stopped`: whether the caller's run is stopping; a JPEG still waiting for the native decoder
 * then fails with an ImgcmpError of code 'stopped' (see JpegDecoder.decode).
 *
 * `unchecked`: the caller has not made sure that `path` is a regular file (regularFile). Then
 * it is checked here before it is read — by the native helper for the JPEGs it decodes (it opens
 * the file without blocking and reads only a regular file), by regularFile otherwise — and the
 * result carries the stats of the file read (`stamp`).
 */
export async function greySource(
  path: string,
  side: number,
  decoder: JpegDecoderName = 'sharp',
  withAspect = true,
  unchecked = false,
  stopped?: () => boolean,
): Promise<{ pixels: ArrayLike<number>; aspect: number; stamp?: FileStamp; release?: () => void }> {
  // HEIC/HEIF, camera RAW and BMP, which sharp cannot read: see formats.ts.
  const special = specialFormat(path);
  const check = async (): Promise<FileStamp | undefined> => (unchecked ? stampOf(await regularFile(path)) : undefined);
  if (special) {
    const stamp = await check();
    return { ...(await specialGreySource(path, special, side).catch((err: unknown) => explainFailure(path, err))), stamp };
  }
  if (decoder === 'libjpeg') {
    const missing = decoderMissing(decoder);
    if (missing) throw new Error(missing);
    const reply = await jpegHelpers().decode(hasEscapes(path) ? toBytes(path) : Buffer.from(path), side, stopped);
    if (reply.ok) {
      const { pixels } = applyOrientation({ width: side, height: side, pixels: reply.thumbnail }, reply.orientation);
      // Turned upright into a new array, the helper's buffer is no longer read.
      const turned = pixels !== reply.thumbnail;
      if (turned) reply.release();
      return { pixels, aspect: aspectOf(reply.width, reply.height, reply.orientation), stamp: reply.stamp, release: turned ? undefined : reply.release };
    }
  }
  // A file the helper declined (not a regular one among them) is checked before sharp opens it.
  const stamp = await check();
  return { ...(await sharpThumbnail(path, side, withAspect)), stamp };
}

/**
 * The bits of the views of the JPEG at `path`, hashed by the native helper under `recipe`
 * (JpegDecoder.viewBits), as a greySource of `side` pixels would have them hashed; or why not:
 * `undefined` for a file it leaves to imgcmp's own hashing (a special format, a recipe the
 * helper cannot take), `sharp` for one it declined as greySource's helper would (the caller then
 * takes sharp's source, whose stats come from regularFile).
 */
export async function jpegViewBits(
  path: string,
  side: number,
  recipe: Buffer,
  stopped?: () => boolean,
): Promise<{ flat: boolean; words: Uint32Array; stamp: FileStamp } | 'sharp' | undefined> {
  if (specialFormat(path) || decoderMissing('libjpeg')) return undefined;
  const reply = await jpegHelpers().viewBits(hasEscapes(path) ? toBytes(path) : Buffer.from(path), side, recipe, stopped);
  if (reply.ok) return reply;
  return reply.noRecipe ? undefined : 'sharp';
}

/** The size and modification time of `st`. */
function stampOf(st: fs.Stats): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs };
}

/** The libvips-linear recipe: one sharp pipeline, with JPEG shrink-on-load. */
async function sharpThumbnail(path: string, side: number, withAspect: boolean): Promise<{ pixels: Uint8Array; aspect: number }> {
  const sharp = await loadSharp();
  const image = sharp(await sharpSource(path).catch((err: unknown) => explainFailure(path, err)), {
    autoOrient: true,
    failOn: 'error',
    limitInputPixels: MAX_INPUT_PIXELS,
    sequentialRead: true,
  });
  // The stored size and EXIF orientation, from the header (autoOrient turns the pixels, not the metadata).
  const meta = withAspect ? await withTimeLimit(image.metadata()).catch((err: unknown) => explainFailure(path, err)) : undefined;
  const { data, info } = await withTimeLimit(image
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(side, side, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true }))
    .catch((err: unknown) => explainFailure(path, err));
  if (info.width !== side || info.height !== side || info.channels !== 1) {
    throw new Error(`decoder returned ${info.width}×${info.height}×${info.channels}, expected ${side}×${side}×1`);
  }
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), aspect: meta ? aspectOf(meta.width, meta.height, meta.orientation) : 1 };
}
