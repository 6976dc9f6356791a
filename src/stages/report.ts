/**
 * The report stage: clusters → the HTML page and its thumbnail folder. Reads each member's size
 * and date, makes a small thumbnail, and measures each member's distance to the one to keep
 * with the database's fingerprints (the same distance as clustering used).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { bestView, pictureDistance } from '../index/views.js';
import { cutBits as toCutBits } from '../index/cut.js';
import { bySize } from '../output/layout.js';
import { fsPath } from '../walk/fspath.js';
import { dendrogramOrder } from '../cluster/dendrogram-order.js';
import { selfViewsPerFile, viewInWords, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { readDb, type FingerprintDb } from '../db/database.js';
import { chooseKeeper, type KeepRule } from '../actions/keep.js';
import { inspect } from '../actions/inspect.js';
import { renderReport, REPORT_MARK, type ReportMember } from '../output/html-report.js';
import { loadClusters, type ClusterSource } from './clusters.js';
import { redundancyOf, type Redundancy } from './redundancy.js';
import { replaceFolder, type OwnedFolder } from '../util/replace.js';
import { forEachLimited } from '../util/pool.js';
import { reasonOf } from '../util/errors.js';
import { sharpSource } from '../pixels/decode.js';
import { specialFormat, specialSharp } from '../pixels/formats.js';
import { checkOurs, commitFile, prepareFile, writeError, type Ours } from '../util/safe-write.js';

const THUMBS: OwnedFolder = { marker: '.imgcmp-report', writer: 'imgcmp report', ours: (e) => e.isFile() && /^t\d+\.jpg$/.test(e.name) };

/** A function giving the distance in bits between two database files, if both are in it. */
function distanceIn(db: FingerprintDb | undefined): (a: string, b: string) => number | undefined {
  if (!db) return () => undefined;
  const row = new Map(db.files.map((f, i) => [f, i]));
  const d = pictureDistance(db.fps, db.views, viewsPerFile(db.settings), selfViewsPerFile(db.settings), viewPenaltyOf(db.settings));
  return (a, b) => {
    const i = row.get(a);
    const j = row.get(b);
    return i === undefined || j === undefined ? undefined : d(i, j);
  };
}

/** How database file `copy` matches `keeper`: the distance and the view, in words; undefined if either is not in it. */
function matchIn(db: FingerprintDb | undefined): (keeper: string, copy: string) => { bits: number; how: string } | undefined {
  if (!db) return () => undefined;
  const row = new Map(db.files.map((f, i) => [f, i]));
  const best = bestView(db.fps, db.views, viewsPerFile(db.settings), selfViewsPerFile(db.settings), viewPenaltyOf(db.settings));
  return (keeper, copy) => {
    const i = row.get(keeper);
    const j = row.get(copy);
    if (i === undefined || j === undefined) return undefined;
    const m = best(i, j);
    return { bits: m.bits, how: viewInWords(db.settings, m.view, m.of === 'i') };
  };
}

/** The SHA-256 of a file's bytes, or undefined when it cannot be read. */
function sha256Of(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    fs.createReadStream(fsPath(file))
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', () => resolve(undefined));
  });
}

/** Above this many members a cluster keeps its path order (the dendrogram costs O(n³)). */
const MOST_ORDERED = 400;

/**
 * The members of a cluster in their dendrogram's leaf order (average linkage on the members'
 * distances), `keeper` first, so that close copies sit side by side. Clusters of two or fewer
 * or more than MOST_ORDERED members, and those with a distance unknown, keep their order.
 */
function inDendrogramOrder(
  list: readonly ReportMember[],
  keeper: string,
  distance: (a: string, b: string) => number | undefined,
): readonly ReportMember[] {
  if (list.length <= 2 || list.length > MOST_ORDERED) return list;
  // Rows by path, so that equal distances are settled the same way on every run.
  const rows = [...list].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const matrix = rows.map(() => new Array<number>(rows.length).fill(0));
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      const d = distance(rows[i]!.file, rows[j]!.file);
      if (d === undefined) return list;
      matrix[i]![j] = matrix[j]![i] = d;
    }
  }
  return dendrogramOrder(matrix, rows.findIndex((m) => m.file === keeper)).map((i) => rows[i]!);
}

export interface ReportJob {
  source: ClusterSource;
  output: string;
  rules: readonly KeepRule[];
  /** How the clusters were made, in words, for the page's header. */
  description: string;
  inFlight: number;
  /** Called once the clusters are known, with the number of pictures. */
  onStart?: (pictures: number) => void;
  onDone?: () => void;
  /** A picture that could not be thumbnailed (the page shows it without one), with the reason. */
  onFailed?: (file: string, reason: string) => void;
}

/** A page that imgcmp report wrote: the only HTML file it replaces. */
const reportPage: Ours = (head) => head.includes(REPORT_MARK);

