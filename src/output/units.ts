/** Quantities for a person. Pure. */

/**
 * Bytes as file managers show them, in decimal units: "12 B", "30.8 kB", "1.50 MB" (two decimals
 * under 10, one above). One formatter for every summary, page and plan, so the same bytes read
 * the same everywhere.
 */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  let v = n;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
