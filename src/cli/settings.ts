/**
 * Options in, settings out: every option that more than one command takes is declared here once,
 * and turned here into the typed settings that the stages take (database path, hash settings,
 * the cut, keep rules). A bad value is rejected while parsing, naming the valid ones.
 */
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseKeepRules, type KeepRule } from '../actions/keep.js';
import { LINKAGES, type Linkage } from '../cluster/linkage.js';
import { METHODS } from '../hash/methods.js';
import { HASH_VERSION, type HashSettings } from '../hash/settings.js';
import { decoderMissing, defaultJpegDecoder, JPEG_DECODERS, RECIPE, type JpegDecoderName } from '../pixels/recipe.js';
import type { ClusterSource } from '../stages/clusters.js';
import { ImgcmpError } from '../util/errors.js';

// ---- imgcmp's home folder ($IMGCMP_HOME, default ~/.imgcmp), as the Python imgcmp laid it out.

function home(): string {
  return path.resolve(process.env['IMGCMP_HOME'] || path.join(os.homedir(), '.imgcmp'));
}

/** The default locations inside the home folder. */
export const defaults = {
  convertDir: (): string => path.join(home(), 'convert'),
  dbFile: (): string => path.join(home(), 'fingerprints.hdf'),
  clusterDir: (): string => path.join(home(), 'cluster'),
  /** find's own database (its settings differ from imgcmp's x = 8 fingerprints.hdf). */
  findDbFile: (): string => path.join(home(), 'find.hdf'),
  findDir: (): string => path.join(home(), 'duplicates'),
};

// ---- Value parsers: each rejects a bad value with the values it takes.

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

/** The hash size x: 2 ≤ x ≤ 64 (x² bits; 64 gives 4096-bit fingerprints). */
export function hashSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 64) throw new InvalidArgumentError('expected a whole number from 2 to 64');
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('expected a number with 0 < FRACTION ≤ 1');
  return n;
}

