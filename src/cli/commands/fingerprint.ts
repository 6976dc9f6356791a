import { Command } from 'commander';
import { existingDbOrNone, writeDb } from '../../db/database.js';
import { methodNamed } from '../../hash/methods.js';
import { discover } from '../../walk/discover.js';
import { EXIT, UsageError } from '../exit.js';
import { defaults } from '../home.js';
import { defaultInFlight, hashSize, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';
import { info, problem } from '../report.js';

export function fingerprintCommand(): Command {
  return new Command('fingerprint')
    .description('compute a perceptual hash of every image and store them in an HDF5 database')
    .argument('[path...]', 'image files, folders (searched recursively) or glob patterns (default: $IMGCMP_HOME/convert)')
    .option('-x <n>', 'hash size: x-by-x bits per image (x² bits)', hashSize, 8)
    .option('-f, --dbfile <file>', 'database file (default: $IMGCMP_HOME/fingerprints.hdf)')
    .option('-n, --ncore <n>', 'images in flight at once (default: number of cores, at least 4)', positiveInt)
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
The database holds datasets "files" (paths) and "fps" (n × x² bits of 0/1),
readable by h5py: h5py.File(db)["fps"][()].

Examples:
  $ imgcmp fingerprint                          # every image in ~/.imgcmp/convert
  $ imgcmp fingerprint ~/Pictures -x 16 -f pics.hdf`,
    )
    .action(async (paths: string[], opts: { x: number; dbfile?: string; ncore?: number; quiet?: boolean }) => {
      // sharp (libvips) loads only for the commands that decode images.
      const { runFingerprint } = await import('../../stages/fingerprint.js');
      const dbfile = opts.dbfile ?? defaults.dbFile();
      await existingDbOrNone(dbfile);
      const found = await discover(paths.length ? paths : [defaults.convertDir()]);
      for (const p of found.problems) problem('fingerprint', p.path, p.reason);
      if (!found.files.length) throw new UsageError(`no images found in ${paths.length ? paths.join(', ') : defaults.convertDir()}`);
      const method = methodNamed('phash');
      const progress = startProgress('fingerprint', found.files.length, !opts.quiet);
      const result = await runFingerprint({
        files: found.files,
        method,
        x: opts.x,
        inFlight: opts.ncore ?? defaultInFlight(),
        onDone: () => progress.tick(),
        onFailed: (file, reason) => {
          progress.tick();
          problem('fingerprint', file, reason);
        },
      });
      progress.stop();
      await writeDb(dbfile, { settings: { method: method.name, x: opts.x }, files: result.files, fps: result.fps });
      info(`fingerprint: ${result.files.length} images hashed (${method.name}, x = ${opts.x}), ${result.failed} failed → ${dbfile}`);
      if (result.failed || found.problems.length) process.exitCode = EXIT.SOME_FILES_FAILED;
    });
}
