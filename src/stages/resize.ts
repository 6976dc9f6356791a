/**
 * Stage 1, resize: source photos → downscaled upright copies in one folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resizeTo } from '../pixels/resize.js';
import { convertedName } from '../walk/names.js';
import { fsPath } from '../walk/fspath.js';
import { forEachLimited } from '../util/pool.js';
import { discover } from '../walk/discover.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';

export interface ResizeJob {
  fraction: number;
  /** Image files, folders or glob patterns. */
  paths: readonly string[];
  tgtdir: string;
  /** Images in flight at once. */
  inFlight: number;
  /** Called once the sources are known, before any is written. */
  onStart?: (sources: number) => void;
  onDone?: (source: string, target: string, outcome: 'written' | 'skipped') => void;
  onFailed?: (source: string, reason: string) => void;
}

export interface ResizeReport {
  written: number;
  skipped: number;
  failed: number;
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
 * copies are skipped). Returns the counts; a source that fails is reported through `onFailed`.
 * Throws an ImgcmpError when the target folder holds a source (writing there could overwrite it).
 */
export async function runResize(job: ResizeJob): Promise<ResizeReport> {
  const found = await discover(job.paths);
  for (const p of found.problems) job.onFailed?.(p.path, p.reason);
  const inside = sourceInside(job.tgtdir, found.files);
  if (inside) {
    throw new ImgcmpError('refused', `target folder ${job.tgtdir} contains the source ${inside}; choose a folder outside the sources`);
  }
  job.onStart?.(found.files.length);
  fs.mkdirSync(job.tgtdir, { recursive: true });
  const report: ResizeReport = { written: 0, skipped: 0, failed: 0 };
  await forEachLimited(
    found.files,
    job.inFlight,
    async (src) => {
      const target = path.join(job.tgtdir, convertedName(src));
      return { target, outcome: await resizeTo(src, target, job.fraction) };
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
