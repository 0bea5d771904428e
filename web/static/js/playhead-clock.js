/**
 * A smooth playhead for the main thread. The audio worklet reports the true position ~30×/s,
 * each report stamped with the AudioContext time it belongs to; between reports the clock
 * extrapolates with the context's clock and the playback rate, so the display moves every
 * animation frame instead of in 33 ms steps.
 *
 * The clock is injected (`now`), so tests can drive it by hand:
 *
 *     let t = 0;
 *     const clock = new PlayheadClock(() => t);
 *     clock.anchor(10, 0);
 *     clock.setPlaying(true);
 *     t = 0.5;
 *     clock.read(); // 10.5
 */

/**
 * Never extrapolate further than this past the last report: if the audio thread stops
 * reporting (a suspended context, a stall), the playhead should stop too, not run away.
 */
const MAX_EXTRAPOLATION_SECONDS = 0.25;

export class PlayheadClock {
  #now;
  #time = 0;
  #at = 0;
  #playing = false;
  #rate = 1;
  #duration = 0;
  /** @type {{ a: number, b: number } | null} */
  #loop = null;

  /** @param {() => number} now current AudioContext time in seconds */
  constructor(now) {
    this.#now = now;
  }

  /**
   * Pins the playhead: it was at `time` (source seconds) at context time `at`.
   * @param {number} time
   * @param {number} [at]
   */
  anchor(time, at = this.#now()) {
    this.#time = time;
    this.#at = at;
  }

  /** @param {boolean} playing */
  setPlaying(playing) {
    this.anchor(this.read());
    this.#playing = playing;
  }

  /** @param {number} rate */
  setRate(rate) {
    this.anchor(this.read());
    this.#rate = rate;
  }

  /** @param {{ a: number, b: number } | null} loop seconds */
  setLoop(loop) {
    this.#loop = loop;
  }

  /** @param {number} duration seconds */
  setDuration(duration) {
    this.#duration = duration;
  }

  /** The playhead now, in source seconds. */
  read() {
    if (!this.#playing) return this.#time;
    const elapsed = Math.min(MAX_EXTRAPOLATION_SECONDS, Math.max(0, this.#now() - this.#at));
    let time = this.#time + elapsed * this.#rate;
    const loop = this.#loop;
    // Mirror the engine: a loop only catches a playhead that was before its end.
    if (loop && this.#time < loop.b && time >= loop.b) time = loop.a + ((time - loop.b) % (loop.b - loop.a));
    return Math.min(time, this.#duration);
  }
}
