/**
 * The track page: the stem player and its mixer, the waveform, the analysis charts, live
 * pipeline progress and re-separation.
 *
 * Everything the page needs arrives in the `#track-data` JSON block that
 * soundforge/web/pages_track.py renders (separations with their stem URLs, the analysis subset,
 * cue points). One StemPlayer plays the chosen separation's stems; linkPlayer() keeps the
 * WaveformView in step with it; bindPlayerKeys() gives the keyboard shortcuts ("?" lists them).
 * Pipeline events arrive on the `track:<id>` topic: progress bars move, and when the track
 * becomes ready the page reloads (first separation) or offers the new stems in the selector
 * (re-separation), so playback is not interrupted.
 *
 * The player follows the track's mixer session (`mixer:<user>:track:<id>`, docs/practice.md):
 * MixerSync holds the session's values, linkMixer() sends the player's changes as control
 * paths and applies everyone else's, and the practice panel (pitch, count-in, trainer, presets)
 * works on the same session. Every mixer control carries `data-control="<path>"`.
 *
 * `window.__player` is the StemPlayer, `window.__waveform` the WaveformView and
 * `window.__practice` the practice panel's state, for browser tests.
 */

import { api } from './api.js';
import { describe, toast } from './app.js';
import { formatTime } from './format.js';
import { bindPlayerKeys, KEYMAP } from './keyboard.js';
import { live } from './live.js';
import { installMidiLearn } from './midi-learn.js';
import { MixerSync } from './mixer-sync.js';
import { linkMixer } from './practice-mixer.js';
import { bindPracticePanel } from './practice-panel.js';
import { StemPlayer } from './stem-player.js';
import { linkPlayer, WaveformView } from './waveform.js';
import { snapToBeat } from './waveform-data.js';

const RATE_MIN = 0.25;
const RATE_MAX = 2;
/** On a phone the waveform shows this many seconds and scrolls (drag) through the rest. */
const PHONE_SPAN_SECONDS = 30;

const $ = (/** @type {string} */ id) => document.getElementById(id);
const page = /** @type {HTMLElement} */ ($('track-page'));
let data = JSON.parse(/** @type {HTMLElement} */ ($('track-data')).textContent ?? '{}');

// -- pipeline progress ---------------------------------------------------------------------

/**
 * @param {string} stage
 * @param {{ state?: string, progress?: number, label?: string, error?: string | null, jobId?: number }} update
 */
function showStage(stage, { state, progress, label, error, jobId }) {
  const row = document.querySelector(`.stage[data-stage="${CSS.escape(stage)}"]`);
  if (!(row instanceof HTMLElement)) return;
  if (state) row.dataset.state = state;
  if (jobId != null) row.dataset.jobId = String(jobId);
  if (typeof progress === 'number') {
    const bar = /** @type {HTMLProgressElement} */ (row.querySelector('progress'));
    bar.value = progress;
    /** @type {HTMLElement} */ (row.querySelector('.stage-percent')).textContent = `${Math.round(progress * 100)} %`;
  }
  if (label || state) /** @type {HTMLElement} */ (row.querySelector('.stage-label')).textContent = label || state || '';
  const problem = /** @type {HTMLElement} */ (row.querySelector('.stage-error'));
  if (error !== undefined) {
    problem.textContent = error ?? '';
    problem.hidden = !error;
  }
}

/**
 * @param {string} status
 * @param {string | null} [error]
 */
function showStatus(status, error) {
  page.dataset.status = status;
  const badge = $('track-status');
  if (badge) {
    badge.className = `status-badge status-${status}`;
    badge.textContent = status;
  }
  const pipeline = $('pipeline');
  if (pipeline) pipeline.hidden = status === 'ready';
  const problem = $('track-error');
  if (problem) {
    problem.textContent = error ?? '';
    problem.hidden = !error;
  }
  if (status !== 'ready') return;
  if (!player || !data.analysis) {
    location.reload(); // the first stems or analysis: the whole page changes
  } else {
    refreshData().catch((failure) => toast(describe(failure)));
  }
}

