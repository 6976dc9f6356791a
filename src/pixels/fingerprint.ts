/**
 * One image file → its fingerprint record: decoded once to the method's thumbnail (or the larger
 * square that crop views are cut from), then hashed in every view the settings ask for.
 */
import fs from 'node:fs';
import { packBits, wordsFor } from '../hash/bits.js';
import { isFlat, methodNamed } from '../hash/methods.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { detailResidual, LOW_DETAIL } from '../hash/detail.js';
import { cropSourceSide, halvedThumbnails, hashViews, lowDetailViews, needsSource, viewThumbnails } from '../hash/views.js';
import { fileError } from '../util/errors.js';
import { greySource, regularFile } from './decode.js';
import { decoderFor } from './recipe.js';

/**
 * The fingerprint record of one image file under `settings` (`_stat`: the file's as the caller saw
 * it; the file is stat'ed again as it is opened, and must be a regular file).
 * Throws what the file system or the decoder throws (callers name the file; see fileError).
 */
export async function fingerprintFile(
  file: string,
  settings: HashSettings,
  _stat?: fs.Stats,
): Promise<FingerprintRecord> {
  // Only a regular file is decoded: a FIFO, socket or device could block or never end.
  const st = await regularFile(file);
  const method = methodNamed(settings.method);
  const side = method.side(settings.x);
  // One decode: the method's thumbnail, or a larger square that the crop and frame views (and the
  // coarse fingerprints, from the same square) are cut from.
  const decoded = needsSource(settings) || settings.coarseX ? cropSourceSide(side) : side;
  // The aspect only where views are turned (it costs sharp a header read).
  const { pixels, aspect } = await greySource(file, decoded, decoderFor(settings.resample), settings.edits === true);
  const thumbs = viewThumbnails(pixels, decoded, side, settings, aspect);
  // With edit views, a picture of low detail is matched upright and whole only (hash/detail.ts).
  const lowDetail = settings.edits === true && detailResidual(thumbs[0]!, side) < LOW_DETAIL;
  const hashed = hashViews(method, thumbs, settings.x, settings);
  const views = lowDetail ? lowDetailViews(hashed) : hashed;
  const record: FingerprintRecord = { file, bits: packBits(views[0]!), flat: isFlat(thumbs[0]!, views[0]!), size: st.size, mtime: st.mtimeMs };
  if (views.length > 1) record.views = packViews(views, settings.x);
  if (settings.coarseX) {
    // The coarse thumbnails are the views' at half the side where that is their size (find's x =
    // 16 and 8 for phash), else cut from the source again.
    const coarseSide = method.side(settings.coarseX);
    const coarseThumbs = 2 * coarseSide === side && needsSource(settings) ? halvedThumbnails(thumbs, side) : viewThumbnails(pixels, decoded, coarseSide, settings, aspect);
    const coarse = hashViews(method, coarseThumbs, settings.coarseX, settings);
    record.coarse = packViews(lowDetail ? lowDetailViews(coarse) : coarse, settings.coarseX);
  }
  return record;
}

/** K views of x² bits each, packed one after the other. */
function packViews(views: readonly Uint8Array[], x: number): Uint32Array {
  const words = wordsFor(x * x);
  const out = new Uint32Array(views.length * words);
  views.forEach((bits, v) => out.set(packBits(bits), v * words));
  return out;
}

/** As fingerprintFile, failing with an ImgcmpError that names the file and the reason. */
export async function fingerprintNamedFile(file: string, settings: HashSettings): Promise<FingerprintRecord> {
  return fingerprintFile(file, settings).catch((err: unknown) => {
    throw fileError(file, err);
  });
}
