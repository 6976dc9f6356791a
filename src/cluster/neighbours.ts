/**
 * Neighbours in Hamming space: the pairs of fingerprints within a distance, and the largest
 * pairwise distance. Pure computation on packed fingerprints.
 */
import { popcount32, type PackedFingerprints } from '../hash/bits.js';

/** Pairs (i < j) with their distances in bits, in arrays of equal length. */
export interface PairList {
  a: Int32Array;
  b: Int32Array;
  bits: Uint16Array;
  length: number;
}

class PairBuilder {
  private a = new Int32Array(1024);
  private b = new Int32Array(1024);
  private bits = new Uint16Array(1024);
  length = 0;

  push(i: number, j: number, d: number): void {
    if (this.length === this.a.length) {
      const grow = <T extends Int32Array | Uint16Array>(arr: T, make: (n: number) => T): T => {
        const next = make(arr.length * 2);
        next.set(arr);
        return next;
      };
      this.a = grow(this.a, (n) => new Int32Array(n));
      this.b = grow(this.b, (n) => new Int32Array(n));
      this.bits = grow(this.bits, (n) => new Uint16Array(n));
    }
    this.a[this.length] = i;
    this.b[this.length] = j;
    this.bits[this.length] = d;
    this.length++;
  }

  build(): PairList {
    return {
      a: this.a.subarray(0, this.length),
      b: this.b.subarray(0, this.length),
      bits: this.bits.subarray(0, this.length),
      length: this.length,
    };
  }
}

/**
 * Every pair i < j whose Hamming distance is at most `maxBits`, by a bit-parallel scan.
 * Specialised loops for 1, 2 and 4 words keep the per-pair cost at a few nanoseconds.
 */
export function pairsWithin(fps: PackedFingerprints, maxBits: number): PairList {
  const { count: n, words: w, data } = fps;
  const out = new PairBuilder();
  if (maxBits < 0) return out.build();
  if (w === 2) {
    for (let i = 0; i < n; i++) {
      const x0 = data[2 * i]!;
      const x1 = data[2 * i + 1]!;
      for (let j = i + 1; j < n; j++) {
        const d = popcount32(x0 ^ data[2 * j]!) + popcount32(x1 ^ data[2 * j + 1]!);
        if (d <= maxBits) out.push(i, j, d);
      }
    }
    return out.build();
  }
  for (let i = 0; i < n; i++) {
    const ai = i * w;
    for (let j = i + 1; j < n; j++) {
      const bj = j * w;
      let d = 0;
      for (let k = 0; k < w && d <= maxBits; k++) d += popcount32(data[ai + k]! ^ data[bj + k]!);
      if (d <= maxBits) out.push(i, j, d);
    }
  }
  return out.build();
}

/** The largest Hamming distance in bits between any two fingerprints (0 for fewer than two). */
export function maxPairwiseBits(fps: PackedFingerprints): number {
  const { count: n, words: w, data, nbits } = fps;
  let best = 0;
  for (let i = 0; i < n && best < nbits; i++) {
    const ai = i * w;
    for (let j = i + 1; j < n; j++) {
      const bj = j * w;
      let d = 0;
      for (let k = 0; k < w; k++) d += popcount32(data[ai + k]! ^ data[bj + k]!);
      if (d > best) {
        best = d;
        if (best === nbits) break;
      }
    }
  }
  return best;
}
