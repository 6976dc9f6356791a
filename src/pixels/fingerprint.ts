/**
 * One image file → its fingerprint record: decoded once to the method's thumbnail (or the larger
 * square that crop views are cut from), then hashed in every view the settings ask for.
 */
import { methodNamed } from '../hash/methods.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewFingerprints } from '../hash/view-fingerprints.js';
import { cropSourceSide, needsSource } from '../hash/views.js';
import { fileError } from '../util/errors.js';
import { greySource } from './decode.js';
import { decoderFor } from './recipe.js';

/**
 * The fingerprint record of one image file under `settings`: the size and modification time
 * recorded are those of the file as it is read, which must be a regular file.
 * Throws what the file system or the decoder throws (callers name the file; see fileError); once
 * `stopped()` says so, an ImgcmpError of code 'stopped' for a JPEG not yet decoded.
 */
export async function fingerprintFile(
  file: string,
  settings: HashSettings,
  stopped?: () => boolean,
): Promise<FingerprintRecord> {
  const method = methodNamed(settings.method);
  const side = method.side(settings.x);
  // One decode: the method's thumbnail, or a larger square that the crop and frame views (and the
  // coarse fingerprints, from the same square) are cut from.
  const decoded = needsSource(settings) || settings.coarseX ? cropSourceSide(side) : side;
  // The aspect only where views are turned (it costs sharp a header read).
  // Only a regular file is decoded: a FIFO, socket or device could block or never end. greySource
  // checks (the native helper opens the file without blocking, and sends its stats with the
  // pixels: checking here too would cost the same system calls twice for every JPEG).
  const { pixels, aspect, stamp, release } = await greySource(file, decoded, decoderFor(settings.resample), settings.edits === true, true, stopped);
  const { bits, flat, views, coarse } = viewFingerprints(pixels, decoded, settings, aspect);
  release?.(); // the bits hold nothing of the pixels' buffer: the next thumbnail may reuse it
  const record: FingerprintRecord = { file, bits, flat, size: stamp!.size, mtime: stamp!.mtimeMs };
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
