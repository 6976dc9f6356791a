import path from 'node:path';
import { Command } from 'commander';
import type { Messages } from '../messages.js';
import { cutFraction, hashSettings, withHashOptions, type HashOptions } from '../settings.js';

/** The cut below which `compare` calls two pictures the same: the recommended cluster cut. */
const DEFAULT_THRESHOLD = 0.15;

/**
 * `imgcmp compare IMAGE1 IMAGE2`: the commander Command whose action hashes both images (no
 * database) and prints their distance and whether they are the same picture. The action throws
 * an ImgcmpError when an image cannot be read or decoded.
 */
export function compareCommand(_messages: Messages): Command {
  const cmd = new Command('compare')
    .description('distance between two images, and whether they are the same picture (no database)')
    .argument('<image1>')
    .argument('<image2>');
  return withHashOptions(cmd, {
    x: 'hash size: x-by-x bits',
    orientations: 'the smallest distance over rotations and mirror images',
    crops: 'the smallest distance over central crops (90 %, 80 %) too',
  })
    .option('--threshold <t>', 'same picture when the distance (a fraction of the bits) is at most T', cutFraction, DEFAULT_THRESHOLD)
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
    .action(async (a: string, b: string, opts: HashOptions & { threshold: number; json?: boolean }) => {
      const { runCompare } = await import('../../stages/compare.js');
      const settings = hashSettings(opts);
      const [image1, image2] = [path.resolve(a), path.resolve(b)];
      const r = await runCompare(image1, image2, settings, opts.threshold);
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ image1, image2, method: settings.method, x: settings.x, orientations: settings.orientations, crops: settings.crops, bits: r.bits, nbits: r.nbits, distance: r.distance, threshold: opts.threshold, same: r.same })}\n`,
        );
      } else {
        process.stdout.write(
          `distance: ${r.bits} of ${r.nbits} bits (${r.distance.toFixed(4)}): ${r.same ? 'the same picture' : 'different pictures'} at threshold ${opts.threshold}\n`,
        );
      }
    });
}
