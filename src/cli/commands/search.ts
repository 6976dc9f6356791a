import path from 'node:path';
import { Command } from 'commander';
import { readDb } from '../../db/database.js';
import { EXIT, UsageError } from '../exit.js';
import { defaults } from '../home.js';
import { decoderFor } from '../../pixels/recipe.js';
import { chosenDecoder, positiveInt, similarity } from '../options.js';
import { info, problem } from '../report.js';

export function searchCommand(): Command {
  return new Command('search')
    .description('list the database entries nearest to each IMAGE')
    .argument('<image...>', 'image files to look up')
    .option('-f, --dbfile <file>', 'database file (default: $IMGCMP_HOME/fingerprints.hdf)')
    .option('-k <n>', 'how many entries per image', positiveInt, 10)
    .option('--max-distance <d>', 'only entries within D (a fraction of the bits, 0–1)', similarity)
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
      const { Searcher } = await import('../../stages/search.js');
      const { reasonOf } = await import('../../util/pool.js');
      const dbfile = opts.dbfile ?? defaults.dbFile();
      const db = await readDb(dbfile);
      if (!db.files.length) throw new UsageError(`${dbfile}: the database is empty`);
      chosenDecoder(undefined, decoderFor(db.settings.resample)); // refused at once if this installation lacks it
      const searcher = new Searcher(db);
      const results: ({ image: string; matches: { file: string; bits: number; distance: number }[] } | { image: string; error: string })[] = [];
      let failed = 0;
      for (const image of images) {
        const abs = path.resolve(image);
        try {
          const matches = await searcher.search(abs, opts.k, opts.maxDistance);
          results.push({ image: abs, matches });
          if (!opts.json) {
            process.stdout.write(`${abs}\n`);
            for (const m of matches) process.stdout.write(`  ${m.distance.toFixed(4)}  ${String(m.bits).padStart(3)} bits  ${m.file}\n`);
            if (!matches.length) process.stdout.write('  (nothing within the distance)\n');
          }
        } catch (err) {
          failed++;
          problem('search', abs, reasonOf(err));
          results.push({ image: abs, error: reasonOf(err) });
        }
      }
      if (opts.json) {
        const { method, x, orientations, crops } = db.settings;
        process.stdout.write(`${JSON.stringify({ db: path.resolve(dbfile), method, x, orientations, crops, results })}\n`);
      }
      if (failed) process.exitCode = EXIT.SOME_FILES_FAILED;
      if (failed === images.length) info(`search: no image could be read`);
    });
}
