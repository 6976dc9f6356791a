import path from 'node:path';
import { Command } from 'commander';
import type { Match } from '../../stages/search.js';
import type { Messages } from '../messages.js';
import { cutFraction, dbPath, positiveInt, withDbfile } from '../settings.js';

/**
 * `imgcmp search IMAGE...`: the commander Command whose action prints the database entries
 * nearest to each image; `messages` takes each unreadable image (exit status 2). The action
 * throws an ImgcmpError for an expected failure (an unusable database).
 */
export function searchCommand(messages: Messages): Command {
  const cmd = new Command('search').description('list the database entries nearest to each IMAGE').argument('<image...>', 'image files to look up');
  return withDbfile(cmd)
    .option('-k <n>', 'how many entries per image', positiveInt, 10)
    .option('--max-distance <d>', 'only entries within D (a fraction of the bits, 0–1)', cutFraction)
    .option('--json', 'write the results as JSON to standard output')
    .addHelpText(
      'after',
      `
Each IMAGE is hashed with the database's own settings (method, x, orientations,
crops, JPEG decoder).
Output: one block per image, one line per entry: distance (fraction of bits), bits, path.

JSON: {"db", "method", "x", "orientations", "crops",
       "results": [{"image", "matches": [{"file", "bits", "distance"}]} | {"image", "error"}]}

Examples:
  $ imgcmp search holiday.jpg -k 5
  $ imgcmp search new/*.jpg --max-distance 0.1 --json > matches.json`,
    )
    .action(async (images: string[], opts: { dbfile?: string; k: number; maxDistance?: number; json?: boolean }) => {
      const { runSearch } = await import('../../stages/search.js');
      const dbfile = dbPath(opts);
      const results: ({ image: string; matches: Match[] } | { image: string; error: string })[] = [];
      const { settings, failed } = await runSearch({
        dbfile,
        images: images.map((i) => path.resolve(i)),
        k: opts.k,
        maxDistance: opts.maxDistance,
        onMatches: (image, matches) => {
          results.push({ image, matches });
          if (opts.json) return;
          process.stdout.write(`${image}\n`);
          for (const m of matches) process.stdout.write(`  ${m.distance.toFixed(4)}  ${String(m.bits).padStart(3)} bits  ${m.file}\n`);
          if (!matches.length) process.stdout.write('  (nothing within the distance)\n');
        },
        onFailed: (image, reason) => {
          messages.problem(image, reason);
          results.push({ image, error: reason });
        },
      });
      if (opts.json) {
        const { method, x, orientations, crops } = settings;
        process.stdout.write(`${JSON.stringify({ db: path.resolve(dbfile), method, x, orientations, crops, results })}\n`);
      }
      if (failed === images.length) messages.info(`search: no image could be read`);
    });
}
