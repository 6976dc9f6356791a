import path from 'node:path';
import { Command, Option, type OptionValues } from 'commander';
import { METHODS } from '../../hash/methods.js';
import { SIMILARITY, findSettings, type Similarity } from '../../stages/find-settings.js';
import type { Messages } from '../messages.js';
import { chosenDecoder, cutFraction, decoderOption, hashSize } from '../settings.js';

interface CompareOptions {
  method: string;
  x: number;
  orientations: boolean;
  crops: boolean;
  borders: boolean;
  decoder?: string;
  dbfile?: string;
  similarity: Similarity;
  threshold?: number;
  json?: boolean;
}

/**
 * `imgcmp compare IMAGE1 IMAGE2`: the commander Command whose action hashes both images (no
 * database is needed) and prints their distance and whether they are the same picture, measured
 * as imgcmp find measures it (or as a given database's settings do). The action throws an
 * ImgcmpError when an image cannot be read or decoded.
 */
export function compareCommand(_messages: Messages): Command {
  return new Command('compare')
    .description('distance between two images, and whether they are the same picture, measured as imgcmp find measures it')
    .argument('<image1>')
    .argument('<image2>')
    .addOption(new Option('--method <name>', 'hash method').choices([...METHODS.keys()]).default('phash'))
    .option('-x <n>', 'hash size: x-by-x bits per view', hashSize, 16)
    .option('--no-orientations', 'upright only: rotated and mirrored copies count as different')
    .option('--no-crops', 'no central crop views')
    .option('--no-borders', 'no view of the picture inside a frame')
    .addOption(decoderOption())
    .option('-f, --dbfile <file>', "measure with this database's settings instead (method, x, views, decoder)")
    .addOption(new Option('-s, --similarity <preset>', 'the threshold as imgcmp find names it').choices(Object.keys(SIMILARITY)).default('default'))
    .option('--threshold <t>', 'same picture when the distance (a fraction of the bits) is at most T (overrides --similarity)', cutFraction)
    .option('--json', 'write the result as JSON to standard output')
    .addHelpText(
      'after',
      `
The distance is the one imgcmp find and cluster use: the smallest over the views
(rotations, mirror images, central crops, the picture inside a frame) of either
picture against the other upright, as a fraction of the bits.

JSON: {"image1", "image2", "method", "x", "orientations", "crops", "borders",
       "bits", "nbits", "distance", "threshold", "same"}

Examples:
  $ imgcmp compare a.jpg b.jpg
  $ imgcmp compare a.jpg rotated.jpg --json
  $ imgcmp compare a.jpg b.jpg -f ~/.imgcmp/fingerprints.hdf --threshold 0.15`,
    )
    .action(async (a: string, b: string, options: OptionValues) => {
      const opts = options as CompareOptions;
      const { runCompare } = await import('../../stages/compare.js');
      let settings;
      if (opts.dbfile) {
        const { readDb } = await import('../../db/database.js');
        settings = (await readDb(opts.dbfile)).settings;
        chosenDecoder(undefined, (await import('../../pixels/recipe.js')).decoderFor(settings.resample)); // refused if not built here
      } else {
        settings = { ...findSettings(chosenDecoder(opts.decoder), { x: opts.x, orientations: opts.orientations, crops: opts.crops, borders: opts.borders }), method: opts.method };
      }
      const threshold = opts.threshold ?? SIMILARITY[opts.similarity];
      const [image1, image2] = [path.resolve(a), path.resolve(b)];
      const r = await runCompare(image1, image2, settings, threshold);
      if (opts.json) {
        const { method, x, orientations, crops } = settings;
        process.stdout.write(
          `${JSON.stringify({ image1, image2, method, x, orientations, crops, borders: settings.borders === true, bits: r.bits, nbits: r.nbits, distance: r.distance, threshold, same: r.same })}\n`,
        );
      } else {
        process.stdout.write(`distance: ${r.bits} of ${r.nbits} bits (${r.distance.toFixed(4)}): ${r.same ? 'the same picture' : 'different pictures'} at threshold ${threshold}\n`);
      }
    });
}
