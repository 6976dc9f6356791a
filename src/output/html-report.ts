/**
 * The visual report: one self-contained HTML page of the clusters, biggest first, with a filter
 * box. Thumbnails live in a folder beside the page and load lazily, so a report of thousands of
 * clusters opens at once. Pure rendering: the data comes from the report stage.
 */
import { display, fileUrl } from '../walk/fspath.js';

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
  keep: boolean;
}

export interface ReportModel {
  title: string;
  /** How the clusters were made, for the page's header. */
  source: string;
  nbits?: number;
  clusters: ReportMember[][];
}

/** Marks a page written by imgcmp report (and so replaceable). */
export const REPORT_MARK = '<!-- written by imgcmp report -->';

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u ? v.toFixed(1) : v} ${units[u]}`;
}

function member(m: ReportMember, nbits: number | undefined): string {
  const href = escapeHtml(fileUrl(m.file));
  const img = m.thumb
    ? `<img loading="lazy" decoding="async" src="${escapeHtml(m.thumb)}" alt="">`
    : '<div class="missing">unreadable</div>';
  const distance =
    m.keep ? 'keep' : m.bits === undefined ? 'distance unknown' : `${m.bits} bits${nbits ? ` (${(m.bits / nbits).toFixed(3)})` : ''}`;
  return `<figure class="${m.keep ? 'keep' : ''}"><a href="${href}" title="open the original">${img}</a>
<figcaption><a class="path" href="${href}">${escapeHtml(display(m.file))}</a>
<span>${m.width} × ${m.height} px · ${size(m.bytes)} · ${dateOf(m.mtimeMs)}</span>
<span class="dist">${distance}</span></figcaption></figure>`;
}

/**
 * The HTML page of `model`: one section per cluster in the model's order, each member with its
 * thumbnail, size, date and distance to the kept one, and a filter box; REPORT_MARK on top so a
 * later run may replace it. Returns the page as text; pure, throws nothing.
 */
export function renderReport(model: ReportModel): string {
  const clusters = model.clusters
    .map(
      (c, k) => `<section class="cluster" data-paths="${escapeHtml(c.map((m) => display(m.file).toLowerCase()).join('\n'))}">
<h2>Cluster ${k + 1} · ${c.length} pictures</h2>
<div class="members">${c.map((m) => member(m, model.nbits)).join('\n')}</div></section>`,
    )
    .join('\n');
  const pictures = model.clusters.reduce((s, c) => s + c.length, 0);
  return `<!DOCTYPE html>
${REPORT_MARK}
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(model.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #222; background: #fafafa; }
header { position: sticky; top: 0; background: #fafafa; padding: .8rem 0; border-bottom: 1px solid #ddd; z-index: 1; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1rem; margin: 1.2rem 0 .5rem; }
#filter { width: min(40rem, 100%); padding: .4rem; font-size: 1rem; }
.members { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; width: 210px; background: #fff; border: 2px solid #ddd; border-radius: 6px; padding: 5px; }
figure.keep { border-color: #2a8a3a; }
figure img, .missing { width: 200px; height: 150px; object-fit: contain; background: #eee; display: block; }
.missing { display: flex; align-items: center; justify-content: center; color: #a33; }
figcaption { font-size: 12px; word-break: break-all; display: flex; flex-direction: column; gap: 2px; margin-top: 4px; }
figcaption a.path { color: #124; text-decoration: none; } .keep .dist { color: #2a8a3a; font-weight: bold; }
.hidden { display: none; }
</style></head><body>
<header><h1>${escapeHtml(model.title)}</h1>
<div>${model.clusters.length} clusters, ${pictures} pictures · ${escapeHtml(model.source)} · green: the picture to keep (most pixels, then most bytes)</div>
<input id="filter" type="search" placeholder="filter by path…" autocomplete="off"> <span id="shown"></span></header>
<main>
${clusters}
</main>
<script>
const sections = [...document.querySelectorAll('section.cluster')];
const shown = document.getElementById('shown');
function apply() {
  const q = document.getElementById('filter').value.trim().toLowerCase();
  let n = 0;
  for (const s of sections) { const hit = !q || s.dataset.paths.includes(q); s.classList.toggle('hidden', !hit); if (hit) n++; }
  shown.textContent = q ? n + ' of ' + sections.length + ' clusters' : '';
}
document.getElementById('filter').addEventListener('input', apply);
</script>
</body></html>
`;
}