function followPipeline() {
  let confirmations = 0;
  // Events published before the server follows the topic for this page (or while the socket
  // was down) are lost: once it does, read the page's state again if it may have changed.
  const onSubscribed = () => {
    confirmations += 1;
    if (confirmations > 1 || page.dataset.status !== 'ready') {
      refreshData().catch(() => {}); // the next event or reconnect tries again
    }
  };
  live.subscribe(data.topic, (event) => {
    switch (event.type) {
      case 'track.progress':
        showStage(event.stage, { state: 'executing', progress: event.fraction, label: event.label });
        break;
      case 'track.stage':
        showStage(event.stage, {
          state: event.state,
          progress: event.state === 'completed' ? 1 : event.state === 'started' ? 0 : undefined,
          error: event.error ?? null,
          jobId: event.job_id,
        });
        break;
      case 'track.status':
        showStatus(event.status, event.error);
        break;
    }
  }, { onSubscribed });
}

/** Reads the page again for its data block: new separations go into the selector. */
async function refreshData() {
  const response = await fetch(location.pathname, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
  if (!response.ok) return;
  const html = new DOMParser().parseFromString(await response.text(), 'text/html');
  refreshStages(html);
  const block = html.getElementById('track-data');
  if (!block?.textContent) return;
  const fresh = JSON.parse(block.textContent);
  const known = new Set(data.separations.map((/** @type {any} */ s) => s.key));
  const loadedIds = stemIds(data.separations.find((/** @type {any} */ s) => s.key === current));
  data = { ...fresh, analysis: data.analysis };
  if (fresh.status !== page.dataset.status) showStatus(fresh.status, fresh.error);
  if (!player) return;
  const select = /** @type {HTMLSelectElement} */ ($('separation-select'));
  for (const separation of fresh.separations) {
    if (known.has(separation.key)) continue;
    select.append(new Option(separation.label, separation.key));
    toast(`New stems from ${separation.label} are ready: choose them under “Stems from”.`, { kind: 'success' });
  }
  const selected = fresh.separations.find((/** @type {any} */ s) => s.key === current);
  // The same engine and model separated again: its files were replaced.
  if (selected && stemIds(selected) !== loadedIds) await loadSeparation(selected.key);
}

/** A stage's states while its job runs: the job's (`executing`) and the event's (`started`). */
const RUNNING = new Set(['executing', 'started']);

/** @param {Element} row a stage's row */
function progressOf(row) {
  return /** @type {HTMLProgressElement} */ (row.querySelector('progress')).value;
}

/**
 * The pipeline's rows from a page read again, where they are newer than what the events
 * showed meanwhile: a stage's job seen completed stays so, and a running one's bar only grows.
 * @param {Document} html
 */
function refreshStages(html) {
  for (const fresh of html.querySelectorAll('#pipeline .stage[data-stage]')) {
    if (!(fresh instanceof HTMLElement)) continue;
    const shown = document.querySelector(`#pipeline .stage[data-stage="${CSS.escape(fresh.dataset.stage ?? '')}"]`);
    if (!(shown instanceof HTMLElement)) continue;
    if (shown.dataset.jobId === fresh.dataset.jobId) {
      if (shown.dataset.state === 'completed') continue; // nothing newer can be said of it
      if (RUNNING.has(shown.dataset.state ?? '') && RUNNING.has(fresh.dataset.state ?? '')
        && progressOf(fresh) < progressOf(shown)) continue;
    }
    shown.replaceWith(document.importNode(fresh, true));
  }
}

/** What identifies a separation's files: another id or format means other audio. @param {any} separation */
function stemIds(separation) {
  return (separation?.stems ?? []).map((/** @type {any} */ stem) => `${stem.id}.${stem.format}`).join(',');
}

// -- the player ----------------------------------------------------------------------------

/** @type {StemPlayer | null} */
let player = null;
/** @type {WaveformView | null} */
let view = null;
/** @type {string | null} */
let current = null;
/** @type {number | null} loop start set with "Set A", waiting for its end */
let pendingA = null;
/** @type {MixerSync | null} */
let sync = null;
/** @type {{ hold: () => void, resume: () => void } | null} */
let link = null;
/** What the play button and Space do (the practice panel adds the count-in). */
let startPlayback = () => player?.toggle();

/** @param {string} text */
function playerStatus(text) {
  const status = $('player-status');
  if (status) status.textContent = text;
}

/** @param {number} seconds */
function snapped(seconds) {
  const snap = /** @type {HTMLInputElement} */ ($('loop-snap')).checked;
  return snap ? snapToBeat(seconds, data.analysis?.rhythm?.beats_ms, 150) : seconds;
}

/** @param {any} separation */
function renderMixer(separation) {
  const mixer = /** @type {HTMLElement} */ ($('mixer'));
  const template = /** @type {HTMLTemplateElement} */ ($('stem-row-template'));
  mixer.replaceChildren();
  separation.stems.forEach((/** @type {any} */ stem, /** @type {number} */ index) => {
    const row = /** @type {HTMLElement} */ (
      /** @type {DocumentFragment} */ (template.content.cloneNode(true)).firstElementChild
    );
    row.dataset.stem = stem.name;
    /** @type {HTMLElement} */ (row.querySelector('.stem-key')).textContent = index < 6 ? String(index + 1) : '';
    /** @type {HTMLElement} */ (row.querySelector('.stem-name')).textContent = stem.name;
    const volume = /** @type {HTMLInputElement} */ (row.querySelector('.stem-volume'));
    volume.setAttribute('aria-label', `${stem.name} volume`);
    volume.dataset.control = `stem.${stem.name}.volume`;
    volume.addEventListener('input', () => player?.setVolume(stem.name, Number(volume.value) / 100));
    const mute = /** @type {HTMLButtonElement} */ (row.querySelector('.stem-mute'));
    mute.setAttribute('aria-label', `Mute ${stem.name}`);
    mute.dataset.control = `stem.${stem.name}.mute`;
    mute.addEventListener('click', () => player?.toggleMute(stem.name));
    const solo = /** @type {HTMLButtonElement} */ (row.querySelector('.stem-solo'));
    solo.setAttribute('aria-label', `Solo ${stem.name}`);
    solo.dataset.control = `stem.${stem.name}.solo`;
    solo.addEventListener('click', () => player?.toggleSolo(stem.name));
    mixer.append(row);
  });
}

/** @param {any} separation */
function renderExports(separation) {
  const list = $('export-stems');
  if (list) {
    list.replaceChildren(
      ...separation.stems.map((/** @type {any} */ stem) => {
        const item = document.createElement('li');
        const link = document.createElement('a');
        link.className = 'download';
        link.href = stem.download_url;
        link.download = '';
        link.textContent = `${stem.name} `;
        const format = document.createElement('small');
        format.textContent = `(${stem.format})`;
        link.append(format);
        item.append(link);
        return item;
      }),
    );
  }
  const zip = /** @type {HTMLAnchorElement | null} */ ($('download-zip'));
  if (zip) zip.href = separation.zip_url;
}

/** @param {string} key */
async function loadSeparation(key) {
  const separation = data.separations.find((/** @type {any} */ s) => s.key === key);
  if (!separation || !player) return;
  const previous = player.duration > 0 ? player.snapshot() : null;
  current = key;
  renderMixer(separation);
  renderExports(separation);
  const play = /** @type {HTMLButtonElement} */ ($('play-button'));
  const progress = /** @type {HTMLProgressElement} */ ($('load-progress'));
  play.disabled = true;
  progress.hidden = false;
  progress.removeAttribute('value');
  playerStatus(`Loading ${separation.stems.length} stems…`);
  link?.hold();
  try {
    const names = await player.load(separation.stems.map((/** @type {any} */ s) => ({ name: s.name, url: s.url })));
    if (previous) player.apply({ ...previous, stems: {} });
    link?.resume(); // the session's values win over what the previous stems had
    playerStatus(`${names.length} stems · ${separation.label}`);
    play.disabled = false;
  } catch (error) {
    if (/** @type {Error} */ (error).name === 'AbortError') return;
    playerStatus('The stems could not be loaded.');
    toast(describe(error));
  } finally {
    progress.hidden = true;
  }
}

/** @param {import('./stem-player.js').PlayerSnapshot} state */
function showState(state) {
  if (!player) return;
  if (state.rate < RATE_MIN || state.rate > RATE_MAX) {
    player.setRate(Math.min(RATE_MAX, Math.max(RATE_MIN, state.rate))); // "[" / "]" past the slider's range
    return;
  }
  const play = /** @type {HTMLButtonElement} */ ($('play-button'));
  play.dataset.playing = String(state.playing);
  play.setAttribute('aria-label', state.playing ? 'Pause' : 'Play');
  /** @type {HTMLElement} */ ($('time-total')).textContent = formatTime(state.duration);
  for (const stem of player.stems) {
    const row = document.querySelector(`.stem-row[data-stem="${CSS.escape(stem.name)}"]`);
    if (!(row instanceof HTMLElement)) continue;
    row.dataset.audible = String(stem.audible);
    /** @type {HTMLElement} */ (row.querySelector('.stem-mute')).setAttribute('aria-pressed', String(stem.mute));
    /** @type {HTMLElement} */ (row.querySelector('.stem-solo')).setAttribute('aria-pressed', String(stem.solo));
    const volume = /** @type {HTMLInputElement} */ (row.querySelector('.stem-volume'));
    if (document.activeElement !== volume) volume.value = String(Math.round(stem.volume * 100));
  }
  const master = /** @type {HTMLInputElement} */ ($('master'));
  if (document.activeElement !== master) master.value = String(Math.round(state.master * 100));
  /** @type {HTMLElement} */ ($('master-value')).textContent = `${Math.round(state.master * 100)} %`;
  const rate = /** @type {HTMLInputElement} */ ($('rate'));
  if (document.activeElement !== rate) rate.value = String(Math.round(state.rate * 100));
  /** @type {HTMLElement} */ ($('rate-value')).textContent = `${Math.round(state.rate * 100)} %`;
  const loopOn = /** @type {HTMLInputElement} */ ($('loop-enabled'));
  loopOn.checked = Boolean(state.loop);
  const loop = /** @type {HTMLElement} */ ($('loop-range'));
  loop.dataset.active = String(Boolean(state.loop));
  if (state.loop) loop.textContent = `Loop ${formatTime(state.loop.a)} – ${formatTime(state.loop.b)}`;
  else loop.textContent = pendingA === null ? 'No loop' : `A at ${formatTime(pendingA)}: now set B`;
}

function bindTransport() {
  const p = /** @type {StemPlayer} */ (player);
  /** @type {HTMLElement} */ ($('play-button')).addEventListener('click', () => startPlayback());
  const seek = /** @type {HTMLInputElement} */ ($('seek'));
  let dragging = false;
  seek.addEventListener('pointerdown', () => (dragging = true));
  seek.addEventListener('pointerup', () => (dragging = false));
  seek.addEventListener('input', () => p.seek((Number(seek.value) / 1000) * p.duration));
  const master = /** @type {HTMLInputElement} */ ($('master'));
  master.addEventListener('input', () => p.setMaster(Number(master.value) / 100));
  const rate = /** @type {HTMLInputElement} */ ($('rate'));
  rate.addEventListener('input', () => p.setRate(Number(rate.value) / 100));
  /** @type {HTMLElement} */ ($('rate-reset')).addEventListener('click', () => p.setRate(1));
  /** @type {HTMLElement} */ ($('loop-set-a')).addEventListener('click', () => {
    pendingA = snapped(p.currentTime);
    showState(p.snapshot());
  });
  /** @type {HTMLElement} */ ($('loop-set-b')).addEventListener('click', () => {
    const a = pendingA ?? p.loop?.a ?? 0;
    try {
      p.setLoop(a, snapped(p.currentTime));
      pendingA = null;
    } catch (error) {
      toast(error instanceof RangeError ? 'The loop is too short: move the playhead further from A.' : describe(error));
    }
    showState(p.snapshot());
  });
  /** @type {HTMLElement} */ ($('loop-clear')).addEventListener('click', () => {
    pendingA = null;
    p.clearLoop();
    showState(p.snapshot());
  });
  const loopOn = /** @type {HTMLInputElement} */ ($('loop-enabled'));
  loopOn.addEventListener('change', () => {
    const a = Number(sync?.values['loop.a_ms'] ?? 0) / 1000;
    const b = Number(sync?.values['loop.b_ms'] ?? 0) / 1000;
    if (!loopOn.checked) p.clearLoop();
    else if (b > a) p.setLoop(a, b);
    else toast('Set A and B first: there is no loop to switch on yet.');
    showState(p.snapshot());
  });
  const snap = /** @type {HTMLInputElement} */ ($('loop-snap'));
  snap.addEventListener('change', () => {
    if (view) view.snap = snap.checked;
  });

  // The level meter and the clock: read every frame, drawn only when they change.
  const analyser = p.context.createAnalyser();
  analyser.fftSize = 1024;
  p.outputNode.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const meter = /** @type {HTMLMeterElement} */ ($('level-meter'));
  const clock = /** @type {HTMLElement} */ ($('time-current'));
  const frame = () => {
    const time = p.currentTime;
    clock.textContent = formatTime(time);
    if (!dragging && document.activeElement !== seek && p.duration > 0) {
      seek.value = String(Math.round((time / p.duration) * 1000));
    }
    let peak = 0;
    if (p.playing) {
      analyser.getFloatTimeDomainData(samples);
      for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
    }
    meter.value = Math.min(1, peak);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function bindJumps() {
  page.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('.jump') : null;
    if (!(button instanceof HTMLElement) || !player) return;
    const { seekMs, loopStartMs, loopEndMs } = button.dataset;
    if (loopStartMs && loopEndMs) {
      pendingA = null;
      player.setLoop(Number(loopStartMs) / 1000, Number(loopEndMs) / 1000);
      player.seek(Number(loopStartMs) / 1000);
    } else if (seekMs) {
      player.seek(Number(seekMs) / 1000);
    }
  });
}

function bindKeys() {
  const p = /** @type {StemPlayer} */ (player);
  bindPlayerKeys(p, {
    toggle: () => startPlayback(),
    onSelect: (name) => {
      for (const row of document.querySelectorAll('.stem-row')) {
        row.classList.toggle('selected', /** @type {HTMLElement} */ (row).dataset.stem === name);
      }
    },
    onLoop: (state) => {
      pendingA = state.phase === 'a' ? state.a : null;
      showState(p.snapshot());
    },
  });
}

function bindHelp() {
  const dialog = /** @type {HTMLDialogElement | null} */ ($('help-dialog'));
  const body = $('keymap-body');
  if (!dialog || !body) return;
  for (const { keys, action } of [...KEYMAP, { keys: ['?'], action: 'This help' }]) {
    const row = document.createElement('tr');
    const keyCell = document.createElement('th');
    keyCell.scope = 'row';
    for (const key of keys) {
      const kbd = document.createElement('kbd');
      kbd.textContent = key;
      keyCell.append(kbd, ' ');
    }
    const actionCell = document.createElement('td');
    actionCell.textContent = action;
    row.append(keyCell, actionCell);
    body.append(row);
  }
  $('help-button')?.addEventListener('click', () => dialog.showModal());
  document.addEventListener('keydown', (event) => {
    if (event.key !== '?' || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof Element && target.closest('input, textarea, select, [contenteditable]')) return;
    event.preventDefault();
    if (!dialog.open) dialog.showModal();
  });
}

async function setupPlayer() {
  const canvas = /** @type {HTMLCanvasElement | null} */ ($('waveform'));
  if (!canvas || !data.separations.length) return;
  player = new StemPlayer();
  /** @type {any} */ (window).__player = player;
  view = new WaveformView(canvas, { snap: /** @type {HTMLInputElement} */ ($('loop-snap')).checked });
  /** @type {any} */ (window).__waveform = view;
  view.setAnalysis(data.analysis);
  view.setCues(data.cues);
  if (data.duration_ms) view.duration = data.duration_ms / 1000;
  linkPlayer(view, player);
  if (window.matchMedia('(max-width: 700px)').matches && view.duration > PHONE_SPAN_SECONDS) {
    view.setZoom(view.duration / PHONE_SPAN_SECONDS, 0);
  }
  player.addEventListener('state', (event) => showState(/** @type {CustomEvent} */ (event).detail));
  player.addEventListener('error', (event) => toast(/** @type {CustomEvent} */ (event).detail.message));
  player.addEventListener('loadprogress', (event) => {
    const { loaded, total } = /** @type {CustomEvent} */ (event).detail;
    const progress = /** @type {HTMLProgressElement} */ ($('load-progress'));
    if (total) progress.value = loaded / total;
  });
  if (data.mixer_topic) {
    sync = new MixerSync(data.mixer_topic);
    link = linkMixer(player, sync);
    sync.addEventListener('error', (event) => toast(/** @type {CustomEvent} */ (event).detail.message));
    startPlayback = bindPracticePanel({
      player,
      sync,
      trackId: data.track_id,
      bpm: data.analysis?.tempo ?? null,
      beatsPerBar: data.analysis?.rhythm?.time_signature?.beats_per_bar ?? null,
    }).startPlayback;
    // The surfaces (OSC, MIDI) act on the track a tab last opened or brought to the front.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') sync?.focus();
    });
    sync.start();
    // MIDI learn: click any control of the player or the practice panel, move a knob.
    const toggle = installMidiLearn(page);
    document.querySelector('.player-toolbar')?.insertBefore(toggle, $('help-button'));
  }
  bindTransport();
  bindKeys();
  const select = /** @type {HTMLSelectElement} */ ($('separation-select'));
  select.addEventListener('change', () => loadSeparation(select.value));
  await loadSeparation(data.selected ?? data.separations[0].key);
}

