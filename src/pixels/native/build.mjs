#!/usr/bin/env node
/**
 * Builds the native JPEG helper (jpeg-grey.c) into dist/native/, as part of `npm run build`.
 *
 * It needs a C compiler and libjpeg's headers (Debian: apt-get install gcc libc6-dev
 * libjpeg-dev). Without them the build says so and goes on: imgcmp then decodes JPEGs with
 * sharp, which is slower and gives slightly different bits (databases record which was used).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const sources = [path.join(here, 'jpeg-grey.c'), path.join(here, 'view-bits.c')];
const target = path.join(root, 'dist', 'native', 'imgcmp-jpeg-grey');

fs.mkdirSync(path.dirname(target), { recursive: true });
fs.rmSync(target, { force: true });
// The compiler named by $CC, else the first of cc, gcc and clang that runs.
const compilers = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
// -ffp-contract=off: no fused multiply-add, whose one rounding where the TypeScript code has two
// would change the views' bits (view-bits.c); -O3 vectorises its matrix products (each lane its
// own sum, in order). Never -ffast-math.
const args = ['-O3', '-ffp-contract=off', '-std=c99', '-Wall', '-Wextra', '-o', target, ...sources, '-ljpeg', '-lm'];
let why = '';
for (const cc of compilers) {
  const result = spawnSync(cc, args, { encoding: 'utf8' });
  if (result.error) {
    why ||= `${cc}: ${result.error.message}`;
    continue;
  }
  if (result.status === 0) {
    console.log(`imgcmp: built the native JPEG decoder (${path.relative(root, target)}) with ${cc}`);
    process.exit(0);
  }
  // A compiler that runs but fails (no jpeglib.h, no -ljpeg) says why; another would say the same.
  why = `${cc}: ${result.stderr.trim().split('\n').find((l) => /error/i.test(l)) ?? `exited with status ${result.status}`}`;
  break;
}
console.warn(
  `imgcmp: WARNING: the native JPEG decoder was not built (${why}).\n` +
    'imgcmp works without it but decodes JPEGs with sharp: slower, and fingerprints slightly different.\n' +
    'To build it: install a C compiler and libjpeg headers (Debian: apt-get install gcc libc6-dev libjpeg-dev), then npm run build.',
);
