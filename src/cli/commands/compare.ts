import path from 'node:path';
import { Command, Option } from 'commander';
import { HASH_VERSION, type HashSettings } from '../../db/database.js';
import { METHODS } from '../../hash/methods.js';
import { RECIPE } from '../../pixels/recipe.js';
import { chosenDecoder, decoderOption, hashSize, similarity } from '../options.js';

/** The cut below which `compare` calls two pictures the same: the recommended cluster cut. */
const DEFAULT_THRESHOLD = 0.15;

export function compareCommand(): Command {
  return new Command('compare')
    .description('distance between two images, and whether they are the same picture (no database)')
    .argument('<image1>')
    .argument('<image2>')
    .addOption(new Option('--method <name>', 'hash method').choices([...METHODS.keys()]).default('phash'))
    .option('-x <n>', 'hash size: x-by-x bits', hashSize, 8)
    .option('--orientations', 'the smallest distance over rotations and mirror images')
    .option('--crops', 'the smallest distance over central crops (90 %, 80 %) too')
    .option('--threshold <t>', 'same picture when the distance (a fraction of the bits) is at most T', similarity, DEFAULT_THRESHOLD)
    .addOption(decoderOption())
    .option('--json', 'write the result as JSON to standard output')
    .addHelpText(
      'after',
      `
JSON: {"image1", "image2", "method", "x", "orientations", "bits", "nbits",
       "distance", "threshold", "same"}

Examples:
  $ imgcmp compare a.jpg b.jpg
  $ imgcmp compare a.jpg rotated.jpg --orientations --json`,
    )
    .action(async (a: string, b: string, opts: { method: string; x: number; orientations?: boolean; crops?: boolean; threshold: number; json?: boolean; decoder?: string }) => {
      const { compareFiles } = await import('../../stages/search.js');
      const settings: HashSettings = { method: opts.method, x: opts.x, orientations: !!opts.orientations, crops: !!opts.crops, resample: RECIPE[chosenDecoder(opts.decoder)], hashVersion: HASH_VERSION };
      const [image1, image2] = [path.resolve(a), path.resolve(b)];
      const r = await compareFiles(image1, image2, settings);
      const same = r.distance <= opts.threshold + 1e-12;
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ image1, image2, method: opts.method, x: opts.x, orientations: settings.orientations, crops: settings.crops, bits: r.bits, nbits: r.nbits, distance: r.distance, threshold: opts.threshold, same })}\n`,
        );
      } else {
        process.stdout.write(
          `distance: ${r.bits} of ${r.nbits} bits (${r.distance.toFixed(4)}): ${same ? 'the same picture' : 'different pictures'} at threshold ${opts.threshold}\n`,
        );
      }
    });
}
