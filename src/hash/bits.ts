/**
 * Packed fingerprints: the bits of one fingerprint live in consecutive 32-bit words, bit i of the
 * fingerprint in word i >>> 5 at position i & 31. Packing makes a Hamming distance a handful of
 * XOR + popcount operations instead of a loop over bytes.
 */

/** A set of equally long fingerprints, packed row after row. */
export interface PackedFingerprints {
  /** Number of fingerprints. */
  readonly count: number;
  /** Bits per fingerprint (x² for an x-by-x hash). */
  readonly nbits: number;
  /** 32-bit words per fingerprint. */
  readonly words: number;
  /** count × words, row-major. */
  readonly data: Uint32Array;
}

export function wordsFor(nbits: number): number {
  return (nbits + 31) >>> 5;
}

/** Number of set bits of a 32-bit integer (SWAR popcount). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Packs rows of 0/1 values (row-major, n × nbits) into words. Any non-zero value is a 1 bit. */
export function packRows(rows: ArrayLike<number>, count: number, nbits: number): PackedFingerprints {
  if (rows.length !== count * nbits) {
    throw new Error(`expected ${count} × ${nbits} values, got ${rows.length}`);
  }
  const words = wordsFor(nbits);
  const data = new Uint32Array(count * words);
  for (let r = 0; r < count; r++) {
    const base = r * nbits;
    const out = r * words;
    for (let i = 0; i < nbits; i++) {
      if (rows[base + i]) data[out + (i >>> 5)] |= 1 << (i & 31);
    }
  }
  return { count, nbits, words, data };
}

/** Unpacks to one byte (0 or 1) per bit, row-major: the layout of the `fps` dataset. */
export function unpackRows(fps: PackedFingerprints): Uint8Array {
  const { count, nbits, words, data } = fps;
  const out = new Uint8Array(count * nbits);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < nbits; i++) {
      out[r * nbits + i] = (data[r * words + (i >>> 5)]! >>> (i & 31)) & 1;
    }
  }
  return out;
}

/** Each byte with its bits in reverse order: numpy.packbits puts a row's first bit in the high bit. */
const REVERSED = Uint8Array.from({ length: 256 }, (_, v) => {
  let r = 0;
  for (let k = 0; k < 8; k++) if (v & (1 << k)) r |= 0x80 >>> k;
  return r;
});

/**
 * Rows of ⌈nbits/8⌉ bytes in numpy.packbits' layout (first bit in the high bit of each byte), as
 * HDF5 datasets store them, into packed words; a byte at a time, not a bit at a time.
 */
export function fromPackbits(packed: Uint8Array, count: number, nbits: number): PackedFingerprints {
  const bytes = (nbits + 7) >>> 3;
  if (packed.length !== count * bytes) throw new Error(`expected ${count} × ${bytes} bytes, got ${packed.length}`);
  const words = wordsFor(nbits);
  const data = new Uint32Array(count * words);
  const lastMask = nbits & 7 ? (0xff00 >>> (nbits & 7)) & 0xff : 0xff; // bits past nbits are dropped
  for (let r = 0; r < count; r++) {
    const at = r * bytes;
    const out = r * words;
    for (let b = 0; b < bytes; b++) {
      const byte = b === bytes - 1 ? packed[at + b]! & lastMask : packed[at + b]!;
      data[out + (b >>> 2)]! |= REVERSED[byte]! << ((b & 3) << 3);
    }
  }
  return { count, nbits, words, data };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A word with the bits of each of its four bytes reversed (the bytes in place). On a
 * little-endian machine this turns a fingerprint word into the four bytes numpy.packbits makes
 * of its 32 bits (a byte's first bit high), and back: it is its own inverse.
 */
export function bitsReversedInBytes(word: number): number {
  let v = word;
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  return v >>> 0;
}

/** The inverse of fromPackbits: packed words into rows of numpy.packbits bytes. */
export function toPackbits(fps: PackedFingerprints): Uint8Array {
  const { count, nbits, words, data } = fps;
  const bytes = (nbits + 7) >>> 3;
  const out = new Uint8Array(count * bytes);
  if (LITTLE_ENDIAN && nbits === 32 * words) {
    // Rows of whole words, a word at a time: on a little-endian machine a word's four bytes, each
    // with its bits reversed, are the four packed bytes. The same bytes, in a quarter of the
    // steps: this runs once per database written, before V8 has compiled it.
    const out32 = new Uint32Array(out.buffer, 0, count * words);
    for (let w = 0; w < out32.length; w++) out32[w] = bitsReversedInBytes(data[w]!);
    return out;
  }
  for (let r = 0; r < count; r++) {
    for (let b = 0; b < bytes; b++) out[r * bytes + b] = REVERSED[(data[r * words + (b >>> 2)]! >>> ((b & 3) << 3)) & 0xff]!;
  }
  return out;
}

/** Packs one fingerprint given as booleans or 0/1 numbers. */
export function packBits(bits: ArrayLike<number | boolean>): Uint32Array {
  const out = new Uint32Array(wordsFor(bits.length));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >>> 5]! |= 1 << (i & 31);
  return out;
}

/** A fingerprint as a string of '0'/'1', bit 0 first (the fixtures' and the reference's order). */
export function bitString(fps: PackedFingerprints, row: number): string {
  let s = '';
  for (let i = 0; i < fps.nbits; i++) {
    s += (fps.data[row * fps.words + (i >>> 5)]! >>> (i & 31)) & 1 ? '1' : '0';
  }
  return s;
}

/**
 * The distance kernel, the one Hamming distance of packed rows: the bits in which the `words`
 * words at x[xAt] and y[yAt] differ. Counting stops once the distance exceeds `limit` (the result
 * is then some value above it); 64-bit rows, the common case, take two popcounts.
 */
export function hamming(x: Uint32Array, xAt: number, y: Uint32Array, yAt: number, words: number, limit = Infinity): number {
  if (words === 2) return popcount32(x[xAt]! ^ y[yAt]!) + popcount32(x[xAt + 1]! ^ y[yAt + 1]!);
  let d = 0;
  for (let k = 0; k < words && d <= limit; k++) d += popcount32(x[xAt + k]! ^ y[yAt + k]!);
  return d;
}

/** Hamming distance in bits between row a of `x` and row b of `y` (both of the same width). */
export function hammingRows(x: PackedFingerprints, a: number, y: PackedFingerprints, b: number): number {
  return hamming(x.data, a * x.words, y.data, b * y.words, x.words);
}

/** The rows of `fps` in the order given by `order` (a permutation or a selection). */
export function selectRows(fps: PackedFingerprints, order: ArrayLike<number>): PackedFingerprints {
  const { words } = fps;
  const data = new Uint32Array(order.length * words);
  for (let i = 0; i < order.length; i++) {
    const src = order[i]! * words;
    data.set(fps.data.subarray(src, src + words), i * words);
  }
  return { count: order.length, nbits: fps.nbits, words, data };
}
