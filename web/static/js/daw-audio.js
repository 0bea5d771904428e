/**
 * The DAW's preview: every lane's stem decoded into one AudioContext and played together,
 * each through a GainNode whose automation is the lane's envelope (daw-envelope.js at 1 kHz),
 * so what you hear is what a render will write, without rendering.
 *
 * A change to the edits while playing restarts the sources at the current position with the
 * new curves (an automation curve cannot be edited once scheduled).
 *
 *     const audio = new DawAudio({ onEnded: () => showStopped() });
 *     const buffer = await audio.load(stemId, `/api/v1/stems/${stemId}/audio`, 'vocals');
 *     await audio.play([{ id: stemId, edits }], 12.5);     // from 12.5 s
 *     audio.position;                                       // seconds, while playing or not
 *     audio.pause();
 */

import { envelope, liveEdits } from './daw-envelope.js';
import { downloadStem, StemLoadError } from './stem-loader.js';

/** @typedef {import('./daw-envelope.js').Edit} Edit */

/** Steps per second of the gain automation curves. */
export const CONTROL_RATE = 1000;
/** Scheduling slack between asking and hearing (seconds). */
const LEAD_SECONDS = 0.05;

export class DawAudio {
  /** @type {Map<string, AudioBuffer>} */
  buffers = new Map();
  /** @type {AudioBufferSourceNode[]} */
  #sources = [];
  #startedAt = 0;
  #offset = 0;
  #generation = 0;
  playing = false;

  /** @param {{ onEnded?: () => void }} [options] */
  constructor({ onEnded = () => {} } = {}) {
    this.context = new AudioContext();
    this.onEnded = onEnded;
  }

  /**
   * Download and decode one stem (kept for playback and peaks).
   * @param {string} id
   * @param {string} url
   * @param {string} name the stem's name, for error messages
   * @returns {Promise<AudioBuffer>}
   * @throws {StemLoadError} with a sentence for the user
   */
  async load(id, url, name) {
    const bytes = await downloadStem({ name, url });
    let buffer;
    try {
      buffer = await this.context.decodeAudioData(bytes);
    } catch (error) {
      const why = error instanceof Error && error.message ? error.message : 'the browser gave no reason';
      throw new StemLoadError(name, `${name} could not be decoded: ${why}`);
    }
    this.buffers.set(id, buffer);
    return buffer;
  }

  /** The playhead in seconds. */
  get position() {
    if (!this.playing) return this.#offset;
    return Math.max(0, this.#offset + (this.context.currentTime - this.#startedAt));
  }

  /** The longest stem, in seconds. */
  get duration() {
    let longest = 0;
    for (const buffer of this.buffers.values()) longest = Math.max(longest, buffer.duration);
    return longest;
  }

  /**
   * Play every lane from `fromSeconds`, each with its live edits as gain automation.
   * @param {{ id: string, edits: Edit[] }[]} lanes
   * @param {number} fromSeconds
   */
  async play(lanes, fromSeconds) {
    await this.context.resume();
    this.#stopSources();
    const generation = ++this.#generation;
    const from = Math.max(0, Math.min(fromSeconds, this.duration));
    const when = this.context.currentTime + LEAD_SECONDS;
    let running = 0;
    for (const lane of lanes) {
      const buffer = this.buffers.get(lane.id);
      if (!buffer || from >= buffer.duration) continue;
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      const gain = this.context.createGain();
      const first = Math.round(from * CONTROL_RATE);
      const curve = envelope(liveEdits(lane.edits), CONTROL_RATE, first, Math.ceil(buffer.duration * CONTROL_RATE) + 1);
      if (curve.length >= 2) {
        gain.gain.setValueCurveAtTime(curve, when, (curve.length - 1) / CONTROL_RATE);
      } else {
        gain.gain.value = curve[0] ?? 1;
      }
      source.connect(gain).connect(this.context.destination);
      source.addEventListener('ended', () => {
        running -= 1;
        if (running === 0 && generation === this.#generation) {
          this.playing = false;
          this.#offset = 0;
          this.onEnded();
        }
      });
      source.start(when, from);
      this.#sources.push(source);
      running += 1;
    }
    this.#offset = from;
    this.#startedAt = when;
    this.playing = running > 0;
  }

  pause() {
    this.#offset = this.position;
    this.#generation += 1;
    this.#stopSources();
    this.playing = false;
  }

  /**
   * Move the playhead (playing on from there when playing).
   * @param {number} seconds
   * @param {{ id: string, edits: Edit[] }[]} lanes
   */
  async seek(seconds, lanes) {
    if (this.playing) await this.play(lanes, seconds);
    else this.#offset = Math.max(0, Math.min(seconds, this.duration));
  }

  #stopSources() {
    for (const source of this.#sources) {
      try {
        source.stop();
      } catch {
        // never started (a play() that found nothing to play): nothing to stop
      }
      source.disconnect();
    }
    this.#sources = [];
  }
}
