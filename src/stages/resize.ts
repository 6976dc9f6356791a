/**
 * Stage 1, resize: source photos → downscaled upright copies in one folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resizeTo, type PixelGate } from '../pixels/resize.js';
import { copyNames } from '../walk/names.js';
import { fsPath } from '../walk/fspath.js';
import { forEachLimited } from '../util/pool.js';
import { discover } from '../walk/discover.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';

export interface ResizeJob {
  fraction: number;
  /** Image files, folders or glob patterns. */
  paths: readonly string[];
  /** Follow symbolic links found in folders (-L). */
  followLinks?: boolean;
  tgtdir: string;
  /** Images in flight at once. */
  inFlight: number;
  /** Declared pixels (width × height) being decoded at once, at most; default RESIZE_PIXEL_BUDGET. */
  pixelBudget?: number;
  /** Called once the sources are known, before any is written. */
  onStart?: (sources: number) => void;
  onDone?: (source: string, target: string, outcome: 'written' | 'skipped') => void;
  onFailed?: (source: string, reason: string) => void;
}

export interface ResizeReport {
  written: number;
  skipped: number;
  failed: number;
  /** Copies named with a hash of their source's path because another source had the same name. */
  renamed: number;
}

/**
 * Declared pixels in flight at most, by default: 150 megapixels (a few hundred MB of decoded
 * rows and coefficients for progressive JPEGs, whatever the number of cores).
 */
export const RESIZE_PIXEL_BUDGET = 150e6;

/**
 * A gate that lets images be decoded while the sum of their declared pixels stays within
 * `budget`; an image alone over the budget is let in alone. First come, first served: a large
 * image waiting is not overtaken by small ones.
 */
export function pixelBudget(budget: number): PixelGate {
  let used = 0;
  let running = 0;
  const waiting: { pixels: number; go: () => void }[] = [];
  const admit = (): void => {
    while (waiting.length && (running === 0 || used + waiting[0]!.pixels <= budget)) {
      const next = waiting.shift()!;
      used += next.pixels;
      running++;
      next.go();
    }
  };
  return (pixels) =>
    new Promise((resolve) => {
      waiting.push({
        pixels,
        go: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            used -= pixels;
            running--;
            admit();
          });
        },
      });
      admit();
    });
}

/** The first source inside `dir` (or equal to it), which writing there could overwrite. */
function sourceInside(dir: string, sources: readonly string[]): string | undefined {
  const real = (p: string): string => {
    try {
      return fs.realpathSync(fsPath(p)).toString();
    } catch {
      return path.resolve(p);
    }
  };
  const root = real(dir) + path.sep;
  return sources.find((s) => (real(s) + path.sep).startsWith(root));
}

/**
 * Writes a downscaled, upright copy of every image of `job.paths` into `job.tgtdir` (existing
 * copies are skipped), named by copyNames; at most `job.inFlight` images, and at most
 * `job.pixelBudget` declared pixels, in flight at once. Returns the counts; a source that fails is reported through `onFailed`.
 * Throws an ImgcmpError when the target folder holds a source (writing there could overwrite it).
 */
export async function runResize(job: ResizeJob): Promise<ResizeReport> {
  const found = await discover(job.paths, { followLinks: job.followLinks });
  for (const p of found.problems) job.onFailed?.(p.path, p.reason);
  const inside = sourceInside(job.tgtdir, found.files);
  if (inside) {
    throw new ImgcmpError('refused', `target folder ${job.tgtdir} contains the source ${inside}; choose a folder outside the sources`);
  }
  job.onStart?.(found.files.length);
  fs.mkdirSync(job.tgtdir, { recursive: true });
  // Every name is settled before anything is written: which source gets which name never depends on timing.
  const { names, renamed } = copyNames(found.files);
  const gate = pixelBudget(job.pixelBudget ?? RESIZE_PIXEL_BUDGET);
  const report: ResizeReport = { written: 0, skipped: 0, failed: 0, renamed };
  await forEachLimited(
    found.files,
    job.inFlight,
    async (src) => {
      const target = path.join(job.tgtdir, names.get(src)!);
      return { target, outcome: await resizeTo(src, target, job.fraction, gate) };
    },
    (result, src) => {
      if (result.status === 'fulfilled') {
        report[result.value.outcome]++;
        job.onDone?.(src, result.value.target, result.value.outcome);
      } else {
        report.failed++;
        job.onFailed?.(src, reasonOf(result.reason));
      }
    },
  );
  return report;
}
