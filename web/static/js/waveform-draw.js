/**
 * The waveform view's painters: each draws one layer (sections, beat grid, peaks, markers,
 * loop, playhead) onto a 2D context in device pixels, given the visible time range. The view
 * (waveform.js) decides when to call them and caches the layers that do not move.
 *
 * Layout: a ruler strip on top (sections with their labels; dragging there selects a loop) and
 * the wave area below it, with time ticks along its bottom edge.
 *
 * Colours come from CSS custom properties on the canvas, so the page's stylesheet can theme
 * the view; readTheme() lists them with their defaults.
 */

import { formatTime } from './format.js';
import { lowerBound, sectionColor } from './waveform-data.js';

/**
 * What is visible and where, in device pixels.
 * @typedef {object} Viewport
 * @property {number} start  seconds at the left edge
 * @property {number} span   seconds across the width
 * @property {number} width
 * @property {number} height
 * @property {number} ruler  height of the ruler strip
 * @property {number} dpr    device pixels per CSS pixel
 */

/** @typedef {ReturnType<typeof readTheme>} Theme */
/** @typedef {{ start_ms: number, end_ms: number, label: string, energy?: number | null }} Section */
/** @typedef {{ position_ms: number, label?: string | null, kind?: string, color?: string | null }} Marker */

/**
 * The view's colours: CSS custom properties on `element`, or these defaults.
 * @param {Element} element
 */
export function readTheme(element) {
  const style = getComputedStyle(element);
  /** @param {string} name @param {string} fallback */
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    background: read('--waveform-background', '#14171d'),
    ruler: read('--waveform-ruler', '#1d2129'),
    wave: read('--waveform-wave', '#7d8aa3'),
    played: read('--waveform-played', '#f2a33a'),
    playhead: read('--waveform-playhead', '#ffffff'),
    beat: read('--waveform-beat', 'rgba(255, 255, 255, 0.10)'),
    downbeat: read('--waveform-downbeat', 'rgba(255, 255, 255, 0.28)'),
    loop: read('--waveform-loop', 'rgba(90, 170, 255, 0.22)'),
    loopEdge: read('--waveform-loop-edge', 'rgba(90, 170, 255, 0.9)'),
    marker: read('--waveform-marker', '#e24a7d'),
    text: read('--waveform-text', '#c9cfda'),
    font: read('--waveform-font', 'system-ui, sans-serif'),
  };
}

/**
 * @param {Viewport} view
 * @param {number} seconds
 */
export function xAt(view, seconds) {
  return ((seconds - view.start) / view.span) * view.width;
}

/**
 * @param {Viewport} view
 * @param {number} x device pixels
 */
