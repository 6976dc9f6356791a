/**
 * The one rounding rule for "distance ≤ cut", shared by clustering, search and compare. Pure.
 *
 * A cut is given as a fraction of the fingerprint's bits (SIM × largest distance, SIM, or a
 * --max-distance / --threshold). Cut and distances are both products of decimal fractions (0.3,
 * an average of bit counts), so a distance that equals the cut on paper may differ from it by an
 * ulp; a relative slack far below one bit in any average makes such a distance count as equal.
 */

const CUT_SLACK = 1e-9;

/**
 * The cut in bits: the largest distance (fractional for average linkage) that is within a cut
 * of `cut` × `nbits`. Integer distances are within it when ≤ ⌊cutBits⌋.
 */
export function cutBits(cut: number, nbits: number): number {
  return cut * nbits * (1 + CUT_SLACK);
}

/** Whether a distance of `bits` (of `nbits`) is within the cut `cut`, a fraction of the bits. */
export function withinCut(bits: number, nbits: number, cut: number): boolean {
  return bits <= cutBits(cut, nbits);
}

/**
 * The cut that coarse fingerprints use to propose candidate pairs for a cut of `cut` on the full
 * fingerprints: a quarter more than the cut, and at least 10 of 64 bits. Measured on the
 * accuracy benchmarks (library, make-variants, edits, negatives): at a full cut of 0.125, a coarse
 * cut of 10 of 64 bits loses no pair that a coarse cut of 16 finds once copies are grouped, while
 * the candidates among unrelated pictures fall by a factor of several thousand (a random pair of
 * 64-bit views is within 10 bits with probability 1e-8, within 16 with 4e-5), and with them the
 * time of clustering. find's default cut is now 38 of 256 bits with a view penalty of 6
 * (hash/views.ts): 11 of 64 bits on the coarse views, less the penalty of 1 through any view but
 * the upright whole one — the same 10 as before for those.
 */
export function coarseCutFor(cut: number): number {
  return Math.min(0.5, Math.max(10 / 64, 1.25 * cut));
}

/** coarseCutFor(cut) in bits of `nbits`-bit coarse fingerprints (as cutBits gives a cut in bits). */
export function coarseCutBits(cut: number, nbits: number): number {
  return cutBits(coarseCutFor(cut), nbits);
}
