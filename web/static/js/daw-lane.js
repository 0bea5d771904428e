/**
 * One DAW lane on its canvas: the stem's waveform (peaks of the decoded audio, shaped by the
 * lane's envelope, so a mute is flat and a fade tapers), the beat grid, the edits and clips,
 * the selection, the cursor and the playhead; and the pointer gestures that select.
 *
 * Dragging selects a region (reported through `onSelect(startMs, endMs)` once released, and
 * `onSelecting` while it moves); a click without a drag places the cursor (`onCursor(ms)`).
 * Positions pass through `snap(ms)` first, so the controller decides about beats and edges.
 *
 *     const view = new LaneView(canvas, { grid, snap, onSelect, onCursor });
 *     view.setAudio(buffer);                       // an AudioBuffer: peaks are computed
 *     view.update({ durationMs, edits, clips, selection, cursorMs, playheadMs });
 */

import { envelope, liveEdits } from './daw-envelope.js';

/** @typedef {import('./daw-envelope.js').Edit} Edit */
/** @typedef {import('./daw-envelope.js').Clip} Clip */
/** @typedef {import('./daw-grid.js').BeatGrid} BeatGrid */
/** @typedef {{ startMs: number, endMs: number } | null} Selection */
/**
 * @typedef {object} LaneState
 * @property {number} durationMs
 * @property {Edit[]} edits every edit (undone ones are not drawn)
 * @property {Clip[]} clips
 * @property {Selection} selection
 * @property {number | null} cursorMs
 * @property {number | null} playheadMs
 */

/** Pointer travel (CSS px) that turns a click into a drag. */
const DRAG_PX = 3;

