/**
 * imgcmp's home folder and the default locations inside it, as the Python imgcmp laid them out:
 * $IMGCMP_HOME (default ~/.imgcmp) holding convert/, fingerprints.hdf and cluster/.
 */
import os from 'node:os';
import path from 'node:path';

export function home(): string {
  return path.resolve(process.env['IMGCMP_HOME'] || path.join(os.homedir(), '.imgcmp'));
}

export const defaults = {
  convertDir: (): string => path.join(home(), 'convert'),
  dbFile: (): string => path.join(home(), 'fingerprints.hdf'),
  clusterDir: (): string => path.join(home(), 'cluster'),
};
