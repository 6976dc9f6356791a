#!/usr/bin/env node
/**
 * Decodes every image of a benchmark set once, as find's fingerprinting does (the JPEG decoder
 * find uses, the 128-pixel square source that its views are cut from), and stores the sources
 * for views-research.mjs, so that view designs are compared on the same pixels without decoding
 * again:
 *
 *   node test/bench/views-cache.mjs SET_DIR OUT_FILE
 *
 * OUT_FILE: a JSON head line {names, width, height, side, failed} and then Float64 pixels,
 * side² per file in name order. width/height: the upright size (sharp's metadata).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { greyThumbnail } from '../../dist/src/pixels/decode.js';
import { defaultJpegDecoder } from '../../dist/src/pixels/recipe.js';

const [dir, out] = process.argv.slice(2);
const side = 128;
const images = path.join(dir, 'images');
const names = fs.readdirSync(images).sort();
const decoder = defaultJpegDecoder();
const pixels = new Float64Array(names.length * side * side);
const width = new Array(names.length).fill(0);
const height = new Array(names.length).fill(0);
const failed = [];
let next = 0;
async function worker() {
  while (next < names.length) {
    const k = next++;
    const file = path.join(images, names[k]);
    try {
      const p = await greyThumbnail(file, side, decoder);
      pixels.set(Float64Array.from(p), k * side * side);
      const meta = await sharp(file).metadata();
      const swap = (meta.orientation ?? 1) >= 5;
      width[k] = swap ? meta.height : meta.width;
      height[k] = swap ? meta.width : meta.height;
    } catch (err) {
      failed.push(names[k]);
      console.error(`${names[k]}: ${err.message}`);
    }
  }
}
await Promise.all([worker(), worker(), worker()]);
const head = Buffer.from(JSON.stringify({ names, width, height, side, decoder, failed }) + '\n');
fs.writeFileSync(out, Buffer.concat([head, Buffer.from(pixels.buffer)]));
console.log(`${names.length} files (${failed.length} failed) → ${out}`);
process.exit(0);
