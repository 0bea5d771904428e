/**
 * The DAW's beat grid: where the beats and bars are (from the analysis), snapping a position
 * to them or to a clip's edge, and painting the grid and the ruler.
 *
 *     const grid = new BeatGrid(data.beats_ms, data.downbeats_ms, data.beats_per_bar);
 *     grid.snap(1234, { beats: true, edges: [0, 4000, 8000], tolerance: 40 });  // → 1250
 *     grid.paintLines(ctx, view);        // faint beats, brighter bar lines
 *     grid.paintRuler(ctx, view);        // bar numbers along the top
 */

/** @typedef {{ durationMs: number, width: number, height: number, dpr: number }} View */

/**
 * The index of the first element >= value in an ascending array.
 * @param {number[]} values
 * @param {number} value
 */
function lowerBound(values, value) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The element of an ascending array nearest to value (undefined when empty).
 * @param {number[]} values
 * @param {number} value
 */
function nearest(values, value) {
  const i = lowerBound(values, value);
  const candidates = [values[i - 1], values[i]].filter((v) => v !== undefined);
  return candidates.sort((a, b) => Math.abs(a - value) - Math.abs(b - value))[0];
}

export class BeatGrid {
  /**
   * @param {number[]} beats positions in ms
   * @param {number[]} downbeats positions in ms (bar starts)
   * @param {number} beatsPerBar
   */
  constructor(beats, downbeats, beatsPerBar) {
    this.beats = [...beats].sort((a, b) => a - b);
    this.downbeats = [...downbeats].sort((a, b) => a - b);
    if (!this.downbeats.length && this.beats.length) {
      this.downbeats = this.beats.filter((_, i) => i % Math.max(1, beatsPerBar) === 0);
    }
    this.beatsPerBar = beatsPerBar;
  }

  get empty() {
    return this.beats.length === 0;
  }

  /**
   * A position snapped: to the nearest beat when `beats`, else to a clip edge within
   * `tolerance` ms (edges always attract: a region meets the clip it is about).
   * @param {number} ms
   * @param {{ beats: boolean, edges: number[], tolerance: number }} options
   */
  snap(ms, { beats, edges, tolerance }) {
    const sortedEdges = [...edges].sort((a, b) => a - b);
    const edge = nearest(sortedEdges, ms);
    if (edge !== undefined && Math.abs(edge - ms) <= tolerance) return edge;
    if (beats && !this.empty) {
      const beat = nearest(this.beats, ms);
      if (beat !== undefined) return beat;
    }
    return Math.round(ms);
  }

  /**
   * Beat and bar lines across the whole height.
   * @param {CanvasRenderingContext2D} ctx
   * @param {View} view
   */
  paintLines(ctx, view) {
    const x = (/** @type {number} */ ms) => Math.round((ms / view.durationMs) * view.width) + 0.5;
    const spacing = this.beats.length > 1 ? (view.width * (this.beats[1] - this.beats[0])) / view.durationMs : 0;
    ctx.lineWidth = 1;
    if (spacing >= 4 * view.dpr) {
      ctx.strokeStyle = 'rgb(255 255 255 / 7%)';
      ctx.beginPath();
      for (const beat of this.beats) {
        ctx.moveTo(x(beat), 0);
        ctx.lineTo(x(beat), view.height);
      }
      ctx.stroke();
    }
    ctx.strokeStyle = 'rgb(255 255 255 / 18%)';
    ctx.beginPath();
    for (const bar of this.downbeats) {
      ctx.moveTo(x(bar), 0);
      ctx.lineTo(x(bar), view.height);
    }
    ctx.stroke();
  }

  /**
   * Bar numbers (every bar, or every 2nd, 4th... when bars are narrow) and beat ticks.
   * @param {CanvasRenderingContext2D} ctx
   * @param {View} view
   */
  paintRuler(ctx, view) {
    const x = (/** @type {number} */ ms) => (ms / view.durationMs) * view.width;
    ctx.fillStyle = 'rgb(255 255 255 / 35%)';
    for (const beat of this.beats) ctx.fillRect(Math.round(x(beat)), view.height - 5 * view.dpr, 1, 5 * view.dpr);
    const barWidth = this.downbeats.length > 1 ? x(this.downbeats[1] - this.downbeats[0]) : view.width;
    let every = 1;
    while (barWidth * every < 28 * view.dpr) every *= 2;
    ctx.fillStyle = 'rgb(231 233 239 / 85%)';
    ctx.font = `${11 * view.dpr}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    this.downbeats.forEach((bar, index) => {
      if (index % every !== 0) return;
      ctx.fillRect(Math.round(x(bar)), 0, 1, view.height);
      ctx.fillText(String(index + 1), Math.round(x(bar)) + 3 * view.dpr, 3 * view.dpr);
    });
  }
}