// -- analysis charts -----------------------------------------------------------------------

/**
 * Sizes a canvas to its CSS box in device pixels and returns its 2D context.
 * @param {HTMLCanvasElement} canvas
 */
function sized(canvas) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  return /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
}

/** @param {HTMLElement} element @param {string} name @param {string} fallback */
function cssColor(element, name, fallback) {
  return getComputedStyle(element).getPropertyValue(name).trim() || fallback;
}

function drawEnergy() {
  const canvas = /** @type {HTMLCanvasElement | null} */ ($('energy-chart'));
  const values = data.analysis?.energy?.curve?.values ?? [];
  if (!canvas || values.length < 2) return;
  const ctx = sized(canvas);
  const { width, height } = canvas;
  const top = Math.max(...values) || 1;
  ctx.clearRect(0, 0, width, height);
  ctx.beginPath();
  ctx.moveTo(0, height);
  values.forEach((/** @type {number} */ value, /** @type {number} */ i) => {
    ctx.lineTo((i / (values.length - 1)) * width, height - (value / top) * (height - 2));
  });
  ctx.lineTo(width, height);
  ctx.closePath();
  ctx.fillStyle = cssColor(canvas, '--energy-fill', 'rgba(242, 163, 58, 0.35)');
  ctx.fill();
  ctx.strokeStyle = cssColor(canvas, '--energy-line', '#f2a33a');
  ctx.lineWidth = Math.max(1, window.devicePixelRatio || 1);
  ctx.stroke();
}

