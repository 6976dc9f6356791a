/**
 * One image file → its fingerprint record: decoded once to the method's thumbnail (or the larger
 * square that crop views are cut from), then hashed in every view the settings ask for.
 */
import { wordsFor } from '../hash/bits.js';
import { methodNamed } from '../hash/methods.js';
import { nativeViewSpec, nativeViewsFit } from '../hash/native-spec.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewFingerprints } from '../hash/view-fingerprints.js';
import { cropSourceSide, needsSource, viewsPerFile } from '../hash/views.js';
import { fileError } from '../util/errors.js';
import { greySource, jpegViewBits } from './decode.js';
import { helperSetup, type FileStamp } from './jpeg.js';
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
  const decoder = decoderFor(settings.resample);
  // A JPEG for the native helper, under settings it hashes (find's): the bits of its views
  // computed there, the same as viewFingerprints gives (test/native-view-bits.test.ts).
  const recipe = decoder === 'libjpeg' ? nativeRecipe(settings) : undefined;
  let viaSharp = false;
  if (recipe) {
    const native = await jpegViewBits(file, decoded, recipe, stopped);
    if (native === 'sharp') viaSharp = true;
    else if (native) return recordOf(file, settings, native.words, native.flat, native.stamp);
  }
  // The aspect only where views are turned (it costs sharp a header read).
  // Only a regular file is decoded: a FIFO, socket or device could block or never end. greySource
  // checks (the native helper opens the file without blocking, and sends its stats with the
  // pixels: checking here too would cost the same system calls twice for every JPEG).
  const { pixels, aspect, stamp, release } = await greySource(file, decoded, viaSharp ? 'sharp' : decoder, settings.edits === true, true, stopped);
  const { bits, flat, views, coarse } = viewFingerprints(pixels, decoded, settings, aspect);
  release?.(); // the bits hold nothing of the pixels' buffer: the next thumbnail may reuse it
  const record: FingerprintRecord = { file, bits, flat, size: stamp!.size, mtime: stamp!.mtimeMs };
  if (views) record.views = views;
  if (coarse) record.coarse = coarse;
  return record;
}

/**
 * The helper's setup message of each recipe (undefined where it does not take the settings), made
 * once per distinct settings: one Buffer, which each helper is sent once. By the settings object
 * first (a run passes the same one for every file), else by what decides the bits.
 */
const recipes = new Map<string, Buffer | undefined>();
const recipeOf = new WeakMap<HashSettings, Buffer | undefined>();
function nativeRecipe(settings: HashSettings): Buffer | undefined {
  if (recipeOf.has(settings)) return recipeOf.get(settings);
  const key = JSON.stringify([settings.method, settings.x, settings.orientations, settings.crops, settings.borders === true, settings.edits === true, settings.coarseX ?? 0]);
  if (!recipes.has(key)) recipes.set(key, nativeViewsFit(settings) ? helperSetup(nativeViewSpec(settings)) : undefined);
  recipeOf.set(settings, recipes.get(key));
  return recipes.get(key);
}

/** A record from the words of every view and of every coarse view, one after the other, as the helper sends them. */
function recordOf(file: string, settings: HashSettings, words: Uint32Array, flat: boolean, stamp: FileStamp): FingerprintRecord {
  const w = wordsFor(settings.x * settings.x);
  const k = viewsPerFile(settings);
  const cw = settings.coarseX ? wordsFor(settings.coarseX * settings.coarseX) : 0;
  if (words.length !== k * (w + cw)) throw new Error(`the JPEG decoder sent ${words.length} words of bits, expected ${k * (w + cw)}`);
  const record: FingerprintRecord = { file, bits: words.slice(0, w), flat, size: stamp.size, mtime: stamp.mtimeMs };
  if (k > 1) record.views = words.slice(0, k * w);
  if (cw) record.coarse = words.slice(k * w);
  return record;
}

/** As fingerprintFile, failing with an ImgcmpError that names the file and the reason. */
export async function fingerprintNamedFile(file: string, settings: HashSettings): Promise<FingerprintRecord> {
  return fingerprintFile(file, settings).catch((err: unknown) => {
    throw fileError(file, err);
  });
}
