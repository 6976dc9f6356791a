/**
 * Pixels in: the one place where image files are decoded for hashing. A file becomes an upright
 * (EXIF orientation applied), alpha-flattened-onto-white, greyscale thumbnail of exactly the
 * requested size, from one decode, by one of the recipes of recipe.ts.
 */
import fs from 'node:fs';
import type SharpModule from 'sharp';
import { fsPath, hasEscapes, toBytes } from '../walk/fspath.js';
import { JpegDecoder } from './jpeg.js';
import { decoderMissing, type JpegDecoderName } from './recipe.js';
import { applyOrientation } from './orientation.js';

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

/**
 * Decodes `path` into a side × side grey thumbnail, row-major (the aspect ratio not kept, as
 * imgcmp does), by the recipe of `decoder` (see recipe.ts).
 */
export async function greyThumbnail(path: string, side: number, decoder: JpegDecoderName = 'sharp'): Promise<ArrayLike<number>> {
  if (decoder === 'libjpeg') {
    const missing = decoderMissing(decoder);
    if (missing) throw new Error(missing);
    helpers ??= new JpegDecoder(MAX_INPUT_PIXELS);
    const reply = await helpers.decode(hasEscapes(path) ? toBytes(path) : Buffer.from(path), side);
    if (reply.ok) return applyOrientation({ width: side, height: side, pixels: reply.thumbnail }, reply.orientation).pixels;
  }
  return sharpThumbnail(path, side);
}

/** The libvips-linear recipe: one sharp pipeline, with JPEG shrink-on-load. */
async function sharpThumbnail(path: string, side: number): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(await sharpSource(path).catch((err: unknown) => explainFailure(path, err)), {
    autoOrient: true,
    failOn: 'error',
    limitInputPixels: MAX_INPUT_PIXELS,
    sequentialRead: true,
  })
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(side, side, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => explainFailure(path, err));
  if (info.width !== side || info.height !== side || info.channels !== 1) {
    throw new Error(`decoder returned ${info.width}×${info.height}×${info.channels}, expected ${side}×${side}×1`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}