export function secondsAt(view, x) {
  return view.start + (x / view.width) * view.span;
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {Theme} theme
 */
export function drawBackground(ctx, view, theme) {
  ctx.fillStyle = theme.background;
  ctx.fillRect(0, 0, view.width, view.height);
  ctx.fillStyle = theme.ruler;
  ctx.fillRect(0, 0, view.width, view.ruler);
}

/**
 * Sections as coloured bands in the ruler, labelled where there is room, and a faint tint of
 * the same colour over the wave area.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {Section[]} sections
 * @param {Theme} theme
 */
export function drawSections(ctx, view, sections, theme) {
  ctx.font = `${10 * view.dpr}px ${theme.font}`;
  ctx.textBaseline = 'middle';
  for (const section of sections) {
    const left = Math.max(0, xAt(view, section.start_ms / 1000));
    const right = Math.min(view.width, xAt(view, section.end_ms / 1000));
    if (right <= left) continue;
    ctx.fillStyle = sectionColor(section.label, section.energy, 0.9);
    ctx.fillRect(left, 0, right - left - view.dpr, view.ruler);
    ctx.fillStyle = sectionColor(section.label, section.energy, 0.08);
    ctx.fillRect(left, view.ruler, right - left, view.height - view.ruler);
    const label = section.label ?? '';
    if (ctx.measureText(label).width + 8 * view.dpr < right - left) {
      ctx.fillStyle = theme.text;
      ctx.fillText(label, left + 4 * view.dpr, view.ruler / 2);
    }
  }
}

/**
 * Time ticks along the bottom edge of the wave area (the ruler holds the section names), at a
 * step that leaves room for their labels.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {Theme} theme
 */
export function drawTicks(ctx, view, theme) {
  const minGap = 70 * view.dpr;
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  const step = steps.find((candidate) => (candidate / view.span) * view.width >= minGap) ?? 1200;
  const tick = 4 * view.dpr;
  ctx.fillStyle = theme.text;
  ctx.globalAlpha = 0.55;
  ctx.font = `${9 * view.dpr}px ${theme.font}`;
  ctx.textBaseline = 'bottom';
  for (let time = Math.ceil(view.start / step) * step; time <= view.start + view.span; time += step) {
    const x = Math.round(xAt(view, time));
    ctx.fillRect(x, view.height - tick, view.dpr, tick);
    ctx.fillText(formatTime(time).replace(/\.\d$/, ''), x + 3 * view.dpr, view.height - view.dpr);
  }
  ctx.globalAlpha = 1;
}

/**
 * Beat lines, and stronger bar lines on downbeats; a grid too dense to read (lines closer than
 * 10 CSS px for beats, 8 for bars) is left out.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {ArrayLike<number>} beatsMs
 * @param {ArrayLike<number>} downbeatsMs
 * @param {Theme} theme
 */
export function drawBeatGrid(ctx, view, beatsMs, downbeatsMs, theme) {
  const layers = /** @type {const} */ ([
    [beatsMs, theme.beat, 10],
    [downbeatsMs, theme.downbeat, 8],
  ]);
  for (const [times, color, minGapCss] of layers) {
    const first = lowerBound(times, view.start * 1000);
    const last = lowerBound(times, (view.start + view.span) * 1000);
    if (last - first < 1 || view.width / (last - first) < minGapCss * view.dpr) continue;
    ctx.fillStyle = color;
    for (let index = first; index < last; index++) {
      ctx.fillRect(Math.round(xAt(view, times[index] / 1000)), view.ruler, view.dpr, view.height - view.ruler);
    }
  }
}

/**
 * One vertical bar per column from the column's minimum to its maximum.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {{ min: Float32Array, max: Float32Array }} peaks one entry per device-pixel column
 * @param {string} color
 */
export function drawPeaks(ctx, view, peaks, color) {
  const top = view.ruler;
  const half = (view.height - top) / 2;
  const middle = top + half;
  ctx.fillStyle = color;
  ctx.beginPath();
  for (let x = 0; x < peaks.min.length; x++) {
    const low = peaks.min[x];
    const high = peaks.max[x];
    if (Number.isNaN(low)) continue;
    const y = middle - high * half;
    ctx.rect(x, y, 1, Math.max(1, (high - low) * half));
  }
  ctx.fill();
}

/**
 * A flat line with a note in the middle, for a track without (analysed) peaks.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {Theme} theme
 * @param {string} message
 */
export function drawFlat(ctx, view, theme, message) {
  const middle = view.ruler + (view.height - view.ruler) / 2;
  ctx.fillStyle = theme.wave;
  ctx.fillRect(0, Math.round(middle), view.width, view.dpr);
  ctx.font = `${12 * view.dpr}px ${theme.font}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillStyle = theme.text;
  ctx.fillText(message, view.width / 2, middle - 6 * view.dpr);
  ctx.textAlign = 'start';
}

/**
 * Markers and cue points as flags: a line through the wave area and a labelled tab on top.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {Marker[]} markers
 * @param {Theme} theme
 */
export function drawMarkers(ctx, view, markers, theme) {
  ctx.font = `${10 * view.dpr}px ${theme.font}`;
  ctx.textBaseline = 'middle';
  const tab = 13 * view.dpr;
  for (const marker of markers) {
    const x = Math.round(xAt(view, marker.position_ms / 1000));
    if (x < -200 * view.dpr || x > view.width) continue;
    const color = marker.color || theme.marker;
    const label = marker.label ?? marker.kind ?? '';
    ctx.fillStyle = color;
    ctx.fillRect(x, view.ruler, view.dpr, view.height - view.ruler);
    const width = label ? ctx.measureText(label).width + 8 * view.dpr : 6 * view.dpr;
    ctx.fillRect(x, view.ruler, width, tab);
    if (label) {
      ctx.fillStyle = '#fff';
      ctx.fillText(label, x + 4 * view.dpr, view.ruler + tab / 2);
    }
  }
}

/**
 * The A–B loop (or a selection being dragged) as a tinted region with solid edges.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {{ a: number, b: number }} loop seconds
 * @param {Theme} theme
 */
export function drawLoop(ctx, view, loop, theme) {
  const left = xAt(view, Math.min(loop.a, loop.b));
  const right = xAt(view, Math.max(loop.a, loop.b));
  if (right < 0 || left > view.width) return;
  ctx.fillStyle = theme.loop;
  ctx.fillRect(left, 0, right - left, view.height);
  ctx.fillStyle = theme.loopEdge;
  ctx.fillRect(Math.round(left), 0, view.dpr, view.height);
  ctx.fillRect(Math.round(right) - view.dpr, 0, view.dpr, view.height);
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {Viewport} view
 * @param {number} time seconds
 * @param {Theme} theme
 */
export function drawPlayhead(ctx, view, time, theme) {
  const x = Math.round(xAt(view, time));
  if (x < 0 || x > view.width) return;
  ctx.fillStyle = theme.playhead;
  ctx.fillRect(x - view.dpr / 2, 0, Math.max(1, view.dpr * 1.5), view.height);
}
