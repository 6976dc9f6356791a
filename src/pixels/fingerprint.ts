/**
 * One image file → its fingerprint record: decoded once to the method's thumbnail (or the larger
 * square that crop views are cut from), then hashed in every view the settings ask for.
 */
import fs from 'node:fs';
import { packBits, wordsFor } from '../hash/bits.js';
import { isFlat, methodNamed } from '../hash/methods.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { cropSourceSide, viewBits } from '../hash/views.js';
import { fileError } from '../util/errors.js';
import { fsPath } from '../walk/fspath.js';
import { greyThumbnail } from './decode.js';
import { decoderFor } from './recipe.js';

/**
 * The fingerprint record of one image file under `settings` (`stat`: the file's, if known).
 * Throws what the file system or the decoder throws (callers name the file; see fileError).
 */
export async function fingerprintFile(
  file: string,
  settings: HashSettings,
  stat?: fs.Stats,
): Promise<FingerprintRecord> {
  const st = stat ?? (await fs.promises.stat(fsPath(file)));
  const method = methodNamed(settings.method);
  const side = method.side(settings.x);
  // One decode: the method's thumbnail, or a larger square that the crop views are cut from.
  const decoded = settings.crops ? cropSourceSide(side) : side;
  const pixels = await greyThumbnail(file, decoded, decoderFor(settings.resample));
  const { views, whole } = viewBits(method, pixels, settings.x, settings);
  const words = wordsFor(settings.x * settings.x);
  const record: FingerprintRecord = { file, bits: packBits(views[0]!), flat: isFlat(whole, views[0]!), size: st.size, mtime: st.mtimeMs };
  if (views.length > 1) {
    record.views = new Uint32Array(views.length * words);
    views.forEach((bits, v) => record.views!.set(packBits(bits), v * words));
  }
  return record;
}

/** As fingerprintFile, failing with an ImgcmpError that names the file and the reason. */
export async function fingerprintNamedFile(file: string, settings: HashSettings): Promise<FingerprintRecord> {
  return fingerprintFile(file, settings).catch((err: unknown) => {
    throw fileError(file, err);
  });
}
