/**
 * The picture formats that sharp's prebuilt libvips cannot read, and how imgcmp reads them:
 *   HEIC/HEIF  libheif in WebAssembly (heif.ts), in worker threads; upright by the file's own
 *              irot/imir; its thumbnail item when that is large enough for what is asked.
 *   RAW        the camera's largest embedded JPEG preview (raw.ts), turned by the RAW's
 *              Orientation tag.
 *   BMP        bmp.ts.
 * Each becomes a sharp pipeline (raw RGBA, or the preview JPEG), so that fingerprints, report
 * thumbnails and resized copies go on as for every other file. Chosen by the file's extension.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Sharp, SharpOptions } from 'sharp';
import { fsPath } from '../walk/fspath.js';
import { decodeBmp } from './bmp.js';
import { decodeTimeLimit, loadSharp, MAX_INPUT_PIXELS, regularFile, withTimeLimit } from './decode.js';
import { HeifPool, heifAvailable } from './heif.js';
import { applyOrientation } from './orientation.js';
import { rawPreview } from './raw.js';

export type SpecialFormat = 'heif' | 'raw' | 'bmp';

/** Extensions (lower case) of each format read here; AVIF goes through sharp. */
export const SPECIAL_EXTENSIONS: Record<SpecialFormat, readonly string[]> = {
  heif: ['heic', 'heif', 'hif'],
  raw: ['dng', 'cr2', 'cr3', 'nef', 'nrw', 'arw', 'raf', 'orf', 'rw2', 'pef', 'srw'],
  bmp: ['bmp', 'dib'],
};

const BY_EXTENSION = new Map<string, SpecialFormat>(
  (Object.entries(SPECIAL_EXTENSIONS) as [SpecialFormat, readonly string[]][]).flatMap(([format, exts]) => exts.map((e) => [e, format] as const)),
);

/** The format read here that a file's name says it is, or undefined for one sharp reads. */
export function specialFormat(file: string): SpecialFormat | undefined {
  return BY_EXTENSION.get(path.extname(file).slice(1).toLowerCase());
}

let pool: HeifPool | undefined;

/** The HEIF worker pool (started on first use). */
export function heifPool(): HeifPool {
  pool ??= new HeifPool(undefined, decodeTimeLimit());
  return pool;
}

/** What to hand sharp for a file of a special format, and the orientation still to apply (1: none). */
interface Decoded {
  input: Buffer;
  options: SharpOptions;
  orientation: number;
}

/**
 * Decodes `file` (of `format`) for sharp. `minSide`: the smallest square the caller will make of
 * it (a HEIF's thumbnail item of at least that size is decoded instead of its primary image).
 */
async function decodeFor(file: string, format: SpecialFormat, minSide: number): Promise<Decoded> {
  await regularFile(file); // a FIFO, socket or device could block or never end
  if (format === 'raw') {
    const { jpeg, orientation } = await rawPreview(file, decodeTimeLimit());
    return { input: jpeg, options: { autoOrient: false }, orientation };
  }
  const bytes = await fs.promises.readFile(fsPath(file));
  if (format === 'bmp') {
    const { width, height, rgba } = decodeBmp(bytes, MAX_INPUT_PIXELS);
    return { input: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.length), options: { raw: { width, height, channels: 4 } }, orientation: 1 };
  }
  if (!heifAvailable()) throw new Error('HEIF decoder missing: the npm package libheif-js is not installed (npm install)');
  const { width, height, rgba } = await heifPool().decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), minSide, MAX_INPUT_PIXELS);
  return { input: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.length), options: { raw: { width, height, channels: 4 } }, orientation: 1 };
}

/**
 * The side × side grey thumbnail of a special-format file, by the libvips-linear recipe of
 * decode.ts (white behind transparency, libvips' greyscale, its linear kernel), upright.
 */
export async function specialGreyThumbnail(file: string, format: SpecialFormat, side: number): Promise<ArrayLike<number>> {
  const d = await decodeFor(file, format, side);
  const sharp = await loadSharp();
  const { data, info } = await withTimeLimit(
    sharp(d.input, { ...d.options, failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS })
      .flatten({ background: '#ffffff' })
      .greyscale()
      .resize(side, side, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
  if (info.width !== side || info.height !== side || info.channels !== 1) {
    throw new Error(`decoder returned ${info.width}×${info.height}×${info.channels}, expected ${side}×${side}×1`);
  }
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return d.orientation > 1 ? applyOrientation({ width: side, height: side, pixels }, d.orientation).pixels : pixels;
}

/**
 * An upright sharp pipeline of a special-format file, for report thumbnails and resized copies
 * (`minSide`: the size it will be shrunk to, if it may come from a HEIF's thumbnail item).
 */
export async function specialSharp(file: string, format: SpecialFormat, minSide = 0): Promise<Sharp> {
  return (await specialUpright(file, format, minSide)).image;
}

/** As specialSharp, with the upright image's size. */
export async function specialUpright(file: string, format: SpecialFormat, minSide = 0): Promise<{ image: Sharp; width: number; height: number }> {
  const d = await decodeFor(file, format, minSide);
  const sharp = await loadSharp();
  const image = sharp(d.input, { ...d.options, failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS });
  const size = d.options.raw ?? (await withTimeLimit(image.metadata()));
  const turned = d.orientation >= 5;
  return { image: oriented(image, d.orientation), width: (turned ? size.height : size.width) ?? 0, height: (turned ? size.width : size.height) ?? 0 };
}

/** `image` turned upright from EXIF orientation `orientation`. */
function oriented(image: Sharp, orientation: number): Sharp {
  // EXIF orientation as sharp's operations (it mirrors first, then rotates; checked in the tests
  // against orientation.ts).
  switch (orientation) {
    case 2: return image.flop();
    case 3: return image.rotate(180);
    case 4: return image.flip();
    case 5: return image.rotate(270).flop();
    case 6: return image.rotate(90);
    case 7: return image.rotate(90).flop();
    case 8: return image.rotate(270);
    default: return image;
  }
}

/** The name of the JPEG copy that resize writes of a file in a format sharp cannot write: `name.heic.jpg`. */
export function jpegCopyName(target: string): string {
  return `${target}.jpg`;
}
