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
 * fingerprints: twice the cut (a coarse hash of the same views differs more, relatively, between
 * copies), at least a quarter of the bits and at most half. Measured on the accuracy benchmarks:
 * at a full cut of 0.125 no pair within it lay beyond 0.25 on the coarse hash.
 */
export function coarseCutFor(cut: number): number {
  return Math.min(0.5, Math.max(0.25, 2 * cut));
}
