/**
 * find's settings: the similarity presets and the hash settings find fingerprints with. Apart
 * from stages/find.ts so that the command line can offer them without loading the stages
 * (sharp, the report, the clustering) that a command may never run.
 */
import { HASH_VERSION, type HashSettings } from '../hash/settings.js';
import { RECIPE, type JpegDecoderName } from '../pixels/recipe.js';

/**
 * The similarity presets, as cuts on find's 256-bit fingerprints (a fraction of the bits that may
 * differ between two copies of one picture). A match through any view but the upright whole
 * picture (another orientation, a crop, a frame, a turn, a strip) counts 6 bits more
 * (hash/views.ts, VIEW_PENALTY), so the default lets two upright whole pictures differ by 38 bits
 * and other views by 32. Chosen on the three accuracy benchmarks (test/bench/accuracy-find.mjs,
 * test/bench/pair-views.mjs; figures in the README): `default` found every copy of the library
 * and make-variants benchmarks with no false pair there nor on the negative pool.
 */
export const SIMILARITY = {
  /** 30 of 256 bits (other views 24): fewer false matches, misses more strongly edited copies. */
  strict: 30 / 256,
  /** 38 of 256 bits (other views 32). */
  default: 38 / 256,
  /** 46 of 256 bits (other views 40): finds more edited copies, at more false matches among low-detail pictures. */
  loose: 46 / 256,
} as const;
export type Similarity = keyof typeof SIMILARITY;

/** The hash settings find uses unless told otherwise. */
export function findSettings(decoder: JpegDecoderName, tuning: Partial<Pick<HashSettings, 'x' | 'orientations' | 'crops' | 'borders' | 'edits'>> = {}): HashSettings {
  const x = tuning.x ?? 16;
  return {
    method: 'phash',
    x,
    orientations: tuning.orientations ?? true,
    crops: tuning.crops ?? true,
    borders: tuning.borders ?? true,
    // Small turns, banners and captions, symmetric frames; low-detail pictures upright only.
    edits: tuning.edits ?? true,
    // Candidates come from 64-bit fingerprints of the same views; no coarse set below 16 × 16.
    coarseX: x >= 16 ? 8 : 0,
    resample: RECIPE[decoder],
    hashVersion: HASH_VERSION,
  };
}
