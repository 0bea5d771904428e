/**
 * The library page, live: imports (links, picked or dropped files), the list with its search,
 * filters, sorting and pages, per-track pipeline progress, retry/cancel, selection and batch
 * actions.
 *
 * The server renders the first page (`library.html`), so the list, its filters and its pages
 * work as links without this module. It then takes over: the page's data comes from the
 * `data-page` attribute (the same TrackPage JSON as GET /api/v1/tracks), every change goes
 * through the JSON API, and the rows follow the pipeline's events over the page's WebSocket
 * (`live.js`): `tracks:<user id>` for new tracks, status changes and duplicates, and
 * `track:<id>` for each row on screen that is not ready yet (stage changes and progress).
 *
 * Keys: `/` focuses the search, `i` the import box.
 */

import { api, upload } from './api.js';
import { describe, toast } from './app.js';
import { live } from './live.js';
import { applyEvent, h, renderRow, updateProgress } from './track-row.js';

const root = document.getElementById('library');
const list = document.getElementById('track-list');
const filters = document.getElementById('filters');
const search = document.getElementById('search');
const importForm = document.getElementById('import-form');
const importUrl = document.getElementById('import-url');
const fileInput = document.getElementById('import-files');
const uploads = document.getElementById('uploads');
const batch = document.getElementById('batch');
const selectAll = document.getElementById('select-all');
const empty = document.getElementById('empty');
const pager = document.getElementById('pager');
const dialog = document.getElementById('confirm-dialog');
const SEARCH_DELAY_MS = 300;
const FILTER_KEYS = ['q', 'status', 'bpm_min', 'bpm_max', 'key', 'camelot', 'compatible_with'];

const userId = root.dataset.userId;
/** @type {{ items: any[], total: number, limit: number, offset: number }} */
let page = JSON.parse(root.dataset.page);
const tracks = new Map(page.items.map((t) => [t.id, t]));
const selected = new Set();
/** track id → unsubscribe, for the rows on screen that are not ready. */
const following = new Map();
/** existing ids a duplicate toast was shown for lately (the HTTP answer and the event both say it). */
const toldDuplicate = new Set();
let loading = null;
let refreshTimer = 0;

// -- the list ----------------------------------------------------------------------------------

function query() {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of [...params]) if (!value) params.delete(key);
  return params;
}

/** Load the list for the URL's query (after the URL changed), replacing the rows. */
async function load() {
  loading?.abort();
  const controller = new AbortController();
  loading = controller;
  root.setAttribute('aria-busy', 'true');
  try {
    const params = query();
    page = await api(`tracks?${params}`, { signal: controller.signal });
    document.querySelector('[data-filter-error]')?.remove();
    draw();
  } catch (error) {
    if (error?.name !== 'AbortError') toast(describe(error));
  } finally {
    if (loading === controller) {
      loading = null;
      root.removeAttribute('aria-busy');
    }
  }
}

/** Reload soon (several events in a row make one request). */
function refreshSoon(delay = 150) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(load, delay);
}

/**
 * What the page learnt from events may be newer than a list that was read meanwhile (the
 * queue records a job's completion a moment after the worker announced it): keep a stage
 * completed once seen so for the same job, and progress within a running job only grows.
 */
function merge(fresh, known) {
  if (!known) return fresh;
  for (const [index, stage] of (fresh.stages ?? []).entries()) {
    const seen = known.stages?.find((s) => s.stage === stage.stage && s.job_id === stage.job_id);
    if (!seen) continue;
    if (seen.state === 'completed' && stage.state !== 'completed') fresh.stages[index] = seen;
    else if (seen.state === 'executing' && stage.state === 'executing' && seen.progress > stage.progress) {
      fresh.stages[index] = { ...stage, progress: seen.progress, label: seen.label };
    }
  }
  return fresh;
}

function draw() {
  page.items = page.items.map((track) => merge(track, tracks.get(track.id)));
  tracks.clear();
  for (const track of page.items) tracks.set(track.id, track);
  for (const id of [...selected]) if (!tracks.has(id)) selected.delete(id);
  list.replaceChildren(...page.items.map((t) => renderRow(t, { selected: selected.has(t.id) })));
  drawSummary();
  drawPager();
  drawEmpty();
  drawBatch();
  follow();
}

