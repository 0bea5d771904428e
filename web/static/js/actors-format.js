/**
 * How the actors console (/admin/actors) writes a process's numbers: sizes, uptimes, rates,
 * dates, and the server's messages as sentences. Missing values (null, NaN) read as a dash,
 * since the observer leaves fields at their default out of its snapshot.
 *
 * The player pages have their own helpers (format.js: times, tempo, levels); these are the
 * observer's units, as Erlang's observer shows them.
 *
 *     formatBytes(5_242_880);   // "5.0 MiB"
 *     formatUptime(3725);       // "1 h 2 min"
 *     formatRate(undefined);    // "–"
 *     sentence('Kill: done');   // "Kill: done."
 */

export const DASH = '–';

/** @param {number | null | undefined} bytes */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** @param {number | null | undefined} seconds */
export function formatUptime(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return DASH;
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** @param {number | null | undefined} rate */
export function formatRate(rate) {
  return typeof rate === 'number' && Number.isFinite(rate) ? rate.toFixed(1) : DASH;
}

/** @param {number | null | undefined} percent */
export function formatPercent(percent) {
  return typeof percent === 'number' && Number.isFinite(percent) ? `${percent.toFixed(1)} %` : DASH;
}

/** @param {number} unixSeconds */
export function formatWhen(unixSeconds) {
  const when = new Date(unixSeconds * 1000);
  return `${when.toLocaleDateString()} ${when.toLocaleTimeString()}`;
}

/** The server's message as a sentence (action results come without the full stop). */
export function sentence(/** @type {string} */ text) {
  const trimmed = String(text ?? '').trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