export class LaneView {
  /** @type {Float32Array} max |sample| per device pixel column */
  #peaks = new Float32Array(0);
  /** @type {AudioBuffer | null} */
  #audio = null;
  /** @type {LaneState} */
  #state = { durationMs: 1, edits: [], clips: [], selection: null, cursorMs: null, playheadMs: null };
  /** @type {{ x: number, ms: number, dragging: boolean } | null} */
  #press = null;

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ grid: BeatGrid, snap: (ms: number) => number,
   *           onSelect: (startMs: number, endMs: number) => void,
   *           onSelecting?: (startMs: number, endMs: number) => void,
   *           onCursor: (ms: number) => void }} options
   */
  constructor(canvas, { grid, snap, onSelect, onSelecting = () => {}, onCursor }) {
    this.canvas = canvas;
    this.grid = grid;
    this.snap = snap;
    this.onSelect = onSelect;
    this.onSelecting = onSelecting;
    this.onCursor = onCursor;
    canvas.addEventListener('pointerdown', (event) => this.#down(event));
    canvas.addEventListener('pointermove', (event) => this.#move(event));
    canvas.addEventListener('pointerup', (event) => this.#up(event));
    canvas.addEventListener('pointercancel', () => { this.#press = null; });
  }

  /** @param {AudioBuffer} buffer */
  setAudio(buffer) {
    this.#audio = buffer;
    this.#peaks = new Float32Array(0);
    this.draw();
  }

  /** @param {Partial<LaneState>} changes */
  update(changes) {
    this.#state = { ...this.#state, ...changes };
    this.draw();
  }

  /** Match the canvas to its CSS size (call on resize). */
  resize() {
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const height = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (width !== this.canvas.width || height !== this.canvas.height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.#peaks = new Float32Array(0);
    }
    this.draw();
  }

  /** @param {PointerEvent} event */
  #ms(event) {
    const rect = this.canvas.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / Math.max(1, rect.width)));
    return fraction * this.#state.durationMs;
  }

  /** @param {PointerEvent} event */
  #down(event) {
    if (event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    this.#press = { x: event.clientX, ms: this.snap(this.#ms(event)), dragging: false };
  }

  /** @param {PointerEvent} event */
  #move(event) {
    const press = this.#press;
    if (!press) return;
    if (!press.dragging && Math.abs(event.clientX - press.x) < DRAG_PX) return;
    press.dragging = true;
    const [a, b] = this.#span(press.ms, this.snap(this.#ms(event)));
    this.onSelecting(a, b);
  }

  /** @param {PointerEvent} event */
  #up(event) {
    const press = this.#press;
    this.#press = null;
    if (!press) return;
    if (!press.dragging) {
      this.onCursor(press.ms);
      return;
    }
    const [a, b] = this.#span(press.ms, this.snap(this.#ms(event)));
    if (b > a) this.onSelect(a, b);
    else this.onCursor(a);
  }

  /** @param {number} one @param {number} other */
  #span(one, other) {
    const end = this.#state.durationMs;
    return [Math.max(0, Math.min(one, other)), Math.min(end, Math.max(one, other))].map(Math.round);
  }

  #computePeaks() {
    const width = this.canvas.width;
    const peaks = new Float32Array(width);
    const audio = this.#audio;
    if (!audio) return peaks;
    const channels = Array.from({ length: Math.min(2, audio.numberOfChannels) }, (_, c) => audio.getChannelData(c));
    const frames = audio.length;
    const perColumn = frames / width;
    // Long columns are sampled (at most ~2000 reads each): the drawing is a few px tall.
    const stride = Math.max(1, Math.floor(perColumn / 2000));
    for (let column = 0; column < width; column++) {
      const from = Math.floor(column * perColumn);
      const to = Math.min(frames, Math.floor((column + 1) * perColumn) + 1);
      let peak = 0;
      for (const data of channels) {
        for (let i = from; i < to; i += stride) {
          const value = Math.abs(data[i]);
          if (value > peak) peak = value;
        }
      }
      peaks[column] = peak;
    }
    return peaks;
  }

  draw() {
    const { canvas } = this;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const { width, height } = canvas;
    const state = this.#state;
    const dpr = window.devicePixelRatio || 1;
    const x = (/** @type {number} */ ms) => (ms / state.durationMs) * width;
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = '#12151c';
    ctx.fillRect(0, 0, width, height);
    this.grid.paintLines(ctx, { durationMs: state.durationMs, width, height, dpr });
    const live = liveEdits(state.edits);
    this.#paintWave(ctx, live);
    this.#paintEdits(ctx, live, x);
    ctx.fillStyle = 'rgb(255 255 255 / 75%)';
    for (const clip of state.clips) {
      if (clip.start_ms > 0) ctx.fillRect(Math.round(x(clip.start_ms)) - dpr, 0, 2 * dpr, height);
    }
    const selection = state.selection;
    if (selection) {
      ctx.fillStyle = 'rgb(139 108 255 / 28%)';
      ctx.fillRect(x(selection.startMs), 0, x(selection.endMs) - x(selection.startMs), height);
      ctx.fillStyle = '#a08bff';
      ctx.fillRect(Math.round(x(selection.startMs)), 0, dpr, height);
      ctx.fillRect(Math.round(x(selection.endMs)) - dpr, 0, dpr, height);
    }
    if (state.cursorMs !== null) {
      ctx.fillStyle = '#e7e9ef';
      ctx.fillRect(Math.round(x(state.cursorMs)), 0, dpr, height);
    }
    if (state.playheadMs !== null) {
      ctx.fillStyle = '#ffb23f';
      ctx.fillRect(Math.round(x(state.playheadMs)), 0, 2 * dpr, height);
    }
  }

  /**
   * @param {CanvasRenderingContext2D} ctx
   * @param {Edit[]} live
   */
  #paintWave(ctx, live) {
    const { width, height } = this.canvas;
    if (!this.#audio) return;
    if (this.#peaks.length !== width) this.#peaks = this.#computePeaks();
    const env = envelope(live, (width * 1000) / this.#state.durationMs, 0, width);
    const middle = height / 2;
    ctx.fillStyle = getComputedStyle(this.canvas).getPropertyValue('--lane-color').trim() || '#8b6cff';
    for (let column = 0; column < width; column++) {
      const half = Math.max(0.5, Math.min(1, this.#peaks[column] * env[column]) * (middle - 2));
      ctx.fillRect(column, middle - half, 1, 2 * half);
    }
  }

  /**
   * @param {CanvasRenderingContext2D} ctx
   * @param {Edit[]} live
   * @param {(ms: number) => number} x
   */
  #paintEdits(ctx, live, x) {
    const { width, height } = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    ctx.font = `${10 * dpr}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    for (const edit of live) {
      if (edit.end_ms === null) continue;
      const a = x(edit.start_ms);
      const b = x(edit.end_ms);
      if (edit.op === 'trim') {
        ctx.fillStyle = 'rgb(0 0 0 / 55%)';
        ctx.fillRect(0, 0, a, height);
        ctx.fillRect(b, 0, width - b, height);
      } else if (edit.op === 'mute') {
        ctx.fillStyle = 'rgb(255 92 114 / 20%)';
        ctx.fillRect(a, 0, b - a, height);
        ctx.fillStyle = '#ff5c72';
        ctx.fillText('mute', a + 3 * dpr, 3 * dpr);
      } else if (edit.op === 'gain') {
        ctx.fillStyle = 'rgb(92 200 255 / 16%)';
        ctx.fillRect(a, 0, b - a, height);
        ctx.fillStyle = '#5cc8ff';
        const db = edit.gain_db ?? 0;
        ctx.fillText(`${db > 0 ? '+' : ''}${db} dB`, a + 3 * dpr, 3 * dpr);
      } else if (edit.op === 'fade_in' || edit.op === 'fade_out') {
        ctx.strokeStyle = '#2dd4bf';
        ctx.lineWidth = 1.5 * dpr;
        ctx.beginPath();
        const steps = Math.max(2, Math.round(b - a));
        for (let i = 0; i <= steps; i++) {
          const t = i / steps;
          const gain = edit.op === 'fade_in' ? Math.sin((Math.PI / 2) * t) : Math.cos((Math.PI / 2) * t);
          const px = a + t * (b - a);
          const py = height - gain * (height - 2 * dpr) - dpr;
          if (i === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        }
        ctx.stroke();
      }
    }
  }
}
