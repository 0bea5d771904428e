/**
 * A lane's edit list as a gain envelope: the browser's mirror of soundforge/audio/render.py,
 * so the preview sounds like the render and the lane draws what the render will write.
 *
 * `envelope(edits, rate, start, stop)` gives one factor per step of `rate` steps a second
 * (an audio sample rate for the exact curve; 1000 for a gain automation curve; the canvas's
 * pixels per second for drawing). Trim silences outside its region, mute silences it, gain
 * scales it by 10^(dB/20), fades ramp over it along equal-power curves; the hard edges of
 * mute, trim and gain get a 5 ms raised-cosine de-click ramp on the side the edit does not
 * silence or scale. A split changes nothing: it divides the lane into clips.
 *
 *     const live = liveEdits(lane.edits);
 *     const curve = envelope(live, 1000, 0, lane.duration_ms);   // one factor per ms
 *     clips(lane.duration_ms, live);                             // [{start_ms, end_ms}, ...]
 */

/** @typedef {{ op: string, start_ms: number, end_ms: number | null, gain_db: number | null, undone?: boolean }} Edit */
/** @typedef {{ start_ms: number, end_ms: number }} Clip */

export const DECLICK_MS = 5;

/**
 * The edits a render applies: the live ones, in position order.
 * @param {Edit[]} edits
 * @returns {Edit[]}
 */
export function liveEdits(edits) {
  return edits.filter((edit) => !edit.undone);
}

/**
 * The lane's clips: [0, duration) divided at every split.
 * @param {number} durationMs
 * @param {Edit[]} edits live edits
 * @returns {Clip[]}
 */
export function clips(durationMs, edits) {
  const cuts = [...new Set(edits.filter((e) => e.op === 'split' && e.start_ms > 0 && e.start_ms < durationMs)
    .map((e) => e.start_ms))].sort((a, b) => a - b);
  const bounds = [0, ...cuts, durationMs];
  /** @type {Clip[]} */
  const out = [];
  for (let i = 1; i < bounds.length; i++) {
    if (bounds[i] > bounds[i - 1]) out.push({ start_ms: bounds[i - 1], end_ms: bounds[i] });
  }
  return out;
}

/** @param {number} x 0..1 */
const raisedCosine = (x) => 0.5 - 0.5 * Math.cos(Math.PI * x);

/**
 * Multiply steps [lo, hi) of the block starting at `first` by factor(i).
 * @param {Float32Array} env
 * @param {number} first
 * @param {number} lo
 * @param {number} hi
 * @param {(i: number) => number} factor
 */
function scale(env, first, lo, hi, factor) {
  const a = Math.max(lo, first);
  const b = Math.min(hi, first + env.length);
  for (let i = a; i < b; i++) env[i - first] *= factor(i);
}

/**
 * The gain for steps [start, stop) of a lane with these live edits.
 * @param {Edit[]} edits live edits, in position order
 * @param {number} rate steps per second
 * @param {number} start
 * @param {number} stop
 * @returns {Float32Array}
 */
export function envelope(edits, rate, start, stop) {
  const env = new Float32Array(Math.max(0, stop - start)).fill(1);
  const at = (/** @type {number} */ ms) => Math.round((ms * rate) / 1000);
  const ramp = Math.max(1, at(DECLICK_MS));
  for (const edit of edits) {
    if (edit.op === 'split' || edit.end_ms === null || edit.end_ms === undefined) continue;
    const s = at(edit.start_ms);
    const e = at(edit.end_ms);
    if (e <= s) continue;
    if (edit.op === 'mute' || edit.op === 'gain') {
      const level = edit.op === 'mute' ? 0 : 10 ** ((edit.gain_db ?? 0) / 20);
      scale(env, start, s, e, () => level);
      if (level === 1) continue;
      const towards = (/** @type {number} */ w) => 1 + (level - 1) * raisedCosine(w);
      scale(env, start, s - ramp, s, (i) => towards((i - (s - ramp) + 1) / (ramp + 1)));
      scale(env, start, e, e + ramp, (i) => towards((e + ramp - i) / (ramp + 1)));
    } else if (edit.op === 'trim') {
      scale(env, start, Math.min(start, s), s, () => 0);
      scale(env, start, e, Math.max(start + env.length, e), () => 0);
      const r = Math.min(ramp, Math.floor((e - s) / 2));
      if (r > 0) {
        scale(env, start, s, s + r, (i) => raisedCosine((i - s + 1) / (r + 1)));
        scale(env, start, e - r, e, (i) => raisedCosine((e - i) / (r + 1)));
      }
    } else if (edit.op === 'fade_in') {
      scale(env, start, s, e, (i) => Math.sin((0.5 * Math.PI * (i - s)) / (e - s)));
    } else if (edit.op === 'fade_out') {
      scale(env, start, s, e, (i) => Math.cos((0.5 * Math.PI * (i - s + 1)) / (e - s)));
    }
  }
  return env;
}
