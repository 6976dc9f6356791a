/**
 * One image file → its fingerprint record: decoded once to the method's thumbnail (or the larger
 * square that crop views are cut from), then hashed in every view the settings ask for.
 */
import fs from 'node:fs';
import { methodNamed } from '../hash/methods.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewFingerprints } from '../hash/view-fingerprints.js';
import { cropSourceSide, needsSource } from '../hash/views.js';
import { fileError } from '../util/errors.js';
import { greyThumbnail, regularFile } from './decode.js';
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
  const pixels = await greyThumbnail(file, decoded, decoderFor(settings.resample));
  const { bits, flat, views, coarse } = viewFingerprints(pixels, decoded, settings);
  const record: FingerprintRecord = { file, bits, flat, size: st.size, mtime: st.mtimeMs };
  if (views) record.views = views;
  if (coarse) record.coarse = coarse;
  return record;
}

/** As fingerprintFile, failing with an ImgcmpError that names the file and the reason. */
export async function fingerprintNamedFile(file: string, settings: HashSettings): Promise<FingerprintRecord> {
  return fingerprintFile(file, settings).catch((err: unknown) => {
    throw fileError(file, err);
  });
}
