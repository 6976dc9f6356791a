/**
 * What every index does the same way whatever stores its entries (an HDF5 file, api/index.ts;
 * PostgreSQL, api/postgres.ts): hashing an image given as a path or as bytes, and measuring two
 * pictures as imgcmp compare measures them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dbFromRecords } from '../db/records.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { coarseCutBits, cutBits } from '../index/cut.js';
import { distancesToQuery, type StoredPictures } from '../index/views.js';
import { fingerprintFile } from '../pixels/fingerprint.js';
import { reasonOf } from '../util/errors.js';
import { IndexError } from './errors.js';

/** Where temporary copies of image bytes go while they are hashed. */
let scratch: string | undefined;
function scratchDir(): string {
  scratch ??= fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-api-'));
  return scratch;
}
process.once('exit', () => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/**
 * A file name extension for image bytes, for the decoders that go by the name (HEIC/HEIF, camera
 * RAW, BMP), from the magic numbers of their containers; sharp finds its own formats (AVIF too).
 */
function extensionOf(bytes: Uint8Array): string {
  const ascii = (from: number, to: number): string => Buffer.from(bytes.subarray(from, to)).toString('latin1');
  if (bytes.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    const size = Math.min(bytes.length, Buffer.from(bytes.subarray(0, 4)).readUInt32BE(0), 64);
    const compatible = Array.from({ length: Math.max(0, (size - 16) >> 2) }, (_, k) => ascii(16 + 4 * k, 20 + 4 * k));
    // AVIF (AV1 in HEIF, often branded mif1) is sharp's.
    if (brand === 'avif' || brand === 'avis' || (brand === 'mif1' && compatible.includes('avif') && !compatible.includes('heic'))) return '.img';
    if (/^(heic|heix|heim|heis|hevc|hevx|mif1|msf1)$/.test(brand)) return '.heic';
    if (brand === 'crx ') return '.cr3';
    return '.img';
  }
  if (bytes.length >= 8 && ascii(0, 8) === 'FUJIFILM') return '.raf';
  if (bytes.length >= 4 && /^(IIRO|MMOR|IIRS)$/.test(ascii(0, 4))) return '.orf';
  if (bytes.length >= 4 && ascii(0, 4) === 'IIU\0') return '.rw2';
  // Other TIFF-based RAWs (DNG, NEF, ARW, PEF, …) look like any TIFF and go to sharp, which reads
  // their IFD0 (a small thumbnail in a DNG); CR2 says what it is at byte 8. Pass a path for those.
  if (bytes.length >= 10 && (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') && ascii(8, 10) === 'CR') return '.cr2';
  if (bytes.length >= 2 && ascii(0, 2) === 'BM') return '.bmp';
  return '.img';
}

let scratchCount = 0;

/** The fingerprint record of an image (a path or its bytes) with `settings`. `name` names it in errors. */
export async function fingerprintImage(settings: HashSettings, source: string | Uint8Array, name = typeof source === 'string' ? source : 'image'): Promise<FingerprintRecord> {
  if (typeof source === 'string') {
    try {
      return await fingerprintFile(source, settings);
    } catch (err) {
      throw new IndexError('not-image', `${name}: ${reasonOf(err)}`, { cause: err });
    }
  }
  if (!(source instanceof Uint8Array)) throw new IndexError('invalid', 'an image is a path or a Buffer');
  if (!source.length) throw new IndexError('not-image', `${name}: empty`);
  const file = path.join(scratchDir(), `${process.pid}-${++scratchCount}${extensionOf(source)}`);
  try {
    // Written here, not on libuv's threads: those may all be decoding (sharp) while this image's
    // decoder waits for its file; the write into the page cache takes a fraction of a millisecond.
    fs.writeFileSync(file, source, { mode: 0o600, flag: 'wx' });
    return await fingerprintFile(file, settings);
  } catch (err) {
    throw new IndexError('not-image', `${name}: ${reasonOf(err).replace(file, 'image')}`, { cause: err });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The distance of two pictures as imgcmp compare measures it, and whether find at `cut` calls them the same. */
export function comparePictures(settings: HashSettings, ra: FingerprintRecord, rb: FingerprintRecord, cut: number): { distance: number; score: number; bits: number; nbits: number; same: boolean } {
  const pair = dbFromRecords(settings, [{ ...rb, file: 'b' }]);
  const stored: StoredPictures = { upright: pair.fps, views: pair.views, coarse: pair.coarse, perFile: viewsPerFile(settings), selfViews: selfViewsPerFile(settings), viewPenalty: viewPenaltyOf(settings) };
  const nbits = pair.fps.nbits;
  const [d] = distancesToQuery(stored, { upright: ra.bits, views: ra.views, coarse: ra.coarse }, nbits);
  const bits = d!.bits;
  const coarseWithin = pair.coarse ? Math.floor(coarseCutBits(cut, pair.coarse.nbits)) : Infinity;
  const same = distancesToQuery(stored, { upright: ra.bits, views: ra.views, coarse: ra.coarse }, Math.floor(cutBits(cut, nbits)), coarseWithin).length > 0;
  const distance = bits / nbits;
  return { distance, score: (1 - distance) * 100, bits, nbits, same };
}
