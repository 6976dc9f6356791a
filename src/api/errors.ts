/** The index's own errors (api/index.ts, api/postgres.ts): ImgcmpErrors with a `kind`. */
import { ImgcmpError, type ErrorCode } from '../util/errors.js';

/** What went wrong in an index call, beyond the ImgcmpError code. */
export type IndexErrorKind =
  /** A bad argument (an empty id, a negative k, metadata that is not JSON). */
  | 'invalid'
  /** No entry has this id. */
  | 'not-found'
  /** The source could not be read or decoded as an image. */
  | 'not-image'
  /** The index was closed. */
  | 'closed';

/** An ImgcmpError of the index: `code` as everywhere in imgcmp, `kind` says which of the index's failures it is. */
export class IndexError extends ImgcmpError {
  constructor(
    readonly kind: IndexErrorKind,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(KIND_CODE[kind], message, options);
  }
}

const KIND_CODE: Record<IndexErrorKind, ErrorCode> = { invalid: 'usage', 'not-found': 'usage', 'not-image': 'file', closed: 'usage' };
