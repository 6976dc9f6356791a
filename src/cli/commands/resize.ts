import { Command } from 'commander';
import type { Messages } from '../messages.js';
import { startProgress, type Progress } from '../progress.js';
import { defaultInFlight, defaults, fraction, positiveInt } from '../settings.js';

/**
 * `imgcmp resize FRACTION PATH...`: the commander Command whose action writes downscaled,
 * upright copies of the images; `messages` takes each image it could not copy (exit status 2)
 * and the summary. The action throws an ImgcmpError for an expected failure (a target folder
 * that holds a source).
 */
export function resizeCommand(messages: Messages): Command {
  return new Command('resize')
    .description('write downscaled, EXIF-upright copies of images (optional first stage, for speed)')
    .argument('<fraction>', 'scale factor, 0 < FRACTION ≤ 1 (0.2 = a fifth of the width and height)', fraction)
    .argument('<path...>', 'image files, folders (searched recursively) or glob patterns')
    .option('-t, --tgtdir <dir>', 'folder for the copies (default: $IMGCMP_HOME/convert)')
    .option('-n, --ncore <n>', 'images in flight at once (default: number of cores, at least 4)', positiveInt)
    .option('-v, --verbose', 'print one line per image written or skipped')
    .option('-L, --follow-links', 'follow symbolic links found in folders (to files and to folders); by default they are passed by')
    .addHelpText(
      'after',
      `
Copies are named after the source's absolute path, "/" replaced by "_"
(/home/a/x.jpg → home_a_x.jpg); sources whose names collide (/p/a/b_c.jpg and
/p/a_b/c.jpg) each get a hash of their path before the extension. A copy that
exists already is skipped. Images in flight are bounded by -n and by 150
megapixels declared in all (an image larger than that runs alone).

Example:
  $ imgcmp resize 0.2 ~/Pictures -t ~/.imgcmp/convert
  $ imgcmp fingerprint            # hashes ~/.imgcmp/convert by default`,
    )
    .action(async (frac: number, paths: string[], opts: { tgtdir?: string; ncore?: number; verbose?: boolean; followLinks?: boolean }) => {
      // sharp (libvips) loads only for the commands that decode images.
      const { runResize } = await import('../../stages/resize.js');
      const tgtdir = opts.tgtdir ?? defaults.convertDir();
      let progress: Progress | undefined;
      const report = await runResize({
        fraction: frac,
        paths,
        followLinks: !!opts.followLinks,
        tgtdir,
        inFlight: opts.ncore ?? defaultInFlight(),
        onStart: (n) => (progress = startProgress('resize', n)),
        onDone: (src, target, outcome) => {
          progress?.tick();
          if (opts.verbose) messages.info(`${outcome === 'written' ? 'wrote' : 'skipped (exists)'} ${target} ← ${src}`);
        },
        onFailed: (src, reason) => {
          progress?.tick();
          messages.problem(src, reason);
        },
      });
      progress?.stop();
      messages.info(`resize: ${report.written} written, ${report.skipped} skipped (already there), ${report.failed} failed → ${tgtdir}`);
      if (report.renamed) {
        messages.info(`resize: ${report.renamed} ${report.renamed === 1 ? 'copy' : 'copies'} renamed because their names collided (a hash of the source's path added before the extension)`);
      }
    });
}
