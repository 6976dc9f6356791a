/**
 * The recipe of phash's views as the native JPEG helper takes it (pixels/native/view-bits.c),
 * for it to compute the bits of a JPEG's views itself: the settings, the constants of views.ts,
 * detail.ts and methods.ts, and the numbers that come from Math.cos and Math.sin (the DCT
 * matrices, the turns, the detail measure's start), computed here so that the helper's are
 * these very numbers (a C library's cosine may differ from V8's in the last bit). Pure.
 *
 * Layout (doubles): 1 (the layout's version), x, coarse x (0: none), orientations, crops,
 * borders, edits (0/1), the source side m, STRIP, LOW_DETAIL, FRAME_TOLERANCE,
 * FRAME_LINE_SHARE, FRAME_MIN, FRAME_MAX, FLAT_STD; the number of view classes cut as central
 * shares and those shares (1 first); the number of edit views and, for each, its kind
 * (0 a straighten turn, 1 a grown turn, 2 a strip at the bottom, 3 at the top), its angle in
 * degrees, cos and sin of the angle, of its magnitude, and cos of twice its magnitude (as
 * views.ts turned, straightenKeep and grownKeep compute them); then the DCT rows (x × 4x), the
 * coarse ones (coarse x × 4 coarse x) and, with edits, the detail measure's start (4x × 3).
 */
import { LOW_DETAIL, detailStart } from './detail.js';
import { FLAT_STD } from './methods.js';
import { cachedDctRows } from './phash.js';
import type { HashSettings } from './settings.js';
import { CROPS, EDIT_VIEWS, FRAME_LINE_SHARE, FRAME_MAX, FRAME_MIN, FRAME_TOLERANCE, STRIP, cropSourceSide, needsSource } from './views.js';

const LAYOUT_VERSION = 1;

/**
 * Whether the helper computes these settings' bits: phash with views cut from a larger source
 * (as `imgcmp find` hashes), its coarse views, if any, the views' thumbnails halved (as
 * view-fingerprints.ts makes them when the coarse side is half the side).
 */
export function nativeViewsFit(settings: HashSettings): boolean {
  const side = 4 * settings.x;
  return (
    settings.method === 'phash' &&
    needsSource(settings) &&
    settings.x >= 1 &&
    settings.x <= 32 &&
    cropSourceSide(side) >= side &&
    (!settings.coarseX || 8 * settings.coarseX === side)
  );
}

/** The recipe for `settings` (nativeViewsFit must hold), in the layout above. */
export function nativeViewSpec(settings: HashSettings): Float64Array {
  const x = settings.x;
  const side = 4 * x;
  const cx = settings.coarseX ?? 0;
  const crops = settings.crops ? [...CROPS] : [1];
  const edits = settings.edits === true ? EDIT_VIEWS : [];
  const out: number[] = [
    LAYOUT_VERSION,
    x,
    cx,
    settings.orientations ? 1 : 0,
    settings.crops ? 1 : 0,
    settings.borders === true ? 1 : 0,
    settings.edits === true ? 1 : 0,
    cropSourceSide(side),
    STRIP,
    LOW_DETAIL,
    FRAME_TOLERANCE,
    FRAME_LINE_SHARE,
    FRAME_MIN,
    FRAME_MAX,
    FLAT_STD,
    crops.length,
    ...crops,
    edits.length,
  ];
  for (const e of edits) {
    if ('strip' in e) {
      out.push(e.strip === 'bottom' ? 2 : 3, 0, 0, 0, 0, 0, 0);
      continue;
    }
    // The same expressions as views.ts: turned's t, straightenKeep's and grownKeep's.
    const t = (e.turn * Math.PI) / 180;
    const abs = (Math.abs(e.turn) * Math.PI) / 180;
    out.push(e.keep === 'straighten' ? 0 : 1, e.turn, Math.cos(t), Math.sin(t), Math.cos(abs), Math.sin(abs), Math.cos(2 * abs));
  }
  out.push(...cachedDctRows(x, side));
  if (cx) out.push(...cachedDctRows(cx, 4 * cx));
  if (settings.edits === true) out.push(...detailStart(side));
  return Float64Array.from(out);
}
