/**
 * WaveformView: a track's waveform on a <canvas>, with its song sections, beat grid, markers
 * and cue points, the playhead (the played part in another colour) and the A–B loop. Click to
 * seek; Shift-drag, or drag along the ruler on top, to select a loop (snapped to beats when
 * `snap` is on); Ctrl+wheel or pinch to zoom; wheel sideways or drag to scroll when zoomed.
 * While playing, the view pages along with the playhead unless the user just scrolled.
 *
 * The input is the analysis document (docs/analysis.md) — any part may be missing; without
 * peaks the view shows a flat line and "not analysed yet". The view knows nothing about the
 * player; linkPlayer() wires the two together.
 *
 *     const view = new WaveformView(canvas, { snap: true });
 *     view.setAnalysis(analysis);     // {duration_ms, waveform, rhythm, structure, markers}
 *     view.setCues(cuePoints);        // [{position_ms, label, color}]
 *     const unlink = linkPlayer(view, player);
 *
 * Events (CustomEvent): 'seek' {seconds}, 'loopselect' {a, b} (seconds, a < b), 'zoom' {zoom}.
 * Theme: CSS custom properties on the canvas (--waveform-wave, --waveform-played, … see
 * readTheme in waveform-draw.js); call refreshTheme() after changing them.
 */

import {
  drawBackground,
  drawBeatGrid,
  drawFlat,
  drawLoop,
  drawMarkers,
  drawPeaks,
  drawPlayhead,
  drawSections,
  drawTicks,
  readTheme,
  secondsAt,
  xAt,
} from './waveform-draw.js';
import { analysisDuration, columnPeaks, pickLevel, snapToBeat } from './waveform-data.js';

/** @typedef {import('./waveform-draw.js').Viewport} Viewport */
/** @typedef {import('./waveform-draw.js').Marker} Marker */
/**
 * The parts of the analysis document the view reads.
 * @typedef {object} WaveformAnalysis
 * @property {number} [duration_ms]
 * @property {import('./waveform-data.js').Peaks | null} [waveform]
 * @property {{ beats_ms?: number[], downbeats_ms?: number[] } | null} [rhythm]
 * @property {import('./waveform-draw.js').Section[] | null} [structure]
 * @property {Marker[] | null} [markers]
 */

const RULER_CSS_PX = 18;
/** A drag shorter than this (CSS px) is a click. */
const CLICK_SLOP_CSS_PX = 4;
/** Zooming in stops when this many seconds fill the width. */
const MIN_SPAN_SECONDS = 1;
/** After the user scrolls, the view stops following the playhead for this long. */
const FOLLOW_PAUSE_MS = 2500;

export class WaveformView extends EventTarget {
  /** Snap loop selections to the nearest beat within 80 ms. */
  snap = false;

