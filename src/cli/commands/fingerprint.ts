import { Command, type OptionValues } from 'commander';
import { untilInterrupted, type Messages } from '../messages.js';
import { startProgress, type Progress } from '../progress.js';
import { describeShard, resolveShard } from '../../walk/shard.js';
import { chosenDecoder, dbPath, defaultInFlight, defaults, hashSettings, positiveInt, withDbfile, withHashOptions, type DbOptions, type HashOptions } from '../settings.js';

interface FingerprintOptions extends HashOptions, DbOptions {
  ncore?: number;
  prune?: boolean;
  followLinks?: boolean;
  quiet?: boolean;
  checkpoint: number;
  shard?: string;
}

/**
 * `imgcmp fingerprint [PATH...]`: the commander Command whose action hashes the images into
 * the database, incrementally; `messages` takes each unreadable image (exit status 2) and an
 * interruption (130). The action throws an ImgcmpError for an expected failure (bad options,
 * a database it may not use or replace, its lock held).
 */
export function fingerprintCommand(messages: Messages): Command {
  const cmd = new Command('fingerprint')
    .description('compute a perceptual hash of every image and store them in an HDF5 database (incrementally)')
    .argument('[path...]', 'image files, folders (searched recursively) or glob patterns (default: $IMGCMP_HOME/convert)');
  withHashOptions(cmd, {
    x: 'hash size: x-by-x bits per image (x² bits)',
    orientations: 'also store the fingerprints of the 8 rotations and mirror images: finds rotated and mirrored copies',
    crops: 'also store fingerprints of the central 90 % and 80 % of each picture: finds cropped copies',
  });
  return withDbfile(cmd)
    .option('-n, --ncore <n>', 'images in flight at once (default: number of cores, at least 4)', positiveInt)
    .option('-L, --follow-links', 'follow symbolic links found in folders (to files and to folders); by default they are passed by')
    .option('--prune', 'drop database entries whose files no longer exist')
    .option('--shard <i/n>', 'take only shard I of N of the files (by a hash of each path; auto/N: I from JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID); one database per shard, joined by imgcmp merge')
    .option('--checkpoint <n>', 'write the database every N new fingerprints (an interrupted run keeps them)', positiveInt, 2000)
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
  $ imgcmp fingerprint ~/Pictures --orientations --crops --prune -f pictures.hdf   # later
  $ imgcmp fingerprint /data/photos --shard 2/8 -f shards/2.hdf   # one of 8 jobs; then:
  $ imgcmp merge pictures.hdf shards/*.hdf`,
    )
    .action(async (paths: string[], options: OptionValues) => {
      const opts = options as FingerprintOptions;
      // sharp (libvips) loads only for the commands that decode images.
      const { runFingerprint } = await import('../../stages/fingerprint.js');
      const dbfile = dbPath(opts);
      const shard = opts.shard === undefined ? undefined : resolveShard(opts.shard, process.env);
      let progress: Progress | undefined;
      await untilInterrupted(messages, 'fingerprint', async (stopped) => {
        const report = await runFingerprint({
          paths: paths.length ? paths : [defaults.convertDir()],
          dbfile,
          settings: (implied) => hashSettings(opts, chosenDecoder(opts.decoder, implied)),
          prune: !!opts.prune,
          followLinks: !!opts.followLinks,
          shard,
          inFlight: opts.ncore ?? defaultInFlight(),
          checkpointEvery: opts.checkpoint,
          stopped,
          onStart: (n) => (progress = startProgress('fingerprint', n, !opts.quiet)),
          onDone: () => progress?.tick(),
          onFailed: (file, reason) => {
            progress?.tick();
            messages.problem(file, reason);
          },
        });
        progress?.stop();
        const { settings } = report;
        if (shard) messages.info(`fingerprint: ${describeShard(shard)}: ${report.files.size + report.failed} of the ${report.found} files found`);
        messages.info(
          `fingerprint: ${report.hashed} hashed, ${report.unchanged} unchanged, ${report.failed} failed` +
            `${opts.prune ? `, ${report.pruned} pruned` : ''}; ${report.total} in the database` +
            `${report.flat ? ` (${report.flat} flat)` : ''} (${settings.method}, x = ${settings.x}` +
            `${settings.orientations ? ', 8 orientations' : ''}${settings.crops ? ', crops' : ''}${settings.borders ? ', frames' : ''}` +
            `${settings.coarseX ? `, coarse x = ${settings.coarseX}` : ''}) → ${dbfile}`,
        );
        if (report.interrupted) {
          messages.info('fingerprint: interrupted; the database holds everything finished so far, and the next run goes on from there');
          messages.interrupted();
        }
      });
    });
}