function drawSummary() {
  const summary = document.querySelector('[data-summary]');
  const first = page.offset + 1;
  const last = page.offset + page.items.length;
  summary.textContent = page.total
    ? `${first}–${last} of ${page.total} track${page.total === 1 ? '' : 's'}`
    : filtered() ? 'No tracks match' : 'No tracks';
}

function filtered() {
  const params = query();
  return FILTER_KEYS.some((key) => params.get(key));
}

function drawPager() {
  const link = (offset, rel, label) => {
    const params = query();
    if (offset > 0) params.set('offset', String(offset));
    else params.delete('offset');
    const qs = params.toString();
    return h('a', { class: 'button ghost', rel, href: qs ? `/?${qs}` : '/', 'data-pager': rel }, label);
  };
  pager.replaceChildren(
    page.offset > 0 ? link(Math.max(0, page.offset - page.limit), 'prev', '← Previous') : '',
    page.offset + page.limit < page.total ? link(page.offset + page.limit, 'next', 'Next →') : '',
  );
}

function drawEmpty() {
  empty.hidden = page.items.length > 0;
  if (empty.hidden) return;
  const narrowed = filtered() || page.offset > 0;
  empty.replaceChildren(...(narrowed
    ? [h('h2', {}, 'Nothing matches'),
      h('p', {}, 'No track matches this search or these filters. ',
        h('a', { href: '/' }, 'Show the whole library'), '.')]
    : [h('h2', {}, 'Your library is empty'),
      h('p', {}, 'Paste a Spotify, YouTube or other audio link into the import box above, or '
        + 'drop audio files anywhere on this page. Each track is downloaded, split into stems '
        + 'and analysed for tempo and key; you can watch every stage here as it runs.')]));
}

function rowOf(id) {
  return list.querySelector(`.track[data-track-id="${CSS.escape(id)}"]`);
}

function redraw(id) {
  const track = tracks.get(id);
  const row = rowOf(id);
  if (!track || !row) return;
  row.replaceWith(renderRow(track, { selected: selected.has(id) }));
}

/**
 * Follow `track:<id>` for every row on screen still in the pipeline, and only those. Once the
 * server confirms a new subscription the list is read again: a stage that ended between the
 * list's read and the subscription sent its event to nobody, but its commit came first.
 */
function follow() {
  const wanted = new Set([...tracks.values()].filter((t) => t.status !== 'ready').map((t) => t.id));
  for (const [id, stop] of following) {
    if (!wanted.has(id)) {
      stop();
      following.delete(id);
    }
  }
  for (const id of wanted) {
    if (following.has(id)) continue;
    following.set(id, live.subscribe(`track:${id}`, onTrackEvent, { onSubscribed: () => refreshSoon() }));
  }
}

/** A track's row again from the server (its BPM and key arrive with the analysis). */
async function reloadTrack(id) {
  try {
    const fresh = merge(await api(`tracks/${encodeURIComponent(id)}`), tracks.get(id));
    if (!tracks.has(id)) return;
    tracks.set(id, fresh);
    page.items = page.items.map((t) => (t.id === id ? fresh : t));
    redraw(id);
    follow();
  } catch (error) {
    if (error.status === 404) refreshSoon();
  }
}

// -- events -------------------------------------------------------------------------------------

function onTrackEvent(event) {
  const track = tracks.get(event.track_id);
  if (!track) return;
  if (event.type === 'track.progress' && track.stages?.some(
    (s) => s.stage === event.stage && s.state === 'executing')) {
    applyEvent(track, event);
    const row = rowOf(track.id);
    if (row) updateProgress(row, event.stage, event.fraction, event.label);
    return;
  }
  if (applyEvent(track, event)) redraw(track.id);
  if (event.type === 'track.status' && (event.status === 'ready' || event.status === 'failed')) {
    reloadTrack(track.id);
  }
}

function onLibraryEvent(event) {
  switch (event.type) {
    case 'track.created':
    case 'track.deleted':
      refreshSoon();
      break;
    case 'track.status':
      if (tracks.has(event.track_id)) onTrackEvent(event);
      else if (filtered() && query().get('status')) refreshSoon(500);
      break;
    case 'track.duplicate':
      if (event.track_id && tracks.has(event.track_id)) refreshSoon();
      tellDuplicate(event.existing_id);
      break;
    default:
      break;
  }
}

