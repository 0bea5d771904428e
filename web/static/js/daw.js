/**
 * The DAW page: one lane per stem on the beat grid, region edits with undo and redo, preview
 * playback that applies the edits, and renders into new stem versions.
 *
 * Everything starts from the `#daw-data` block (soundforge/web/pages_daw.py): the lanes with
 * their edit lists, the beats and bars of the analysis. Dragging on a lane selects a region
 * (snapped to beats when "Snap to beats" is on; clip edges always attract), a click places
 * the cursor; the edit buttons send the edit to `/api/v1/stems/<id>/edits`, whose answer is
 * the whole lane, redrawn at once. Undo and redo (buttons, Ctrl+Z and Ctrl+Shift+Z) act on the
 * lane edited or selected last. Render progress arrives on the track's topic (daw-render.js).
 *
 * `window.__daw` exposes the page's state for browser tests.
 */

import { api } from './api.js';
import { describe, toast } from './app.js';
import { DawAudio } from './daw-audio.js';
import { liveEdits } from './daw-envelope.js';
import { BeatGrid } from './daw-grid.js';
import { LaneView } from './daw-lane.js';
import { Renders } from './daw-render.js';
import { formatTime } from './format.js';
import { live } from './live.js';

/** @typedef {import('./daw-envelope.js').Edit} Edit */
/**
 * @typedef {object} Lane
 * @property {string} stem_id
 * @property {string} stem
 * @property {number | null} duration_ms
 * @property {Edit[]} edits
 * @property {{ start_ms: number, end_ms: number }[]} clips
 * @property {boolean} can_undo
 * @property {boolean} can_redo
 * @property {{ id: string, version: number, format: string }[]} versions
 * @property {any} render
 */

/** Pixels (CSS) within which a clip edge attracts a dragged position. */
const EDGE_PX = 8;
const REGION_OPS = ['trim', 'fade_in', 'fade_out', 'gain', 'mute'];

const $ = (/** @type {string} */ id) => document.getElementById(id);
const data = JSON.parse($('daw-data')?.textContent ?? '{}');

/** @type {Map<string, { lane: Lane, view: LaneView, element: HTMLElement }>} */
const lanes = new Map();
/** @type {{ stemId: string, startMs: number, endMs: number } | null} */
let selection = null;
/** @type {{ stemId: string, ms: number } | null} */
let cursor = null;
/** @type {string | null} the lane that undo and redo act on */
let active = null;
let busy = false;

const durationMs = Math.max(1, data.duration_ms ?? 0, ...(data.lanes ?? []).map((/** @type {Lane} */ l) => l.duration_ms ?? 0));
const grid = new BeatGrid(data.beats_ms ?? [], data.downbeats_ms ?? [], data.beats_per_bar ?? 4);
const audio = new DawAudio({ onEnded: () => showTransport() });
const renders = new Renders({ onCompleted: (stemId) => reloadLane(stemId) });
const snapBox = /** @type {HTMLInputElement | null} */ ($('daw-snap'));
const ruler = /** @type {HTMLCanvasElement | null} */ ($('daw-ruler'));

/** Lanes as the audio preview takes them. */
const playable = () => [...lanes.values()].map(({ lane }) => ({ id: lane.stem_id, edits: lane.edits }));

/**
 * @param {string} stemId
 * @param {number} ms
 */
function snap(stemId, ms) {
  const entry = lanes.get(stemId);
  if (!entry) return Math.round(ms);
  const edges = entry.lane.clips.flatMap((clip) => [clip.start_ms, clip.end_ms]);
  const width = Math.max(1, entry.view.canvas.clientWidth);
  return grid.snap(ms, { beats: Boolean(snapBox?.checked), edges, tolerance: (EDGE_PX / width) * durationMs });
}

function redraw() {
  const playhead = audio.playing || audio.position > 0 ? audio.position * 1000 : null;
  for (const [stemId, { view }] of lanes) {
    view.update({
      selection: selection?.stemId === stemId ? { startMs: selection.startMs, endMs: selection.endMs } : null,
      cursorMs: cursor?.stemId === stemId ? cursor.ms : null,
      playheadMs: playhead,
    });
  }
  drawRuler(playhead);
}

/** @param {number | null} playhead */
function drawRuler(playhead) {
  const ctx = ruler?.getContext('2d');
  if (!ruler || !ctx) return;
  const dpr = window.devicePixelRatio || 1;
  ruler.width = Math.max(1, Math.round(ruler.clientWidth * dpr));
  ruler.height = Math.max(1, Math.round(ruler.clientHeight * dpr));
  ctx.clearRect(0, 0, ruler.width, ruler.height);
  grid.paintRuler(ctx, { durationMs, width: ruler.width, height: ruler.height, dpr });
  if (playhead !== null) {
    ctx.fillStyle = '#ffb23f';
    ctx.fillRect(Math.round((playhead / durationMs) * ruler.width), 0, 2 * dpr, ruler.height);
  }
}

