/**
 * A decoded grey image turned upright: its EXIF orientation applied. Pure computation; the
 * native JPEG decoder hands over its thumbnails as stored, and the orientation with them.
 */

/** A row-major grey image. */
export interface GreyImage {
  width: number;
  height: number;
  pixels: ArrayLike<number>;
}

/**
 * The upright image of one stored with EXIF orientation `orientation` (1–8): 2 mirrors, 3 turns
 * by 180°, 4 flips, 5 transposes, 6 turns 90° clockwise, 7 transposes across the other diagonal,
 * 8 turns 90° anticlockwise. Any other value is taken as 1 (upright already).
 */
export function applyOrientation(image: GreyImage, orientation: number): GreyImage {
  if (!(orientation >= 2 && orientation <= 8)) return image;
  const { width: w, height: h, pixels } = image;
  const swaps = orientation >= 5;
  const outW = swaps ? h : w;
  const outH = swaps ? w : h;
  // Source index of output (r, c) = base + r · stepR + c · stepC, one triple per orientation:
  //   2: r·w + (w−1−c)   3: (h−1−r)·w + (w−1−c)   4: (h−1−r)·w + c   5: c·w + r
  //   6: (h−1−c)·w + r   7: (h−1−c)·w + (w−1−r)   8: c·w + (w−1−r)
  // (plain numbers, not a closure per orientation: closures made per call are compiled afresh.)
  const [base, stepR, stepC] = (
    [
      [w - 1, w, -1],
      [(h - 1) * w + (w - 1), -w, -1],
      [(h - 1) * w, -w, 1],
      [0, 1, w],
      [(h - 1) * w, 1, -w],
      [(h - 1) * w + (w - 1), -1, -w],
      [w - 1, -1, w],
    ] as const
  )[orientation - 2]!;
  const out = new Float64Array(outW * outH);
  for (let r = 0; r < outH; r++) {
    const from = base + r * stepR;
    const at = r * outW;
    for (let c = 0; c < outW; c++) out[at + c] = pixels[from + c * stepC]!;
  }
  return { width: outW, height: outH, pixels: out };
}
