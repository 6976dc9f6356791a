/**
 * The visual report: one self-contained HTML page of the clusters, biggest first, with a filter
 * box. Thumbnails live in a folder beside the page and load lazily, so a report of thousands of
 * clusters opens at once. Pure rendering: the data comes from the report stage.
 */
import { display, fileUrl } from '../walk/fspath.js';
import { humanBytes } from './units.js';

/** A modification time as "YYYY-MM-DD hh:mm" (UTC), or "unknown" outside the dates a Date can hold. */
function dateOf(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString().slice(0, 16).replace('T', ' ') : 'unknown';
}

export interface ReportMember {
  file: string;
  width: number;
  height: number;
  bytes: number;
  mtimeMs: number;
  /** Thumbnail, relative to the page; undefined when the picture could not be read. */
  thumb?: string;
  /** Distance in bits to the member to keep (undefined when unknown). */
  bits?: number;
  /** How it matched the member to keep, in words ("rotated 90°"; "" for upright and whole). */
  how?: string;
  /** SHA-256 of the file's bytes (undefined when it could not be read). */
  sha256?: string;
  /** Farther from the member to keep than the cut (average linkage allows it). */
  beyondCut?: boolean;
  keep: boolean;
}

export interface ReportCluster {
  /** The cluster's folder in the symlink tree: cluster_with_N/cluster_K. */
  name: string;
  members: ReportMember[];
}

export interface ReportModel {
  title: string;
  /** How the clusters were made, for the page's header. */
  source: string;
  nbits?: number;
  /** The cut in bits, when known. */
  cutBits?: number;
  /** Files beyond one per cluster, and their bytes. */
  redundantFiles: number;
  redundantBytes: number;
  clusters: ReportCluster[];
}

/** Marks a page written by imgcmp report (and so replaceable). */
export const REPORT_MARK = '<!-- written by imgcmp report -->';

/**
 * The report's look: its header, clusters and picture tiles (figure, figcaption, .missing), also
 * used by the page of imgcmp serve (src/serve/page.ts).
 */
