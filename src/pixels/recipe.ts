/**
 * The thumbnail recipes, recorded in the database as its `resample` setting because their bits
 * differ a little (a copy decoded both ways differs by about 2 bits of 64):
 *   libjpeg-scaled-bilinear  JPEGs go to the native helper (jpeg.ts): libjpeg decodes the luma
 *                            alone at 1/8, 1/4 or 1/2 scale, then a triangle filter (in the helper)
 *                            makes the thumbnail, as Pillow's draft mode and BILINEAR do. Other
 *                            formats, and JPEGs the helper leaves (CMYK, damaged), go to sharp.
 *   libvips-linear           every file goes to sharp: one pipeline with JPEG shrink-on-load,
 *                            libvips' greyscale and its linear kernel.
 * No sharp here: the CLI reads these before it knows whether it will decode anything.
 */
import { JpegDecoder } from './jpeg.js';

/** Which decoder reads JPEG files: the native helper, or sharp as for every other format. */
export type JpegDecoderName = 'libjpeg' | 'sharp';

export const JPEG_DECODERS: readonly JpegDecoderName[] = ['libjpeg', 'sharp'];

/** The `resample` setting that each JPEG decoder's recipe is recorded as. */
export const RECIPE: Record<JpegDecoderName, string> = { libjpeg: 'libjpeg-scaled-bilinear', sharp: 'libvips-linear' };

/** The JPEG decoder that a database's `resample` setting calls for (sharp for every other recipe, e.g. the Python imgcmp's). */
export function decoderFor(resample: string): JpegDecoderName {
  return resample === RECIPE.libjpeg ? 'libjpeg' : 'sharp';
}

/** The default JPEG decoder: the native helper where it was built. */
export function defaultJpegDecoder(): JpegDecoderName {
  return JpegDecoder.available() ? 'libjpeg' : 'sharp';
}

/** Why `decoder` cannot be used here, or undefined when it can. */
export function decoderMissing(decoder: JpegDecoderName): string | undefined {
  return decoder === 'libjpeg' && !JpegDecoder.available()
    ? 'the native JPEG decoder (libjpeg) is not built in this installation: install a C compiler and libjpeg headers, then npm run build (see the README)'
    : undefined;
}
