/**
 * find's settings: the similarity presets and the hash settings find fingerprints with. Apart
 * from stages/find.ts so that the command line can offer them without loading the stages
 * (sharp, the report, the clustering) that a command may never run.
 */
import { HASH_VERSION, type HashSettings } from '../hash/settings.js';
import { RECIPE, type JpegDecoderName } from '../pixels/recipe.js';

/**
 * The similarity presets, as cuts on find's 256-bit fingerprints (a fraction of the bits that may
 * differ between two copies of one picture). Chosen on the three accuracy benchmarks
 * (test/bench/accuracy-find.mjs; figures in the README): `default` found every copy of the
 * library and make-variants benchmarks with no false pair there.
 */
export const SIMILARITY = {
  /** 24 of 256 bits: fewer false matches, misses more strongly edited copies. */
  strict: 24 / 256,
  /** 32 of 256 bits. */
  default: 32 / 256,
  /** 40 of 256 bits: finds more edited copies, at more false matches among low-detail pictures. */
  loose: 40 / 256,
} as const;
export type Similarity = keyof typeof SIMILARITY;

/** The hash settings find uses unless told otherwise. */
export function findSettings(decoder: JpegDecoderName, tuning: Partial<Pick<HashSettings, 'x' | 'orientations' | 'crops' | 'borders'>> = {}): HashSettings {
  const x = tuning.x ?? 16;
  return {
    method: 'phash',
    x,
    orientations: tuning.orientations ?? true,
    crops: tuning.crops ?? true,
    borders: tuning.borders ?? true,
    // Candidates come from 64-bit fingerprints of the same views; no coarse set below 16 × 16.
    coarseX: x >= 16 ? 8 : 0,
    resample: RECIPE[decoder],
    hashVersion: HASH_VERSION,
  };
}
