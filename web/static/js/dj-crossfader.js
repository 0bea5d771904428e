/**
 * The DJ mixer's gain laws, as pure functions: the crossfader curves and the three-band EQ's
 * knob-to-decibel mapping. No Web Audio here, so they are easy to check (tests/e2e/test_dj.py
 * runs them in the browser); dj-audio.js applies them to the graph.
 *
 * Crossfader position 0 is deck 1 only, 1 is deck 2 only (the mixer session's `crossfader`).
 * - `linear`: gains 1 − x and x; the middle is 6 dB down on each side, so a blend of two
 *   uncorrelated tracks dips in loudness.
 * - `equal_power`: gains cos(x·π/2) and sin(x·π/2); their powers always sum to 1, so the
 *   blend keeps its loudness (each side −3 dB in the middle).
 *
 *     crossfaderGains(0.5, 'equal_power');  // { left: 0.7071…, right: 0.7071… }
 *     eqDb(0);    // -Infinity (kill)
 *     eqDb(0.5);  // 0
 *     eqDb(1);    // 6
 */

/** @typedef {'linear' | 'equal_power'} CrossfaderCurve */

/** The curves the mixer session accepts for `crossfader.curve`, in the order the switch shows. */
export const CURVES = /** @type {const} */ (['linear', 'equal_power']);

/** Boost of an EQ knob turned fully up. */
export const EQ_MAX_DB = 6;
/** What a filter is set to for a killed band: deep enough to be inaudible under the others. */
export const EQ_KILL_DB = -40;

/**
 * The two decks' gains for a crossfader position.
 * @param {number} position 0..1 (clamped; not a number counts as the middle)
 * @param {string} curve `linear` or `equal_power`; anything else counts as `linear`
 * @returns {{ left: number, right: number }} deck 1's and deck 2's gain, each 0..1
 */
export function crossfaderGains(position, curve) {
  const x = Number.isFinite(position) ? Math.min(1, Math.max(0, position)) : 0.5;
  if (curve === 'equal_power') {
    // Exact zeros at the ends (cos(π/2) is 6e-17 in floating point).
    const left = x === 1 ? 0 : Math.cos((x * Math.PI) / 2);
    const right = x === 0 ? 0 : Math.sin((x * Math.PI) / 2);
    return { left, right };
  }
  return { left: 1 - x, right: x };
}

/**
 * An EQ knob's gain in decibels: 0 kills the band, 0.5 leaves it (0 dB), 1 boosts it by
 * EQ_MAX_DB. Below the middle the knob is linear in amplitude (a quarter turn is −6 dB), so
 * it sweeps smoothly down to the kill; above it, linear in decibels.
 * @param {number} value 0..1 (clamped; not a number counts as the middle)
 * @returns {number} decibels; -Infinity for the kill
 */
export function eqDb(value) {
  const v = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0.5;
  if (v >= 0.5) return (v - 0.5) * 2 * EQ_MAX_DB;
  if (v === 0) return -Infinity;
  return 20 * Math.log10(v * 2);
}

/**
 * What an EQ filter's gain parameter is set to: eqDb() with the kill (and anything quieter)
 * held at EQ_KILL_DB, since a BiquadFilter cannot take -Infinity.
 * @param {number} value 0..1
 */
export function eqFilterDb(value) {
  return Math.max(EQ_KILL_DB, eqDb(value));
}

/**
 * The crossfader curve after `curve` in CURVES (the switch's click).
 * @param {string} curve
 * @returns {CrossfaderCurve}
 */
export function nextCurve(curve) {
  const index = CURVES.indexOf(/** @type {CrossfaderCurve} */ (curve));
  return CURVES[(index + 1) % CURVES.length];
}
