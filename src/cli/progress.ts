/**
 * Progress of long work: a bar (cli-progress) when standard error is a terminal, otherwise a
 * plain line now and then, so that logs of scripted runs stay readable.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';

/** cli-progress, loaded only for a terminal: scripted runs do not pay for it. */
const loadCliProgress = (): typeof CliProgress => createRequire(import.meta.url)('cli-progress') as typeof CliProgress;

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

const PLAIN_INTERVAL_MS = 5000;

/**
 * Starts showing the progress of `total` steps named `label` on standard error: a bar on a
 * terminal, else a line every few seconds; nothing when `enabled` is false or there is nothing
 * to do. Returns the Progress to tick once per step and to stop at the end. Throws nothing.
 */
export function startProgress(label: string, total: number, enabled = true): Progress {
  if (!enabled || total === 0) return { tick() {}, stop() {} };
  if (process.stderr.isTTY) {
    const cliProgress = loadCliProgress();
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 200,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
  }
  let done = 0;
  let last = Date.now();
  const started = last;
  return {
    tick(n = 1) {
      done += n;
      const now = Date.now();
      if (now - last >= PLAIN_INTERVAL_MS) {
        last = now;
        const rate = done / ((now - started) / 1000);
        process.stderr.write(`${label}: ${done}/${total} (${rate.toFixed(1)}/s)\n`);
      }
    },
    stop() {},
  };
}
