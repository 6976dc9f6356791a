/** Lists of fingerprint pairs with their distances, grown in typed arrays (bytes per pair, not objects). */

/** Pairs (i < j) with their distances in bits, in arrays of equal length. */
export interface PairList {
  a: Int32Array;
  b: Int32Array;
  bits: Uint16Array;
  length: number;
}

/**
 * Collects pairs one at a time (`push(i, j, bits)`, arrays doubling as needed) and hands them
 * over as a PairList (`build()`, views of the arrays, no copy). Throws nothing.
 */
export class PairBuilder {
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

