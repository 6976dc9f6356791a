/** What the benchmark scripts share: argument parsing and timing a command's run and peak memory. */
import { spawnSync } from 'node:child_process';

export { splitmix32 } from '../../dist/test/helpers/random.js';

/** Removes `--name VALUE` from args and returns VALUE (or the default). */
export function option(args, name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
}

/** Removes `--name` from args and says whether it was there. */
export function flag(args, name) {
  const i = args.indexOf(name);
  return i >= 0 ? (args.splice(i, 1), true) : false;
}

/**
 * Runs a command under /usr/bin/time: wall seconds, peak RSS (MB) and CPU seconds (user + system,
 * of the command and of the children it waited for; a child left to exit after it, such as the
 * native JPEG decoder's helpers, is not counted). Exit statuses 0 and 2
 * (some inputs failed) count as a run; anything else throws with the command's last words.
 * With `limitSeconds`, the command is stopped (SIGTERM) after that long and the result says
 * `timedOut` (its peak RSS until then included).
 */
export function timed(cmd, cmdArgs, env = {}, limitSeconds = undefined) {
  const t0 = process.hrtime.bigint();
  const run = limitSeconds ? ['timeout', String(limitSeconds), cmd, ...cmdArgs] : [cmd, ...cmdArgs];
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', ...run], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 30,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = r.stderr.trim().split('\n');
  const [maxKb, user, system] = (lines.pop() ?? '').split(' ').map(Number);
  const rssMb = maxKb / 1024;
  const cpuSeconds = user + system;
  if (limitSeconds && r.status === 124) return { seconds, rssMb, cpuSeconds, stdout: r.stdout, stderr: lines.join('\n'), timedOut: true };
  if (r.status !== 0 && r.status !== 2) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed (${r.status}): ${lines.slice(-5).join('\n')}`);
  return { seconds, rssMb, cpuSeconds, stdout: r.stdout, stderr: lines.join('\n') };
}