/** A cut or a distance as a fraction: 0 ≤ value ≤ 1. */
export function cutFraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** Keep rules ("largest,newest"); repeated options add rules to break the ties in order. */
function keepRules(value: string, previous: KeepRule[] = []): KeepRule[] {
  try {
    return [...previous, ...parseKeepRules([value])];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Default number of images in flight: the cores, and at least the 4 threads of libuv's pool. */
export function defaultInFlight(): number {
  return Math.max(4, os.availableParallelism());
}

// ---- Option declarations shared by several commands.

/** -f, --dbfile: the fingerprint database. */
export function withDbfile(cmd: Command): Command {
  return cmd.option('-f, --dbfile <file>', 'database file (default: $IMGCMP_HOME/fingerprints.hdf)');
}

/** --keep RULE: which picture of a cluster to keep. */
export function keepOption(description: string, fallback?: string): Option {
  if (!fallback) return new Option('--keep <rules>', description).argParser(keepRules);
  // commander hands the default to the first --keep as "previous": the rules given replace the
  // default, and later --keep options add to them.
  const byDefault = parseKeepRules([fallback]);
  return new Option('--keep <rules>', description)
    .argParser((v: string, previous: KeepRule[]) => keepRules(v, previous === byDefault ? [] : previous))
    .default(byDefault, fallback);
}

/** --decoder: which decoder reads JPEG files (a database records the one it was made with). */
export function decoderOption(): Option {
  return new Option('--decoder <name>', 'JPEG decoder: libjpeg (the native helper: fast; the default where it was built) or sharp').choices([...JPEG_DECODERS]);
}

/** The options that decide a fingerprint: --method, -x, --orientations, --crops, --borders, --edits, --coarse, --decoder. */
export function withHashOptions(cmd: Command, help: { x: string; orientations: string; crops: string }): Command {
  return cmd
    .addOption(new Option('--method <name>', 'hash method').choices([...METHODS.keys()]).default('phash'))
    .option('-x <n>', help.x, hashSize, 8)
    .option('--orientations', help.orientations)
    .option('--crops', help.crops)
    .option('--borders', 'also store the fingerprints of the picture inside a plain frame (border, letterbox, pillarbox): finds framed copies')
    .option('--edits', "also store the views of editors' edits, as find does: turns of ±2.5° and ±5°, the picture without a strip of 12 % at its bottom or top (pictures of low detail: upright and whole only)")
    .option('--coarse <x>', 'also store coarse x-by-x fingerprints of the views, which find candidate pairs fast (find uses 8 with -x 16)', hashSize)
    .addOption(decoderOption());
}

/** The options that say which clusters report and dedupe act on. */
export function withClusterSource(cmd: Command): Command {
  return withDbfile(cmd.argument('[sim]', 'cut, as for imgcmp cluster (or give --from-json)', cutFraction))
    .option('--from-json <file>', 'clusters written by imgcmp cluster --json, instead of SIM')
    .option('--absolute', 'SIM is a fraction of the fingerprint bits')
    .addOption(linkageOption())
    .option('--include-flat', 'cluster flat pictures too');
}

export function linkageOption(): Option {
  return new Option('--linkage <method>', 'how cluster distances are measured').choices(LINKAGES).default('average');
}

// ---- Builders: parsed options → settings.

export interface DbOptions {
  dbfile?: string;
}

/** The database path: --dbfile, else $IMGCMP_HOME/fingerprints.hdf. */
export function dbPath(opts: DbOptions): string {
  return opts.dbfile ?? defaults.dbFile();
}

export interface HashOptions {
  method: string;
  x: number;
  orientations?: boolean;
  crops?: boolean;
  borders?: boolean;
  edits?: boolean;
  coarse?: number;
  decoder?: string;
}

/** The JPEG decoder to use: the one asked for, else `implied` (a database's), else the default; refused if not built. */
export function chosenDecoder(asked: string | undefined, implied?: JpegDecoderName): JpegDecoderName {
  const decoder = (asked as JpegDecoderName | undefined) ?? implied ?? defaultJpegDecoder();
  const missing = decoderMissing(decoder);
  if (missing) throw new ImgcmpError('usage', missing);
  return decoder;
}

/** Hash settings from the hash options, with the decoder given (or the one --decoder asks for). */
export function hashSettings(opts: HashOptions, decoder: JpegDecoderName = chosenDecoder(opts.decoder)): HashSettings {
  if (opts.coarse !== undefined && opts.coarse >= opts.x) throw new ImgcmpError('usage', `--coarse ${opts.coarse} must be smaller than -x ${opts.x}`);
  return {
    method: opts.method,
    x: opts.x,
    orientations: !!opts.orientations,
    crops: !!opts.crops,
    ...(opts.borders ? { borders: true } : {}),
    ...(opts.edits ? { edits: true } : {}),
    ...(opts.coarse ? { coarseX: opts.coarse } : {}),
    resample: RECIPE[decoder],
    hashVersion: HASH_VERSION,
  };
}

export interface SourceOptions extends DbOptions {
  fromJson?: string;
  absolute?: boolean;
  linkage: Linkage;
  includeFlat?: boolean;
}

/** Where the clusters come from, and how they are cut. */
export function clusterSource(cut: number | undefined, opts: SourceOptions): ClusterSource {
  return {
    dbfile: dbPath(opts),
    cut,
    absolute: !!opts.absolute,
    linkage: opts.linkage,
    includeFlat: !!opts.includeFlat,
    fromJson: opts.fromJson,
  };
}

/** How the clusters were made, in words. */
export function describeSource(src: ClusterSource): string {
  if (src.fromJson) return `clusters from ${src.fromJson}`;
  return `${src.linkage} linkage, cut ${src.cut}${src.absolute ? ' (absolute)' : ' × largest distance'}, database ${src.dbfile}`;
}
