/**
 * The page at / of imgcmp serve: upload a picture or give a URL, see the nearest entries with
 * their scores, metadata and thumbnails; open the clusters of the index in the report's view (its
 * style, src/output/html-report.ts). One static document: no external resource, no data in it
 * (everything comes from the API through fetch, so the token applies), and every name and
 * metadata value reaches the page as text (textContent), never as markup. Its only script and
 * style are allowed by their hashes in a strict Content-Security-Policy.
 *
 * The token, when the server wants one, is typed into the page and kept in sessionStorage (this
 * tab only), sent as "Authorization: Bearer"; thumbnails are fetched with it and shown as blob: URLs.
 */
import { createHash } from 'node:crypto';
import { REPORT_STYLE } from '../output/html-report.js';

const STYLE = `${REPORT_STYLE}
form, .row { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; margin: .3rem 0; }
input[type=number] { width: 5rem; } #url { width: 22rem; max-width: 100%; }
#message { min-height: 1.3em; color: #124; } #message.bad { color: #a33; }
#query { display: flex; gap: 1rem; align-items: center; margin: 1rem 0 0; width: 100%; }
#query img { max-width: 200px; max-height: 150px; }
.score { font-weight: bold; color: #2a8a3a; } .meta { font-family: monospace; color: #444; white-space: pre-wrap; }
details { display: inline-block; }
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const results = $('results');
const tokenBox = $('token');
tokenBox.value = sessionStorage.getItem('imgcmp-token') || '';
function auth() {
  const t = sessionStorage.getItem('imgcmp-token');
  return t ? { authorization: 'Bearer ' + t } : {};
}
function say(text, bad) {
  $('message').textContent = text;
  $('message').className = bad ? 'bad' : '';
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
// Calls the API; the envelope's result, or an Error with its reasons.
async function call(path, init) {
  const res = await fetch(path, { ...(init || {}), headers: auth() });
  let body;
  try { body = await res.json(); } catch (e) { body = { status: 'fail', error: ['HTTP ' + res.status], result: [] }; }
  if (res.status === 401) $('auth').open = true;
  if (body.status !== 'ok') throw new Error(body.error.join('; ') || 'HTTP ' + res.status);
  return body.result;
}
async function refreshCount() {
  try { const [n] = await call('count'); $('count').textContent = n + ' pictures in the index'; }
  catch (e) { $('count').textContent = ''; say(e.message, true); }
}
$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem('imgcmp-token', tokenBox.value);
  thumbs.clear();
  say('');
  refreshCount();
});
// Thumbnails: fetched (with the token) when their tile comes into view, shown as blob: URLs.
const thumbs = new Map();
function thumbnail(filepath) {
  if (!thumbs.has(filepath)) {
    thumbs.set(filepath, fetch('thumbnail?filepath=' + encodeURIComponent(filepath), { headers: auth() })
      .then((r) => (r.ok ? r.blob().then((b) => URL.createObjectURL(b)) : null), () => null));
  }
  return thumbs.get(filepath);
}
const lazy = new IntersectionObserver((entries) => {
  for (const en of entries) {
    if (!en.isIntersecting) continue;
    lazy.unobserve(en.target);
    const box = en.target;
    thumbnail(box.dataset.filepath).then((url) => {
      if (!url) { box.textContent = 'no thumbnail'; return; }
      const img = el('img');
      img.alt = '';
      img.src = url;
      box.replaceWith(img);
    });
  }
}, { rootMargin: '300px' });
function figure(filepath, lines) {
  const f = el('figure');
  const box = el('div', 'missing', '…');
  box.dataset.filepath = filepath;
  f.append(box);
  lazy.observe(box);
  const cap = el('figcaption');
  const name = el('a', 'path', filepath);
  name.href = '#';
  name.title = 'search with this picture';
  name.addEventListener('click', (ev) => { ev.preventDefault(); searchWith({ filepath }, filepath); });
  cap.append(name);
  for (const [cls, text] of lines) cap.append(el('span', cls, text));
  f.append(cap);
  return f;
}
function options(form) {
  form.append('limit', $('limit').value || '10');
  if ($('threshold').value) form.append('threshold', $('threshold').value);
  form.append('all_orientations', $('orientations').checked ? 'true' : 'false');
  return form;
}
async function searchWith(fields, label, preview) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  say('searching…');
  let found;
  try { found = await call('search', { method: 'POST', body: options(form) }); }
  catch (e) { say(e.message, true); return; }
  say(found.length + (found.length === 1 ? ' match' : ' matches'));
  const head = el('div');
  head.id = 'query';
  if (preview) { const img = el('img'); img.alt = ''; img.src = preview; head.append(img); }
  head.append(el('h2', '', 'Nearest to ' + label));
  const tiles = el('div', 'members');
  tiles.id = 'found';
  for (const r of found) {
    const meta = r.metadata === null || r.metadata === undefined ? '' : JSON.stringify(r.metadata);
    tiles.append(figure(r.filepath, [['score', 'score ' + r.score.toFixed(2)], ['meta', meta]]));
  }
  results.replaceChildren(head, tiles);
}
$('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const file = $('image').files[0];
  const url = $('url').value.trim();
  if (file) searchWith({ image: file }, file.name, URL.createObjectURL(file));
  else if (url) searchWith({ url }, url);
  else say('choose a picture, or give its URL', true);
});
// The clusters of the index, biggest first, in the report's view, with its filter box.
async function openClusters() {
  const cut = $('cut').value;
  say('clustering…');
  let clusters;
  try { clusters = await call('duplicates' + (cut ? '?cut=' + encodeURIComponent(cut) : '')); }
  catch (e) { say(e.message, true); return; }
  clusters = clusters.map((c, k) => ({ c, k })).sort((a, b) => b.c.length - a.c.length || a.k - b.k).map((x) => x.c);
  say(clusters.length + ' clusters, ' + clusters.reduce((s, c) => s + c.length, 0) + ' pictures');
  results.replaceChildren(...clusters.map((c, k) => {
    const s = el('section', 'cluster');
    s.dataset.paths = c.join('\\n').toLowerCase();
    s.append(el('h2', '', 'Cluster ' + (k + 1) + ' · ' + c.length + ' pictures'));
    const m = el('div', 'members');
    for (const f of c) m.append(figure(f, []));
    s.append(m);
    return s;
  }));
  filter();
}
function filter() {
  const q = $('filter').value.trim().toLowerCase();
  for (const s of results.querySelectorAll('section.cluster')) s.classList.toggle('hidden', !!q && !s.dataset.paths.includes(q));
}
$('clusters').addEventListener('submit', (ev) => { ev.preventDefault(); openClusters(); });
$('filter').addEventListener('input', filter);
refreshCount();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const PAGE_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imgcmp serve</title>
<style>${STYLE}</style></head><body>
<header><h1>imgcmp: find a picture in the index</h1>
<div class="row"><span id="count"></span>
<details id="auth"><summary>Token</summary><form id="token-form"><input type="password" id="token" autocomplete="off" placeholder="the server's --token"> <button type="submit">Use</button> <small>kept in this tab only</small></form></details></div>
<form id="search">
<label>Picture <input type="file" id="image" accept="image/*"></label>
<label>or its URL <input type="url" id="url" placeholder="https://…"></label>
<label>at most <input type="number" id="limit" value="10" min="0" max="10000"></label>
<label>within <input type="number" id="threshold" step="0.005" min="0" max="1" placeholder="0.1484"></label>
<label><input type="checkbox" id="orientations" checked> rotated, mirrored, cropped copies too</label>
<button type="submit">Search</button></form>
<form id="clusters"><button type="submit">Open the clusters</button>
<label>at cut <input type="number" id="cut" step="0.005" min="0" max="1" placeholder="0.1484"></label>
<input id="filter" type="search" placeholder="filter clusters by path…" autocomplete="off"></form>
<div id="message" role="status"></div></header>
<main id="results"></main>
<script>${SCRIPT}</script>
</body></html>
`;

/** The page's headers: a Content-Security-Policy that allows its own script and style only (by hash), images from itself and blob: URLs, and fetches to itself. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "img-src 'self' blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
