/**
 * Stage 1, resize: source photos → downscaled upright copies in one folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resizeTo } from '../pixels/resize.js';
import { convertedName } from '../walk/names.js';
import { fsPath } from '../walk/fspath.js';
import { forEachLimited, reasonOf } from '../util/pool.js';

export interface ResizeJob {
  fraction: number;
  sources: readonly string[];
  tgtdir: string;
  /** Images in flight at once. */
  inFlight: number;
  onDone?: (source: string, target: string, outcome: 'written' | 'skipped') => void;
  onFailed?: (source: string, reason: string) => void;
}

export interface ResizeReport {
  written: number;
  skipped: number;
  failed: number;
}

/** The first source inside `dir` (or equal to it), which writing there could overwrite. */
export function sourceInside(dir: string, sources: readonly string[]): string | undefined {
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

export async function runResize(job: ResizeJob): Promise<ResizeReport> {
  fs.mkdirSync(job.tgtdir, { recursive: true });
  const report: ResizeReport = { written: 0, skipped: 0, failed: 0 };
  await forEachLimited(
    job.sources,
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