function showControls() {
  const region = selection !== null && !busy;
  for (const button of document.querySelectorAll('[data-op]')) {
    const op = /** @type {HTMLElement} */ (button).dataset.op ?? '';
    /** @type {HTMLButtonElement} */ (button).disabled = REGION_OPS.includes(op) ? !region : busy || (!selection && !cursor);
  }
  const lane = active ? lanes.get(active)?.lane : undefined;
  /** @type {HTMLButtonElement} */ ($('daw-undo')).disabled = busy || !lane?.can_undo;
  /** @type {HTMLButtonElement} */ ($('daw-redo')).disabled = busy || !lane?.can_redo;
  const text = $('daw-selection');
  if (text) {
    const name = (/** @type {string} */ id) => lanes.get(id)?.lane.stem ?? '';
    if (selection) {
      const length = (selection.endMs - selection.startMs) / 1000;
      text.textContent = `${name(selection.stemId)}: ${formatTime(selection.startMs / 1000)} – ${formatTime(selection.endMs / 1000)} (${length.toFixed(2)} s)`;
    } else if (cursor) {
      text.textContent = `${name(cursor.stemId)}: cursor at ${formatTime(cursor.ms / 1000)}`;
    }
  }
}

function showTransport() {
  const play = $('daw-play');
  if (play) play.textContent = audio.playing ? 'Pause' : 'Play';
  const time = $('daw-time');
  if (time) time.textContent = formatTime(audio.position);
  redraw();
}

/** @param {Lane} lane */
function showEditList(lane) {
  const element = lanes.get(lane.stem_id)?.element;
  const list = element?.querySelector('.daw-edit-list');
  if (!element || !list) return;
  list.replaceChildren(...lane.edits.map((edit) => {
    const item = document.createElement('li');
    item.className = `daw-edit${edit.undone ? ' is-undone' : ''}`;
    item.dataset.op = edit.op;
    const span = edit.end_ms === null ? formatTime(edit.start_ms / 1000) : `${formatTime(edit.start_ms / 1000)}–${formatTime(edit.end_ms / 1000)}`;
    item.textContent = `${edit.op} ${span}${edit.gain_db === null ? '' : ` ${edit.gain_db} dB`}`;
    return item;
  }));
  const render = /** @type {HTMLButtonElement | null} */ (element.querySelector('.daw-render'));
  if (render && !element.hasAttribute('data-rendering')) render.disabled = liveEdits(lane.edits).length === 0;
}

/** @param {Lane} lane the lane as the server answered */
function setLane(lane) {
  const entry = lanes.get(lane.stem_id);
  if (!entry) return;
  entry.lane = lane;
  entry.view.update({ edits: lane.edits, clips: lane.clips });
  showEditList(lane);
  renders.showVersions(lane.stem_id, lane.versions);
  renders.sync(lane.stem_id, lane.render).catch((error) => toast(describe(error)));
  showControls();
  if (audio.playing) audio.play(playable(), audio.position).catch((error) => toast(describe(error)));
}

/** @param {string} stemId */
async function reloadLane(stemId) {
  setLane(await api(`stems/${stemId}/edits`));
}

/**
 * Send one command for a lane and show the lane it answers with.
 * @param {string} stemId
 * @param {string} path under stems/<id>/
 * @param {unknown} [body]
 */
async function command(stemId, path, body) {
  busy = true;
  showControls();
  try {
    setLane(await api(`stems/${stemId}/${path}`, { method: 'POST', body }));
    active = stemId;
  } catch (error) {
    toast(describe(error));
  } finally {
    busy = false;
    showControls();
  }
}

/** @param {string} op */
async function applyOp(op) {
  if (op === 'split') {
    const target = selection ? { stemId: selection.stemId, ms: selection.startMs } : cursor;
    if (target) await command(target.stemId, 'edits', { op, start_ms: Math.round(target.ms) });
    return;
  }
  if (!selection) return;
  /** @type {Record<string, unknown>} */
  const body = { op, start_ms: selection.startMs, end_ms: selection.endMs };
  if (op === 'gain') {
    const db = Number(/** @type {HTMLInputElement} */ ($('daw-gain-db')).value);
    if (!Number.isFinite(db) || db < -96 || db > 24) {
      toast('Give a gain between -96 and 24 dB.');
      return;
    }
    body.gain_db = db;
  }
  await command(selection.stemId, 'edits', body);
}

/** @param {'undo' | 'redo'} which */
async function history(which) {
  if (!active || busy) return;
  const lane = lanes.get(active)?.lane;
  if (which === 'undo' ? !lane?.can_undo : !lane?.can_redo) return;
  await command(active, `edits/${which}`);
}

async function togglePlay() {
  if (audio.playing) {
    audio.pause();
  } else {
    const from = cursor && audio.position === 0 ? cursor.ms / 1000 : audio.position;
    await audio.play(playable(), from);
    requestAnimationFrame(tick);
  }
  showTransport();
}