/**
 * Writes the report page of the clusters of `job.source` and its thumbnail folder. Returns the
 * counts and the page's path. Throws an ImgcmpError when the clusters cannot be had, or the page
 * or its folder is not imgcmp's to replace.
 */
export async function runReport(job: ReportJob): Promise<{ clusters: number; pictures: number; page: string } & Redundancy> {
  const page = path.resolve(job.output);
  const thumbsDir = page.replace(/\.html?$/i, '') + '_files';
  const src = job.source;
  const loaded = await loadClusters(src);
  // Distances come from the database; with --from-json, from the database if there is one.
  const db = loaded.db ?? (fs.existsSync(src.dbfile) ? await readDb(src.dbfile).catch(() => undefined) : undefined);
  job.onStart?.(loaded.clustering.clusters.flat().length);
  checkOurs(page, reportPage, 'imgcmp report');
  // Biggest clusters first; then by first path, as everywhere.
  const clusters = [...loaded.clustering.clusters].sort((a, b) => b.length - a.length || (a[0]! < b[0]! ? -1 : 1));
  const files = clusters.flat();
  const distance = distanceIn(db);
  const match = matchIn(db);
  // Each cluster's folder name in the symlink tree (cluster_with_N/cluster_K), from the clusters in the clustering's order.
  const names = new Map<readonly string[], string>();
  for (const [size, list] of bySize(loaded.clustering.clusters)) list.forEach((c, k) => names.set(c, `cluster_with_${size}/cluster_${k}`));
  const cut = db && Number.isFinite(loaded.clustering.absoluteCut) ? toCutBits(loaded.clustering.absoluteCut, db.fps.nbits) : undefined;
  const members = new Map<string, ReportMember>();
  let redundancy: Redundancy = { redundantFiles: 0, redundantBytes: 0 };
  const renderPage = (): string => {
    const model = clusters.map((c) => {
      const list = c.map((f) => members.get(f)!);
      const keeper = chooseKeeper(job.rules, list);
      const ordered = inDendrogramOrder(list, keeper.file, distance).map((m): ReportMember => {
        if (m.file === keeper.file) return { ...m, keep: true, bits: 0 };
        const how = match(keeper.file, m.file);
        return { ...m, keep: false, bits: how?.bits, how: how?.how, beyondCut: how !== undefined && cut !== undefined && how.bits > cut };
      });
      return { name: names.get(c)!, members: ordered };
    });
    redundancy = redundancyOf(clusters, (f) => members.get(f)?.bytes);
    return renderReport({
      title: 'imgcmp: near-duplicate pictures',
      source: job.description,
      nbits: db?.fps.nbits,
      ...(cut !== undefined ? { cutBits: cut } : {}),
      ...redundancy,
      clusters: model,
    });
  };
  let pageTmp: string | undefined;
  await replaceFolder(thumbsDir, THUMBS, async (dir) => {
    let failure: unknown;
    await forEachLimited(
      files,
      job.inFlight,
      async (file, k) => {
        const info = await inspect(file).catch(() => ({ file, width: 0, height: 0, bytes: 0, mtimeMs: 0 }));
        const name = `t${k}.jpg`;
        // HEIC, RAW and BMP through imgcmp's decoders (formats.ts): the thumbnail is a JPEG all the same.
        const special = specialFormat(file);
        const source = special ? specialSharp(file, special, 200) : sharpSource(file).catch(() => Buffer.alloc(0)).then((s) => sharp(s, { autoOrient: true, failOn: 'error' }));
        const jpeg = await source
          .then((image) => image.resize(200, 150, { fit: 'inside', withoutEnlargement: true })
          .flatten({ background: '#ffffff' })
          .jpeg({ quality: 70 })
          .toBuffer())
          .catch((err: unknown) => {
            job.onFailed?.(file, `no thumbnail: ${reasonOf(err)}`);
            return undefined;
          });
        // A picture that does not decode gets no thumbnail; a thumbnail that cannot be written
        // (a full disk) fails the report, leaving the old one as it was.
        if (jpeg) {
          try {
            fs.writeFileSync(path.join(dir, name), jpeg, { flag: 'wx' });
          } catch (err) {
            throw writeError(thumbsDir, err);
          }
        }
        const ok = !!jpeg;
        const sha256 = await sha256Of(file);
        members.set(file, { ...info, thumb: ok ? `${path.basename(thumbsDir)}/${name}` : undefined, sha256, keep: false });
      },
      (result) => {
        if (result.status === 'rejected') failure ??= result.reason;
        job.onDone?.();
      },
      () => failure !== undefined,
    );
    if (failure !== undefined) throw failure;
    // The page is written (under a temporary name) before the thumbnails are swapped in, so that
    // a failed write leaves both the old page and its thumbnails.
    pageTmp = prepareFile(page, renderPage());
  }).catch((err: unknown) => {
    if (pageTmp) fs.rmSync(pageTmp, { force: true });
    throw err;
  });
  commitFile(pageTmp!, page);
  return { clusters: clusters.length, pictures: files.length, page, ...redundancy };
}
