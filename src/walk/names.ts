/** File names derived from paths. Pure. */
import path from 'node:path';

/**
 * The copy's file name, as imgcmp names it: the absolute source path with every "/" replaced
 * by "_", the leading "_" dropped ("/home/a/x.jpg" → "home_a_x.jpg").
 */
export function convertedName(absSource: string): string {
  return absSource.split(path.sep).join('_').replace(/^_/, '');
}