async function tellDuplicate(existingId, title) {
  if (toldDuplicate.has(existingId)) return;
  toldDuplicate.add(existingId);
  setTimeout(() => toldDuplicate.delete(existingId), 15_000);
  let name = title ?? tracks.get(existingId)?.title;
  if (!name) {
    try {
      name = (await api(`tracks/${encodeURIComponent(existingId)}`)).title;
    } catch {
      name = 'this track';
    }
  }
  toast(`You already have “${name}”; it was not imported again.`, { kind: 'info' });
}

// -- importing --------------------------------------------------------------------------------

function reportOutcome(outcome) {
  const count = outcome.created.length;
  if (count) toast(`Importing ${count} track${count === 1 ? '' : 's'}…`, { kind: 'success' });
  for (const duplicate of outcome.duplicates) tellDuplicate(duplicate.existing_id, duplicate.title);
  if (count) refreshSoon(0);
}

async function importLink(event) {
  event.preventDefault();
  const url = importUrl.value.trim();
  if (!url) return;
  const submit = importForm.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    reportOutcome(await api('imports', { method: 'POST', body: { url } }));
    importUrl.value = '';
  } catch (error) {
    toast(describe(error));
  } finally {
    submit.disabled = false;
  }
}

async function uploadFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  const names = files.length === 1 ? files[0].name : `${files.length} files`;
  const bar = h('progress', { max: 100, value: 0 });
  const words = h('span', { class: 'upload-words' }, 'uploading…');
  const item = h('li', { class: 'upload' }, h('span', { class: 'upload-name' }, names), bar, words);
  uploads.append(item);
  try {
    const outcome = await upload(files, {
      onProgress: ({ fraction }) => {
        bar.value = Math.round(fraction * 100);
        words.textContent = fraction < 1 ? `${Math.round(fraction * 100)}%` : 'checking…';
      },
    });
    reportOutcome(outcome);
  } catch (error) {
    toast(`${names}: ${describe(error)}`);
  } finally {
    item.remove();
  }
}

function hasFiles(event) {
  return [...(event.dataTransfer?.types ?? [])].includes('Files');
}

function wireDrop() {
  let depth = 0;
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    document.body.classList.add('dropping');
  });
  document.addEventListener('dragleave', (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) document.body.classList.remove('dropping');
  });
  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    document.body.classList.remove('dropping');
    uploadFiles(event.dataTransfer.files);
  });
}

// -- searching, filtering, pages -------------------------------------------------------------

function applyFilters({ delay = 0 } = {}) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(filters)) {
      const text = String(value).trim();
      // Leave out what says nothing (the default sort), so that URLs stay short.
      if (text && !(key === 'sort' && text === 'created')) params.set(key, text);
    }
    const qs = params.toString();
    history.replaceState(null, '', qs ? `/?${qs}` : '/');
    load();
  }, delay);
}

function syncForm() {
  const params = query();
  for (const element of filters.elements) {
    if (element.name) element.value = params.get(element.name) ?? '';
  }
}

// -- selection and actions -------------------------------------------------------------------

function drawBatch() {
  batch.hidden = selected.size === 0 && page.items.length === 0;
  batch.classList.toggle('active', selected.size > 0);
  batch.querySelector('[data-selected-count]').textContent = selected.size
    ? `${selected.size} selected` : 'Select all';
  for (const button of batch.querySelectorAll('[data-batch]')) button.disabled = selected.size === 0;
  selectAll.checked = page.items.length > 0 && page.items.every((t) => selected.has(t.id));
  selectAll.indeterminate = selected.size > 0 && !selectAll.checked;
}