  #canvas;
  #ctx;
  #staticLayer = document.createElement('canvas');
  #playedLayer = document.createElement('canvas');
  #layersKey = '';
  #theme;
  /** @type {WaveformAnalysis | null} */
  #analysis = null;
  /** @type {Marker[]} */
  #cues = [];
  #explicitDuration = 0;
  #dataVersion = 0;
  #time = 0;
  /** @type {{ a: number, b: number } | null} */
  #loop = null;
  /** @type {{ a: number, b: number } | null} loop being dragged */
  #selection = null;
  #zoom = 1;
  #start = 0;
  #lastScrolledAt = -Infinity;
  /** @type {(() => number) | null} */
  #clock = null;
  #frameRequest = 0;
  /** @type {Map<number, { x: number, y: number }>} active pointers, device px */
  #pointers = new Map();
  /** @type {{ kind: 'click' | 'select' | 'pan', x: number, time: number, start: number, moved: boolean } | { kind: 'pinch', distance: number, zoom: number, anchor: number } | null} */
  #gesture = null;
  #resizeObserver;
  #abort = new AbortController();

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ snap?: boolean }} [options]
   */
  constructor(canvas, { snap = false } = {}) {
    super();
    this.#canvas = canvas;
    this.#ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    this.snap = snap;
    this.#theme = readTheme(canvas);
    // Vertical page scrolling stays with the browser; pinch and horizontal drags are ours.
    canvas.style.touchAction = 'pan-y';
    this.#resizeObserver = new ResizeObserver((entries) => this.#onResize(entries[0]));
    try {
      this.#resizeObserver.observe(canvas, { box: 'device-pixel-content-box' });
    } catch {
      this.#resizeObserver.observe(canvas); // Safari: no device-pixel box, use CSS size × dpr
    }
    this.#listen();
    this.#requestDraw();
  }

  /** @param {WaveformAnalysis | null} analysis the analysis document, or null before analysis */
  setAnalysis(analysis) {
    this.#analysis = analysis;
    this.#invalidate();
  }

  /** @param {Marker[] | null} cues cue points ({position_ms, label, color?}) */
  setCues(cues) {
    this.#cues = cues ?? [];
    this.#invalidate();
  }

  /** Seconds the view spans at zoom 1: set from the player; otherwise taken from the analysis. */
  get duration() {
    return this.#explicitDuration || analysisDuration(this.#analysis);
  }

  set duration(seconds) {
    const duration = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    if (duration === this.#explicitDuration) return;
    this.#explicitDuration = duration;
    this.#invalidate();
  }

  get time() {
    return this.#time;
  }

  /** @param {number} seconds the playhead */
  set time(seconds) {
    if (seconds === this.#time) return;
    this.#time = seconds;
    this.#requestDraw();
  }

  get loop() {
    return this.#loop && { ...this.#loop };
  }

  /** @param {{ a: number, b: number } | null} loop seconds */
  set loop(loop) {
    this.#loop = loop && { a: loop.a, b: loop.b };
    this.#requestDraw();
  }

  /**
   * While set, the view reads the playhead from this function every animation frame and
   * follows it (set it while playing, clear it when paused).
   * @param {(() => number) | null} clock
   */
  set clock(clock) {
    this.#clock = clock;
    this.#requestDraw();
  }

  get zoom() {
    return this.#zoom;
  }

  /**
   * @param {number} zoom 1 shows the whole track
   * @param {number} [anchor] seconds that stay under the same pixel (default: the playhead if visible, else the centre)
   */
  setZoom(zoom, anchor) {
    const duration = this.duration;
    if (!(duration > 0)) return;
    const clamped = Math.min(Math.max(1, zoom), Math.max(1, duration / MIN_SPAN_SECONDS));
    const span = this.#span();
    const visible = this.#time >= this.#start && this.#time <= this.#start + span;
    const pivot = anchor ?? (visible ? this.#time : this.#start + span / 2);
    const fraction = (pivot - this.#start) / span;
    this.#zoom = clamped;
    this.#scrollTo(pivot - fraction * this.#span());
    this.#emit('zoom', { zoom: clamped });
  }

  /** Re-reads the CSS custom properties (after a theme change). */
  refreshTheme() {
    this.#theme = readTheme(this.#canvas);
    this.#invalidate();
  }

  destroy() {
    this.#abort.abort();
    this.#resizeObserver.disconnect();
    cancelAnimationFrame(this.#frameRequest);
    this.#clock = null;
  }

  #span() {
    return (this.duration || 1) / this.#zoom;
  }

  /** @param {number} start seconds at the left edge */
  #scrollTo(start) {
    this.#start = Math.min(Math.max(0, start), Math.max(0, this.duration - this.#span()));
    this.#requestDraw();
  }

  /** @returns {Viewport} */
  #viewport() {
    const { width, height } = this.#canvas;
    const cssWidth = this.#canvas.clientWidth;
    const dpr = cssWidth > 0 ? width / cssWidth : window.devicePixelRatio || 1;
    return { start: this.#start, span: this.#span(), width, height, ruler: Math.round(RULER_CSS_PX * dpr), dpr };
  }

  #invalidate() {
    this.#dataVersion++;
    this.#zoom = Math.min(this.#zoom, Math.max(1, this.duration / MIN_SPAN_SECONDS));
    this.#scrollTo(this.#start);
  }

  #requestDraw() {
    this.#frameRequest ||= requestAnimationFrame(() => {
      this.#frameRequest = 0;
      if (this.#clock) this.#time = this.#clock();
      this.#draw();
      if (this.#clock) this.#requestDraw();
    });
  }

  #draw() {
    const view = this.#viewport();
    if (view.width === 0 || view.height === 0) return;
    this.#follow(view);
    const current = this.#viewport();
    this.#renderLayers(current);
    const ctx = this.#ctx;
    ctx.drawImage(this.#staticLayer, 0, 0);
    const played = Math.round(Math.min(current.width, Math.max(0, xAt(current, this.#time))));
    if (played > 0) ctx.drawImage(this.#playedLayer, 0, 0, played, current.height, 0, 0, played, current.height);
    drawMarkers(ctx, current, [...(this.#analysis?.markers ?? []), ...this.#cues], this.#theme);
    const loop = this.#selection ?? this.#loop;
    if (loop) drawLoop(ctx, current, loop, this.#theme);
    if (this.duration > 0) drawPlayhead(ctx, current, this.#time, this.#theme);
  }

  /**
   * Pages the view along with a playing playhead, unless the user scrolled a moment ago.
   * @param {Viewport} view
   */
  #follow(view) {
    if (!this.#clock || this.#zoom <= 1 || this.#gesture) return;
    if (performance.now() - this.#lastScrolledAt < FOLLOW_PAUSE_MS) return;
    const { start, span } = view;
    if (this.#time < start || this.#time > start + span * 0.95) this.#scrollTo(this.#time - span * 0.05);
  }

  /**
   * Redraws the layers that only change with the data, size or visible range: everything
   * under the playhead, once in the wave colour and once in the played colour.
   * @param {Viewport} view
   */
  #renderLayers(view) {
    const key = [view.start, view.span, view.width, view.height, this.#dataVersion].join('|');
    if (key === this.#layersKey) return;
    this.#layersKey = key;
    for (const layer of [this.#staticLayer, this.#playedLayer]) {
      layer.width = view.width;
      layer.height = view.height;
    }
    const ctx = /** @type {CanvasRenderingContext2D} */ (this.#staticLayer.getContext('2d'));
    const played = /** @type {CanvasRenderingContext2D} */ (this.#playedLayer.getContext('2d'));
    const analysis = this.#analysis;
    const theme = this.#theme;
    drawBackground(ctx, view, theme);
    if (analysis?.structure?.length) drawSections(ctx, view, analysis.structure, theme);
    if (this.duration > 0) drawTicks(ctx, view, theme);
    drawBeatGrid(ctx, view, analysis?.rhythm?.beats_ms ?? [], analysis?.rhythm?.downbeats_ms ?? [], theme);

    const waveform = analysis?.waveform;
    const samplesPerColumn = ((waveform?.sample_rate ?? 0) * view.span) / view.width;
    const level = waveform && samplesPerColumn > 0 ? pickLevel(waveform.levels, samplesPerColumn) : null;
    if (!level || !waveform) {
      drawFlat(ctx, view, theme, 'not analysed yet');
      return;
    }
    const peaks = columnPeaks(level, view.start * waveform.sample_rate, samplesPerColumn, view.width);
    drawPeaks(ctx, view, peaks, theme.wave);
    drawPeaks(played, view, peaks, theme.played);
  }

  /** @param {ResizeObserverEntry} entry */
  #onResize(entry) {
    const box = entry.devicePixelContentBoxSize?.[0];
    const dpr = window.devicePixelRatio || 1;
    const width = Math.round(box ? box.inlineSize : entry.contentRect.width * dpr);
    const height = Math.round(box ? box.blockSize : entry.contentRect.height * dpr);
    if (width === this.#canvas.width && height === this.#canvas.height) return;
    this.#canvas.width = width;
    this.#canvas.height = height;
    this.#layersKey = '';
    this.#draw(); // now, not next frame: resizing cleared the canvas
  }

  #listen() {
    const canvas = this.#canvas;
    const options = { signal: this.#abort.signal };
    canvas.addEventListener('pointerdown', (event) => this.#onPointerDown(event), options);
    canvas.addEventListener('pointermove', (event) => this.#onPointerMove(event), options);
    canvas.addEventListener('pointerup', (event) => this.#onPointerUp(event), options);
    canvas.addEventListener('pointercancel', (event) => this.#endPointer(event), options);
    canvas.addEventListener('wheel', (event) => this.#onWheel(event), { ...options, passive: false });
  }

  /** @param {MouseEvent} event */
  #point(event) {
    const dpr = this.#viewport().dpr;
    return { x: event.offsetX * dpr, y: event.offsetY * dpr };
  }

  /** @param {PointerEvent} event */
  #onPointerDown(event) {
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    if (!(this.duration > 0)) return;
    try {
      this.#canvas.setPointerCapture(event.pointerId); // keep getting moves when the drag leaves the canvas
    } catch {
      // The pointer is already gone (released, or a synthetic event): nothing to capture.
    }
    const point = this.#point(event);
    this.#pointers.set(event.pointerId, point);
    const view = this.#viewport();
    if (this.#pointers.size === 2) {
      const [first, second] = [...this.#pointers.values()];
      const anchor = secondsAt(view, (first.x + second.x) / 2);
      this.#gesture = { kind: 'pinch', distance: Math.hypot(first.x - second.x, first.y - second.y), zoom: this.#zoom, anchor };
      this.#selection = null;
      return;
    }
    const kind = event.shiftKey || point.y < view.ruler ? 'select' : this.#zoom > 1 ? 'pan' : 'click';
    this.#gesture = { kind, x: point.x, time: secondsAt(view, point.x), start: this.#start, moved: false };
  }

  /** @param {PointerEvent} event */
  #onPointerMove(event) {
    const gesture = this.#gesture;
    if (!gesture || !this.#pointers.has(event.pointerId)) return;
    const point = this.#point(event);
    this.#pointers.set(event.pointerId, point);
    const view = this.#viewport();
    if (gesture.kind === 'pinch') {
      const [first, second] = [...this.#pointers.values()];
      const distance = Math.hypot(first.x - second.x, first.y - second.y);
      if (gesture.distance > 0) this.setZoom(gesture.zoom * (distance / gesture.distance), gesture.anchor);
      this.#lastScrolledAt = performance.now();
      return;
    }
    if (Math.abs(point.x - gesture.x) > CLICK_SLOP_CSS_PX * view.dpr) gesture.moved = true;
    if (!gesture.moved) return;
    if (gesture.kind === 'select') {
      this.#selection = this.#snapped(gesture.time, secondsAt(view, point.x));
      this.#requestDraw();
    } else if (gesture.kind === 'pan') {
      this.#scrollTo(gesture.start - ((point.x - gesture.x) / view.width) * view.span);
      this.#lastScrolledAt = performance.now();
    }
  }

  /** @param {PointerEvent} event */
  #onPointerUp(event) {
    const gesture = this.#gesture;
    if (gesture && gesture.kind !== 'pinch' && this.#pointers.has(event.pointerId)) {
      const view = this.#viewport();
      const time = secondsAt(view, this.#point(event).x);
      if (!gesture.moved) {
        this.#emit('seek', { seconds: clamp(time, 0, this.duration) });
      } else if (gesture.kind === 'select') {
        const { a, b } = this.#snapped(gesture.time, time);
        if (b > a) this.#emit('loopselect', { a, b });
      }
    }
    this.#endPointer(event);
  }

  /** @param {PointerEvent} event */
  #endPointer(event) {
    this.#pointers.delete(event.pointerId);
    if (this.#pointers.size === 0) {
      this.#gesture = null;
      this.#selection = null;
      this.#requestDraw();
    }
  }

  /**
   * A selection from two times: ordered, inside the track, and on beats when snapping.
   * @param {number} from
   * @param {number} to
   */
  #snapped(from, to) {
    const beats = this.snap ? this.#analysis?.rhythm?.beats_ms : null;
    const [a, b] = [from, to].map((time) => snapToBeat(clamp(time, 0, this.duration), beats)).sort((x, y) => x - y);
    return { a, b };
  }

  /** @param {WheelEvent} event */
  #onWheel(event) {
    if (!(this.duration > 0)) return;
    // Lines or pages become pixels, so a mouse notch and a trackpad swipe feel alike.
    const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? this.#canvas.clientWidth : 1;
    const view = this.#viewport();
    if (event.ctrlKey) {
      // Ctrl+wheel, and a trackpad pinch (which browsers report as Ctrl+wheel).
      event.preventDefault();
      this.setZoom(this.#zoom * Math.exp(-event.deltaY * unit * 0.002), secondsAt(view, this.#point(event).x));
      this.#lastScrolledAt = performance.now();
      return;
    }
    // Shift+wheel or a sideways swipe scrolls; a plain vertical wheel still scrolls the page.
    const sideways = event.shiftKey ? event.deltaY : event.deltaX;
    const mostlySideways = event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY);
    if (this.#zoom <= 1 || !mostlySideways || sideways === 0) return;
    event.preventDefault();
    this.#scrollTo(this.#start + ((sideways * unit * view.dpr) / view.width) * view.span);
    this.#lastScrolledAt = performance.now();
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * Keeps a WaveformView in step with a StemPlayer: playhead, loop and duration from the
 * player; clicks seek it, selections set its loop.
 * @param {WaveformView} view
 * @param {import('./stem-player.js').StemPlayer} player
 * @returns {() => void} unlinks them
 */
export function linkPlayer(view, player) {
  /** @param {import('./stem-player.js').PlayerSnapshot} state */
  const show = (state) => {
    if (state.duration > 0) view.duration = state.duration;
    view.loop = state.loop;
    view.time = state.time;
    view.clock = state.playing ? () => player.currentTime : null;
  };
  const onState = (/** @type {Event} */ event) => show(/** @type {CustomEvent} */ (event).detail);
  const onSeek = (/** @type {Event} */ event) => player.seek(/** @type {CustomEvent} */ (event).detail.seconds);
  const onLoopSelect = (/** @type {Event} */ event) => {
    const { a, b } = /** @type {CustomEvent} */ (event).detail;
    try {
      player.setLoop(a, b);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error; // a selection too short to loop is just ignored
    }
  };
  player.addEventListener('state', onState);
  view.addEventListener('seek', onSeek);
  view.addEventListener('loopselect', onLoopSelect);
  show(player.snapshot());
  return () => {
    player.removeEventListener('state', onState);
    view.removeEventListener('seek', onSeek);
    view.removeEventListener('loopselect', onLoopSelect);
    view.clock = null;
  };
}

/**
 * @param {number} value
 * @param {number} low
 * @param {number} high
 */
function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