function tick() {
  if (!audio.playing) return;
  showTransport();
  requestAnimationFrame(tick);
}

/** @param {KeyboardEvent} event */
function onKey(event) {
  const target = /** @type {HTMLElement} */ (event.target);
  if (target.closest('input, textarea, select, [contenteditable]')) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && (key === 'z' || key === 'y')) {
    event.preventDefault();
    history(key === 'y' || event.shiftKey ? 'redo' : 'undo').catch((error) => toast(describe(error)));
  } else if (key === ' ' && !event.ctrlKey && !event.metaKey && !target.closest('button, audio')) {
    event.preventDefault();
    togglePlay().catch((error) => toast(describe(error)));
  }
}

function wire() {
  for (const lane of /** @type {Lane[]} */ (data.lanes)) {
    const element = /** @type {HTMLElement | null} */ (document.querySelector(`.daw-lane[data-stem-id="${CSS.escape(lane.stem_id)}"]`));
    const canvas = element?.querySelector('canvas');
    if (!element || !canvas) continue;
    const id = lane.stem_id;
    const view = new LaneView(canvas, {
      grid,
      snap: (ms) => snap(id, ms),
      onSelecting: (startMs, endMs) => { selection = { stemId: id, startMs, endMs }; redraw(); },
      onSelect: (startMs, endMs) => {
        selection = { stemId: id, startMs, endMs };
        cursor = null;
        active = id;
        redraw();
        showControls();
      },
      onCursor: (ms) => {
        cursor = { stemId: id, ms };
        selection = null;
        active = id;
        audio.seek(ms / 1000, playable()).then(showTransport).catch((error) => toast(describe(error)));
        showControls();
      },
    });
    view.update({ durationMs, edits: lane.edits, clips: lane.clips });
    lanes.set(id, { lane, view, element });
    renders.sync(id, lane.render).catch((error) => toast(describe(error)));
    element.querySelector('.daw-render')?.addEventListener('click', () => {
      renders.start(id).catch((error) => toast(describe(error)));
    });
  }
  active = lanes.keys().next().value ?? null;
  for (const button of document.querySelectorAll('[data-op]')) {
    button.addEventListener('click', () => applyOp(/** @type {HTMLElement} */ (button).dataset.op ?? ''));
  }
  $('daw-undo')?.addEventListener('click', () => history('undo'));
  $('daw-redo')?.addEventListener('click', () => history('redo'));
  $('daw-play')?.addEventListener('click', () => togglePlay().catch((error) => toast(describe(error))));
  $('daw-stop')?.addEventListener('click', () => {
    audio.pause();
    audio.seek(0, playable()).then(showTransport).catch(() => {});
  });
  ruler?.addEventListener('click', (event) => {
    const rect = ruler.getBoundingClientRect();
    const seconds = ((event.clientX - rect.left) / Math.max(1, rect.width)) * (durationMs / 1000);
    audio.seek(seconds, playable()).then(showTransport).catch((error) => toast(describe(error)));
  });
  document.addEventListener('keydown', onKey);
  const timeline = $('daw-timeline');
  if (timeline) {
    new ResizeObserver(() => {
      for (const { view } of lanes.values()) view.resize();
      redraw();
    }).observe(timeline);
  }
  let confirmations = 0;
  live.subscribe(data.topic, (event) => renders.handle(event), {
    // Events published before the server followed the track (at load, or while the socket
    // was down) are lost: read again the lanes they may have changed.
    onSubscribed: () => {
      confirmations += 1;
      for (const stemId of lanes.keys()) {
        if (confirmations > 1 || renders.running(stemId)) reloadLane(stemId).catch(() => {});
      }
    },
  });
  showControls();
}

async function load() {
  const status = $('daw-status');
  let loaded = 0;
  const all = [...lanes.values()].map(async ({ lane, view }) => {
    const buffer = await audio.load(lane.stem_id, `/api/v1/stems/${lane.stem_id}/audio`, lane.stem);
    view.setAudio(buffer);
    loaded += 1;
    if (status) status.textContent = `Loading stems… ${loaded}/${lanes.size}`;
  });
  const results = await Promise.allSettled(all);
  const failed = results.filter((r) => r.status === 'rejected');
  for (const failure of failed) toast(describe(/** @type {PromiseRejectedResult} */ (failure).reason));
  if (status) status.textContent = failed.length ? `${failed.length} stem(s) could not be loaded` : 'Ready';
  for (const id of ['daw-play', 'daw-stop']) /** @type {HTMLButtonElement} */ ($(id)).disabled = loaded === 0;
  document.getElementById('daw-page')?.setAttribute('data-loaded', String(loaded));
}

if (data.lanes?.length) {
  wire();
  load().catch((error) => toast(describe(error)));
}

Object.assign(window, {
  __daw: {
    lanes,
    audio,
    get selection() { return selection; },
    get cursor() { return cursor; },
    get active() { return active; },
  },
});