export const REPORT_STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #222; background: #fafafa; }
header { position: sticky; top: 0; background: #fafafa; padding: .8rem 0; border-bottom: 1px solid #ddd; z-index: 1; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1rem; margin: 1.2rem 0 .5rem; font-weight: 600; }
h2 .name { font-weight: normal; color: #666; font-family: monospace; } h2 label { font-weight: normal; margin-left: .6rem; }
#filter { width: min(40rem, 100%); padding: .4rem; font-size: 1rem; }
main { display: flex; flex-wrap: wrap; gap: 0 2.5rem; align-items: flex-start; }
section.cluster { max-width: 100%; }
.members { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; width: 210px; background: #fff; border: 2px solid #ddd; border-radius: 6px; padding: 5px; }
figure.keep { border-color: #2a8a3a; }
figure.stays { border-style: dashed; }
figure img, .missing { width: 200px; height: 150px; object-fit: contain; background: #eee; display: block; }
.missing { display: flex; align-items: center; justify-content: center; color: #a33; }
figcaption { font-size: 12px; word-break: break-all; display: flex; flex-direction: column; gap: 2px; margin-top: 4px; }
figcaption a.path { color: #124; text-decoration: none; } .keep .dist { color: #2a8a3a; font-weight: bold; }
.same { color: #1a5fb4; } .beyond { color: #b45309; font-weight: bold; }
.choice { margin-top: 3px; word-break: normal; }
section.apart figure { opacity: .45; } section.apart .choice { visibility: hidden; }
.hidden { display: none; }
`;

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const size = humanBytes;

/** "byte-identical to the keeper" / "… to NAME" for a member that shares its bytes with another. */
function identical(m: ReportMember, all: readonly ReportMember[]): string {
  if (!m.sha256) return '';
  const same = all.filter((o) => o !== m && o.sha256 === m.sha256);
  if (!same.length) return '';
  const keeper = same.find((o) => o.keep);
  return `byte-identical to ${keeper ? 'the keeper' : same.map((o) => display(o.file).split('/').pop()).join(', ')}`;
}

function member(m: ReportMember, i: number, k: number, all: readonly ReportMember[], model: ReportModel): string {
  const href = escapeHtml(fileUrl(m.file));
  const img = m.thumb
    ? `<img loading="lazy" decoding="async" src="${escapeHtml(m.thumb)}" alt="">`
    : '<div class="missing">unreadable</div>';
  const nbits = model.nbits;
  const distance = m.keep
    ? 'keep'
    : m.bits === undefined
      ? 'distance unknown'
      : `${m.bits} bits${nbits ? ` (${(m.bits / nbits).toFixed(3)})` : ''}${m.how ? ` · ${m.how}` : ''}`;
  const same = identical(m, all);
  const flags = [
    same ? `<span class="same">${escapeHtml(same)}</span>` : '',
    m.beyondCut ? `<span class="beyond">beyond the cut (${model.cutBits !== undefined ? `more than ${Math.floor(model.cutBits)} bits from the keeper` : 'far from the keeper'})</span>` : '',
  ].join('');
  return `<figure${m.keep ? ' class="keep"' : ''} data-i="${i}"><a href="${href}" title="open the original">${img}</a>
<figcaption><a class="path" href="${href}">${escapeHtml(display(m.file))}</a>
<span>${m.width} × ${m.height} px · ${size(m.bytes)} · ${dateOf(m.mtimeMs)}</span>
<span class="dist">${escapeHtml(distance)}</span>${flags}
<span class="choice"><label><input type="radio" name="keep-${k}" value="${i}"${m.keep ? ' checked' : ''}> keep</label> <label><input type="checkbox" class="mv"${m.keep ? ' disabled' : ' checked'}> move aside</label></span></figcaption></figure>`;
}

/** JSON for a <script> element: "<" escaped, so that no path can close the element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/**
 * The HTML page of `model`: one section per cluster in the model's order, each member with its
 * thumbnail, size, date and distance to the kept one, and a filter box; REPORT_MARK on top so a
 * later run may replace it. Returns the page as text; pure, throws nothing.
 */
export function renderReport(model: ReportModel): string {
  const clusters = model.clusters
    .map(
      (c, k) => `<section class="cluster" data-k="${k}" data-paths="${escapeHtml(c.members.map((m) => display(m.file).toLowerCase()).join('\n'))}">
<h2>Cluster ${k + 1} · ${c.members.length} pictures · <span class="name">${escapeHtml(c.name)}</span> <label class="apart"><input type="checkbox" class="nodup"> not duplicates</label></h2>
<div class="members">${c.members.map((m, i) => member(m, i, k, c.members, model)).join('\n')}</div></section>`,
    )
    .join('\n');
  const pictures = model.clusters.reduce((s, c) => s + c.members.length, 0);
  const data = model.clusters.map((c) => ({ name: c.name, files: c.members.map((m) => m.file) }));
  return `<!DOCTYPE html>
${REPORT_MARK}
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(model.title)}</title>
<style>
${REPORT_STYLE}</style></head><body>
<header><h1>${escapeHtml(model.title)}</h1>
<div>${model.clusters.length} clusters, ${pictures} pictures · ${model.redundantFiles} redundant files (${size(model.redundantBytes)}) · ${escapeHtml(model.source)} · green: the picture to keep</div>
<input id="filter" type="search" placeholder="filter by path…" autocomplete="off"> <span id="shown"></span>
<button id="save" type="button">Save decisions</button> <span id="saved"></span></header>
<main>
${clusters}
</main>
<script id="imgcmp-clusters" type="application/json">${scriptJson({ source: model.source, clusters: data })}</script>
<script>
const data = JSON.parse(document.getElementById('imgcmp-clusters').textContent);
const sections = [...document.querySelectorAll('section.cluster')];
const shown = document.getElementById('shown');
function apply() {
  const q = document.getElementById('filter').value.trim().toLowerCase();
  let n = 0;
  for (const s of sections) { const hit = !q || s.dataset.paths.includes(q); s.classList.toggle('hidden', !hit); if (hit) n++; }
  shown.textContent = q ? n + ' of ' + sections.length + ' clusters' : '';
}
document.getElementById('filter').addEventListener('input', apply);
// The decisions: a keeper per cluster (radio), the members to move (ticked), "not duplicates".
function refresh(s) {
  s.classList.toggle('apart', s.querySelector('input.nodup').checked);
  for (const f of s.querySelectorAll('figure')) {
    const keep = f.querySelector('input[type=radio]').checked;
    const mv = f.querySelector('input.mv');
    f.classList.toggle('keep', keep);
    if (keep) mv.checked = false;
    else if (mv.disabled) mv.checked = true; // the keeper before: moved aside, like the others
    mv.disabled = keep;
    f.classList.toggle('stays', !keep && !mv.checked);
  }
}
for (const s of sections) s.addEventListener('change', () => refresh(s));
function decisions() {
  return {
    imgcmp: 'decisions', version: 1, source: data.source,
    clusters: sections.map((s) => {
      const c = data.clusters[Number(s.dataset.k)];
      if (s.querySelector('input.nodup').checked) return { name: c.name, files: c.files, notDuplicates: true };
      const figs = [...s.querySelectorAll('figure')];
      const file = (f) => c.files[Number(f.dataset.i)];
      const keeper = figs.find((f) => f.querySelector('input[type=radio]').checked);
      return { name: c.name, files: c.files, keep: file(keeper), move: figs.filter((f) => f !== keeper && f.querySelector('input.mv').checked).map(file) };
    }),
  };
}
document.getElementById('save').addEventListener('click', () => {
  const blob = new Blob([JSON.stringify(decisions(), null, 1) + '\\n'], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'imgcmp-decisions.json';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  document.getElementById('saved').textContent = 'saved imgcmp-decisions.json: apply it with imgcmp dedupe --plan FILE --move-to DIR';
});
</script>
</body></html>
`;
}
