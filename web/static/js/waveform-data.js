/**
 * Reading the analysis document for the waveform view: which peaks level suits a zoom, the
 * peaks under each pixel column, snapping to beats, colours for song sections. Pure functions,
 * no canvas, so they are easy to test.
 *
 * The peaks layout is the audiowaveform / peaks.js one the analyser writes (docs/analysis.md):
 * `{sample_rate, bits: 8, levels: [{samples_per_pixel, length, data: [min0, max0, min1, max1, …]}]}`
 * with data as signed 8-bit values, full scale 128.
 *
 *     const level = pickLevel(waveform.levels, samplesPerColumn);
 *     const { min, max } = columnPeaks(level, firstSample, samplesPerColumn, canvas.width);
 *     snapToBeat(12.34, rhythm.beats_ms); // 12.345 if a beat is within 80 ms
 */

/** @typedef {{ samples_per_pixel: number, length: number, data: ArrayLike<number> }} PeaksLevel */
/** @typedef {{ sample_rate: number, bits?: number, levels: PeaksLevel[] }} Peaks */

/**
 * The level whose bin size is nearest (on a log scale) to the samples one column covers.
 * @param {PeaksLevel[]} levels
 * @param {number} samplesPerColumn
 * @returns {PeaksLevel | null}
 */
export function pickLevel(levels, samplesPerColumn) {
  let best = null;
  let bestDistance = Infinity;
  for (const level of levels ?? []) {
    if (!(level?.samples_per_pixel > 0) || !level.data?.length) continue;
    const distance = Math.abs(Math.log(level.samples_per_pixel / Math.max(1e-9, samplesPerColumn)));
    if (distance < bestDistance) [best, bestDistance] = [level, distance];
  }
  return best;
}

/**
 * Minimum and maximum (−1..1) under each of `columns` columns that start at `firstSample` and
 * each cover `samplesPerColumn` samples. Columns narrower than a bin show the bin they are in;
 * columns outside the data are NaN (nothing to draw).
 * @param {PeaksLevel} level
 * @param {number} firstSample
 * @param {number} samplesPerColumn
 * @param {number} columns
 */
export function columnPeaks(level, firstSample, samplesPerColumn, columns) {
  const min = new Float32Array(columns).fill(NaN);
  const max = new Float32Array(columns).fill(NaN);
  const { samples_per_pixel: binSize, data } = level;
  const bins = Math.min(level.length, Math.floor(data.length / 2));
  for (let column = 0; column < columns; column++) {
    const start = firstSample + column * samplesPerColumn;
    const first = Math.max(0, Math.floor(start / binSize));
    const last = Math.min(bins, Math.max(first + 1, Math.ceil((start + samplesPerColumn) / binSize)));
    if (start < 0 && start + samplesPerColumn <= 0) continue;
    let low = Infinity;
    let high = -Infinity;
    for (let bin = first; bin < last; bin++) {
      low = Math.min(low, data[2 * bin]);
      high = Math.max(high, data[2 * bin + 1]);
    }
    if (low > high) continue;
    min[column] = low / 128;
    max[column] = high / 128;
  }
  return { min, max };
}

/**
 * The track length the analysis implies: its duration_ms, else what the finest peaks cover.
 * @param {{ duration_ms?: number | null, waveform?: Peaks | null } | null | undefined} analysis
 * @returns {number} seconds (0 when unknown)
 */
export function analysisDuration(analysis) {
  if (typeof analysis?.duration_ms === 'number' && analysis.duration_ms > 0) return analysis.duration_ms / 1000;
  const waveform = analysis?.waveform;
  const level = waveform?.levels?.at(-1);
  if (level && waveform.sample_rate > 0) return (level.length * level.samples_per_pixel) / waveform.sample_rate;
  return 0;
}

/**
 * Moves `seconds` onto the nearest beat when one is within `toleranceMs`.
 * @param {number} seconds
 * @param {ArrayLike<number> | null | undefined} beatsMs sorted beat times
 * @param {number} [toleranceMs]
 */
export function snapToBeat(seconds, beatsMs, toleranceMs = 80) {
  if (!beatsMs?.length) return seconds;
  const ms = seconds * 1000;
  const index = lowerBound(beatsMs, ms);
  let nearest = NaN;
  for (const candidate of [beatsMs[index - 1], beatsMs[index]]) {
    if (candidate === undefined) continue;
    if (Number.isNaN(nearest) || Math.abs(candidate - ms) < Math.abs(nearest - ms)) nearest = candidate;
  }
  return Math.abs(nearest - ms) <= toleranceMs ? nearest / 1000 : seconds;
}

/**
 * Index of the first value ≥ target in a sorted array.
 * @param {ArrayLike<number>} sorted
 * @param {number} target
 */
export function lowerBound(sorted, target) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Hues for the analyser's section labels; other labels get a hue from their name. */
const SECTION_HUES = /** @type {Record<string, number>} */ ({
  intro: 210,
  verse: 130,
  chorus: 5,
  bridge: 275,
  breakdown: 185,
  'build-up': 40,
  drop: 330,
  outro: 230,
});

/**
 * A section's colour: hue from its label, brighter for more energy.
 * @param {string} label
 * @param {number | null | undefined} energy 0..1
 * @param {number} [alpha]
 */
export function sectionColor(label, energy, alpha = 1) {
  const hue = SECTION_HUES[label] ?? hashHue(label);
  const level = Math.min(1, Math.max(0, energy ?? 0.5));
  return `hsl(${hue} ${45 + 25 * level}% ${30 + 22 * level}% / ${alpha})`;
}

/** @param {string} text */
function hashHue(text) {
  let hash = 0;
  for (const char of String(text)) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 360;
}