function confirmAction(title, text, ok) {
  if (typeof dialog.showModal !== 'function') return Promise.resolve(window.confirm(text));
  dialog.querySelector('[data-confirm-title]').textContent = title;
  dialog.querySelector('[data-confirm-text]').textContent = text;
  dialog.querySelector('[data-confirm-ok]').textContent = ok;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

async function rowAction(button) {
  const row = button.closest('.track');
  const id = row.dataset.trackId;
  const track = tracks.get(id);
  const action = button.dataset.action;
  if (action === 'delete') {
    const yes = await confirmAction('Delete this track?',
      `“${track?.title ?? 'This track'}” and all its files (original, stems, analysis) will be deleted. This cannot be undone.`,
      'Delete');
    if (!yes) return;
  }
  button.disabled = true;
  try {
    if (action === 'delete') {
      await api(`tracks/${encodeURIComponent(id)}`, { method: 'DELETE' });
      toast(`Deleted “${track?.title ?? 'the track'}”.`, { kind: 'info' });
      selected.delete(id);
      refreshSoon(0);
    } else {
      await api(`jobs/${encodeURIComponent(button.dataset.jobId)}/${action}`, { method: 'POST' });
      await reloadTrack(id);
    }
  } catch (error) {
    toast(describe(error));
    button.disabled = false;
  }
}

async function batchAction(action) {
  const ids = [...selected];
  if (!ids.length) return;
  const n = `${ids.length} track${ids.length === 1 ? '' : 's'}`;
  if (action === 'delete' && !await confirmAction(`Delete ${n}?`,
    `The selected ${n} and all their files (originals, stems, analyses) will be deleted. This cannot be undone.`,
    `Delete ${n}`)) return;
  try {
    const result = await api('tracks/batch', { method: 'POST', body: { action, ids } });
    const done = result?.done?.length ?? 0;
    const verb = { delete: 'Deleted', retry: 'Retrying', reseparate: 'Re-separating' }[action];
    toast(`${verb} ${done} track${done === 1 ? '' : 's'}.`, { kind: done ? 'success' : 'info' });
    const skipped = result?.skipped ?? [];
    for (const item of skipped.slice(0, 3)) {
      const title = tracks.get(item.id)?.title ?? item.id;
      toast(`“${title}”: ${item.reason}`, { kind: 'info' });
    }
    if (skipped.length > 3) toast(`${skipped.length - 3} more tracks were skipped.`, { kind: 'info' });
    if (action === 'delete') for (const id of result?.done ?? []) selected.delete(id);
    load();
  } catch (error) {
    toast(describe(error));
  }
}

function isTyping(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function wire() {
  importForm.addEventListener('submit', importLink);
  fileInput.addEventListener('change', () => {
    uploadFiles(fileInput.files);
    fileInput.value = '';
  });
  wireDrop();

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilters();
  });
  filters.addEventListener('input', (event) => {
    const text = event.target.matches('input[type="search"], input[type="text"], input[type="number"]');
    applyFilters({ delay: text ? SEARCH_DELAY_MS : 0 });
  });
  filters.querySelector('a[href="/"]')?.addEventListener('click', (event) => {
    event.preventDefault();
    history.replaceState(null, '', '/');
    syncForm();
    load();
  });
  pager.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-pager]');
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    history.pushState(null, '', link.getAttribute('href'));
    load();
    root.scrollIntoView({ block: 'start' });
  });
  addEventListener('popstate', () => {
    syncForm();
    load();
  });

  list.addEventListener('change', (event) => {
    if (!event.target.matches('[data-select]')) return;
    if (event.target.checked) selected.add(event.target.value);
    else selected.delete(event.target.value);
    drawBatch();
  });
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) rowAction(button);
  });
  selectAll.addEventListener('change', () => {
    for (const track of page.items) {
      if (selectAll.checked) selected.add(track.id);
      else selected.delete(track.id);
    }
    for (const box of list.querySelectorAll('[data-select]')) box.checked = selected.has(box.value);
    drawBatch();
  });
  batch.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-batch]');
    if (button) batchAction(button.dataset.batch);
  });

  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    if (event.key === '/') {
      event.preventDefault();
      search.focus();
      search.select();
    } else if (event.key === 'i') {
      event.preventDefault();
      importUrl.focus();
    }
  });

  live.subscribe(`tracks:${userId}`, onLibraryEvent);
  live.addEventListener('status', (event) => {
    // Events published while the socket was down are lost: read the list again.
    if (event.detail.state === 'open' && event.detail.reconnected) load();
  });
}

wire();
drawBatch();
follow();
root.dataset.ready = 'true';
