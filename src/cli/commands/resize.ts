import { Command } from 'commander';
import { discover } from '../../walk/discover.js';
import { EXIT, UsageError } from '../exit.js';
import { defaults } from '../home.js';
import { defaultInFlight, fraction, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';
import { info, problem } from '../report.js';

export function resizeCommand(): Command {
  return new Command('resize')
    .description('write downscaled, EXIF-upright copies of images (optional first stage, for speed)')
    .argument('<fraction>', 'scale factor, 0 < FRACTION ≤ 1 (0.2 = a fifth of the width and height)', fraction)
    .argument('<path...>', 'image files, folders (searched recursively) or glob patterns')
    .option('-t, --tgtdir <dir>', 'folder for the copies (default: $IMGCMP_HOME/convert)')
    .option('-n, --ncore <n>', 'images in flight at once (default: number of cores, at least 4)', positiveInt)
    .option('-v, --verbose', 'print one line per image written or skipped')
    .addHelpText(
      'after',
      `
Copies are named after the source's absolute path, "/" replaced by "_"
(/home/a/x.jpg → home_a_x.jpg); a copy that exists already is skipped.

Example:
  $ imgcmp resize 0.2 ~/Pictures -t ~/.imgcmp/convert
  $ imgcmp fingerprint            # hashes ~/.imgcmp/convert by default`,
    )
    .action(async (frac: number, paths: string[], opts: { tgtdir?: string; ncore?: number; verbose?: boolean }) => {
      // sharp (libvips) loads only for the commands that decode images.
      const { runResize, sourceInside } = await import('../../stages/resize.js');
      const tgtdir = opts.tgtdir ?? defaults.convertDir();
      const found = await discover(paths);
      for (const p of found.problems) problem('resize', p.path, p.reason);
      const inside = sourceInside(tgtdir, found.files);
      if (inside) {
        throw new UsageError(`target folder ${tgtdir} contains the source ${inside}; choose a folder outside the sources`);
      }
      const progress = startProgress('resize', found.files.length);
      const report = await runResize({
        fraction: frac,
        sources: found.files,
        tgtdir,
        inFlight: opts.ncore ?? defaultInFlight(),
        onDone: (src, target, outcome) => {
          progress.tick();
          if (opts.verbose) info(`${outcome === 'written' ? 'wrote' : 'skipped (exists)'} ${target} ← ${src}`);
        },
        onFailed: (src, reason) => {
          progress.tick();
          problem('resize', src, reason);
        },
      });
      progress.stop();
      info(`resize: ${report.written} written, ${report.skipped} skipped (already there), ${report.failed} failed → ${tgtdir}`);
      if (report.failed || found.problems.length) process.exitCode = EXIT.SOME_FILES_FAILED;
    });
}
