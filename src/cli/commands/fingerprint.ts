import { Command, Option } from 'commander';
import { existingDbOrNone, HASH_VERSION, preloadHdf5, removeStaleTemporaries, settingsDifference, writeDb, type HashSettings } from '../../db/database.js';
import { acquireLock } from '../../db/lock.js';
import { METHODS, methodNamed } from '../../hash/methods.js';
import { discover } from '../../walk/discover.js';
import { EXIT, UsageError } from '../exit.js';
import { defaults } from '../home.js';
import { decoderFor, RECIPE } from '../../pixels/recipe.js';
import { chosenDecoder, decoderOption, defaultInFlight, hashSize, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';
import { info, problem } from '../report.js';

interface FingerprintOptions {
  x: number;
  method: string;
  orientations?: boolean;
  crops?: boolean;
  dbfile?: string;
  ncore?: number;
  prune?: boolean;
  quiet?: boolean;
  checkpoint: number;
  decoder?: string;
}

export function fingerprintCommand(): Command {
  return new Command('fingerprint')
    .description('compute a perceptual hash of every image and store them in an HDF5 database (incrementally)')
    .argument('[path...]', 'image files, folders (searched recursively) or glob patterns (default: $IMGCMP_HOME/convert)')
    .addOption(new Option('--method <name>', 'hash method').choices([...METHODS.keys()]).default('phash'))
    .option('-x <n>', 'hash size: x-by-x bits per image (x² bits)', hashSize, 8)
    .option('--orientations', 'also store the fingerprints of the 8 rotations and mirror images: finds rotated and mirrored copies')
    .option('--crops', 'also store fingerprints of the central 90 % and 80 % of each picture: finds cropped copies')
    .option('-f, --dbfile <file>', 'database file (default: $IMGCMP_HOME/fingerprints.hdf)')
    .option('-n, --ncore <n>', 'images in flight at once (default: number of cores, at least 4)', positiveInt)
    .option('--prune', 'drop database entries whose files no longer exist')
    .option('--checkpoint <n>', 'write the database every N new fingerprints (an interrupted run keeps them)', positiveInt, 2000)
    .addOption(decoderOption())
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Runs on an existing database add new files and re-hash changed ones (size or
modification time); unchanged files are not decoded again, and the JPEG decoder
is the one the database was made with unless --decoder says otherwise. The database holds
datasets "files" (paths) and "fps" (n × x² bits of 0/1), readable by h5py.

Examples:
  $ imgcmp fingerprint                          # every image in ~/.imgcmp/convert
  $ imgcmp fingerprint ~/Pictures --orientations --crops -f pictures.hdf
  $ imgcmp fingerprint ~/Pictures --orientations --crops --prune -f pictures.hdf   # later`,
    )
    .action(async (paths: string[], opts: FingerprintOptions) => {
      // sharp (libvips) loads only for the commands that decode images.
      const { runFingerprint } = await import('../../stages/fingerprint.js');
      const dbfile = opts.dbfile ?? defaults.dbFile();
      const method = methodNamed(opts.method);
      const release = acquireLock(dbfile);
      removeStaleTemporaries(dbfile);
      let interrupted = false;
      const onSignal = (): void => {
        if (!interrupted) info('imgcmp fingerprint: interrupted; finishing the images in flight and saving the database');
        interrupted = true;
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const existing = await existingDbOrNone(dbfile);
        const decoder = chosenDecoder(opts.decoder, existing?.files.length ? decoderFor(existing.settings.resample) : undefined);
        const settings: HashSettings = {
          method: method.name,
          x: opts.x,
          orientations: !!opts.orientations,
          crops: !!opts.crops,
          resample: RECIPE[decoder],
          hashVersion: HASH_VERSION,
        };
        const differs = existing && existing.files.length ? settingsDifference(existing.settings, settings) : undefined;
        if (differs) {
          throw new UsageError(`${dbfile}: made with other settings (${differs}); fingerprints made differently are never mixed: use another --dbfile`);
        }
        const found = await discover(paths.length ? paths : [defaults.convertDir()]);
        for (const p of found.problems) problem('fingerprint', p.path, p.reason);
        if (!found.files.length && !existing) {
          throw new UsageError(`no images found in ${paths.length ? paths.join(', ') : defaults.convertDir()}`);
        }
        const progress = startProgress('fingerprint', found.files.length, !opts.quiet);
        const running = runFingerprint({
          files: found.files,
          method,
          settings,
          existing: existing?.files.length ? existing : undefined,
          prune: !!opts.prune,
          inFlight: opts.ncore ?? defaultInFlight(),
          checkpointEvery: opts.checkpoint,
          save: (db) => writeDb(dbfile, db),
          stopped: () => interrupted,
          onDone: () => progress.tick(),
          onFailed: (file, reason) => {
            progress.tick();
            problem('fingerprint', file, reason);
          },
        });
        // Compiling HDF5 (for the writes to come) while the first images decode, not before.
        preloadHdf5();
        const report = await running;
        progress.stop();
        info(
          `fingerprint: ${report.hashed} hashed, ${report.unchanged} unchanged, ${report.failed} failed` +
            `${opts.prune ? `, ${report.pruned} pruned` : ''}; ${report.total} in the database` +
            `${report.flat ? ` (${report.flat} flat)` : ''} (${method.name}, x = ${opts.x}` +
            `${settings.orientations ? ', 8 orientations' : ''}${settings.crops ? ', crops' : ''}) → ${dbfile}`,
        );
        if (report.interrupted) {
          info('fingerprint: interrupted; the database holds everything finished so far, and the next run goes on from there');
          process.exitCode = 130;
        } else if (report.failed || found.problems.length) process.exitCode = EXIT.SOME_FILES_FAILED;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        release();
      }
    });
}