const ROOTS = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];

function drawChords() {
  const canvas = /** @type {HTMLCanvasElement | null} */ ($('chord-strip'));
  const chords = data.analysis?.chords ?? [];
  const duration = data.analysis?.duration_ms || data.duration_ms;
  if (!canvas || !chords.length || !duration) return;
  const ctx = sized(canvas);
  const { width, height } = canvas;
  const dpr = window.devicePixelRatio || 1;
  ctx.clearRect(0, 0, width, height);
  ctx.font = `${12 * dpr}px ${cssColor(canvas, '--chord-font', 'system-ui, sans-serif')}`;
  ctx.textBaseline = 'middle';
  for (const chord of chords) {
    const x = (chord.start_ms / duration) * width;
    const w = ((chord.end_ms - chord.start_ms) / duration) * width;
    const root = ROOTS.indexOf(chord.label.replace(/m$/, ''));
    if (root < 0) continue; // "N": no chord
    const minor = chord.label.endsWith('m');
    ctx.fillStyle = `hsl(${root * 30} 55% ${minor ? 32 : 46}%)`;
    ctx.fillRect(x, 0, Math.max(1, w - dpr), height);
    if (w > ctx.measureText(chord.label).width + 6 * dpr) {
      ctx.fillStyle = '#fff';
      ctx.fillText(chord.label, x + 3 * dpr, height / 2);
    }
  }
}

