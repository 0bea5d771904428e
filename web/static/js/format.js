/**
 * Small display helpers shared by the player pages: times, tempo, levels and Camelot colours.
 * Missing values (null, NaN) format as a dash rather than "NaN", since analysis fields are
 * null for silence or music without a pulse.
 *
 *     formatTime(75.34);    // "1:15.3"
 *     formatBpm(127.96);    // "128 BPM"
 *     formatDb(-6);         // "-6.0 dB"
 *     camelotColor('8B');   // "hsl(150 70% 62%)"
 */

const DASH = '–';

/**
 * Minutes, seconds and tenths, rounded down (a playhead at 59.96 s has not reached 1:00).
 * @param {number | null | undefined} seconds
 * @returns {string} e.g. "0:05.2", "12:00.0", "-0:01.5"
 */
export function formatTime(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return `${DASH}:${DASH}${DASH}.${DASH}`;
  const sign = seconds < 0 ? '-' : '';
  // The epsilon keeps 1.3 (stored as 1.29999…) from showing as 1.2.
  const tenths = Math.floor(Math.abs(seconds) * 10 + 1e-6);
  const minutes = Math.floor(tenths / 600);
  const rest = tenths % 600;
  const wholeSeconds = String(Math.floor(rest / 10)).padStart(2, '0');
  return `${sign}${minutes}:${wholeSeconds}.${rest % 10}`;
}

/**
 * Tempo as a whole number when it is one (within 0.05), otherwise with one decimal.
 * @param {number | null | undefined} bpm
 * @returns {string} e.g. "128 BPM", "87.5 BPM", "– BPM"
 */
export function formatBpm(bpm) {
  if (typeof bpm !== 'number' || !Number.isFinite(bpm) || bpm <= 0) return `${DASH} BPM`;
  const rounded = Math.round(bpm);
  return Math.abs(bpm - rounded) < 0.05 ? `${rounded} BPM` : `${bpm.toFixed(1)} BPM`;
}

/**
 * A level or gain in decibels, signed when positive (a boost), "-∞ dB" for silence.
 * @param {number | null | undefined} db
 * @param {{ digits?: number, unit?: string }} [options] unit: e.g. "LUFS", "dBTP"
 * @returns {string} e.g. "-6.0 dB", "+1.5 dB", "-14.2 LUFS"
 */
export function formatDb(db, { digits = 1, unit = 'dB' } = {}) {
  if (db === -Infinity) return `-∞ ${unit}`;
  if (typeof db !== 'number' || Number.isNaN(db)) return `${DASH} ${unit}`;
  const text = db.toFixed(digits);
  const isZero = Number(text) === 0;
  return `${db > 0 && !isZero ? '+' : ''}${isZero ? (0).toFixed(digits) : text} ${unit}`;
}

/**
 * Decibels of a linear gain (1 → 0 dB, 0.5 → -6.02 dB, 0 → -Infinity).
 * @param {number} gain
 */
export function gainToDb(gain) {
  return gain > 0 ? 20 * Math.log10(gain) : -Infinity;
}

/**
 * The colour of a Camelot key: twelve hues around the wheel (neighbours, which mix well,
 * get neighbouring hues); minor keys (A) darker, major keys (B) lighter.
 * @param {string | null | undefined} code e.g. "8A", "11b"
 * @returns {string | null} a CSS colour, or null for anything that is not a Camelot code
 */
export function camelotColor(code) {
  const match = /^\s*(1[0-2]|[1-9])\s*([AB])\s*$/i.exec(code ?? '');
  if (!match) return null;
  const position = Number(match[1]);
  const minor = match[2].toUpperCase() === 'A';
  // 8 (C major, A minor) is green; each step round the wheel turns the hue 30°.
  const hue = (150 + (position - 8) * 30 + 360) % 360;
  return minor ? `hsl(${hue} 65% 40%)` : `hsl(${hue} 70% 62%)`;
}