function bindCharts() {
  const seekFrom = (/** @type {HTMLCanvasElement | null} */ canvas) => {
    canvas?.addEventListener('click', (event) => {
      if (!player || !(player.duration > 0)) return;
      player.seek((event.offsetX / canvas.clientWidth) * player.duration);
    });
  };
  seekFrom(/** @type {HTMLCanvasElement | null} */ ($('energy-chart')));
  seekFrom(/** @type {HTMLCanvasElement | null} */ ($('chord-strip')));
  const redraw = () => {
    drawEnergy();
    drawChords();
  };
  redraw();
  new ResizeObserver(redraw).observe(page);
}

// -- re-separation -------------------------------------------------------------------------

function bindReseparate() {
  const form = /** @type {HTMLFormElement | null} */ ($('reseparate-form'));
  if (!form) return;
  const message = /** @type {HTMLElement} */ ($('reseparate-message'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const [engine, model] = String(fields.get('model')).split('/');
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    button.disabled = true;
    try {
      const job = await api(`/api/v1/tracks/${encodeURIComponent(data.track_id)}/reseparate`, {
        method: 'POST',
        body: {
          engine,
          model,
          format: fields.get('format'),
          bit_depth: Number(fields.get('bit_depth')),
          shifts: Number(fields.get('shifts')),
        },
      });
      message.textContent = `Queued as job ${job?.id ?? ''}; progress shows above.`;
      message.hidden = false;
      showStage('separate', { state: 'available', progress: 0, label: 'queued', error: null });
      showStage('analyze', { state: 'waiting', progress: 0, label: 'waiting', error: null });
      showStatus('separating', null);
      $('pipeline')?.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    } catch (error) {
      message.textContent = describe(error);
      message.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

followPipeline();
bindHelp();
bindJumps();
bindCharts();
bindReseparate();
setupPlayer().catch((error) => toast(describe(error)));
