/**
 * The stem mixer that runs inside the audio worklet: it owns every stem's PCM and mixes any
 * stretch of it on demand, with per-stem gains (volume, mute, solo) and the A–B loop applied.
 *
 * The mixer is "random access" on purpose: the time-stretcher (wsola.js) has to read the mix
 * around arbitrary positions (its similarity search looks ±15 ms around where it expects to
 * be), and keeping all PCM here lets it do that without a streaming buffer.
 *
 * Positions are *virtual* frame numbers. Without a loop a virtual position is a frame of the
 * source. With an armed loop [a, b) every virtual position at or after b folds back into the
 * loop, so whoever reads the mix sees one endless, continuous signal and never has to know
 * about loops. Each wrap is crossfaded over `fadeFrames` (the first frames after a are mixed
 * with the frames that follow b), which is what keeps a loop seam free of clicks.
 *
 * Nothing here touches Web Audio, so the mixer also runs (and is tested) on the main thread:
 *
 *     const mix = new StemMix({ sampleRate: 48000 });
 *     mix.setStem('vocals', [left, right]);
 *     mix.beginBlock(128);
 *     mix.read(0, 128, outL, outR, 0, 128);
 */

/** @typedef {{ volume: number, mute: boolean, solo: boolean }} StemControls */

/**
 * @typedef {object} MixStem
 * @property {string} name
 * @property {Float32Array} left
 * @property {Float32Array} right  the same array as `left` for a mono stem
 * @property {number} length       frames
 * @property {StemControls} controls
 * @property {number} gainFrom     gain at the start of the current block
 * @property {number} gainTo       gain at the end of the current block
 */

/** Time for a gain to travel its whole range (0 → 1): short enough to feel instant, long enough not to click. */
const GAIN_SLEW_SECONDS = 0.02;

export class StemMix {
  /** @type {MixStem[]} */
  #stems = [];
  #masterTarget = 1;
  #masterFrom = 1;
  #masterTo = 1;
  #maxStep = 1;
  #blockLength = 128;
  /** @type {{ a: number, b: number } | null} */
  #loop = null;

  /**
   * @param {{ sampleRate: number, fadeFrames?: number }} options
   *   fadeFrames: length of the loop-seam crossfade (default 5 ms)
   */
  constructor({ sampleRate, fadeFrames = Math.round(sampleRate * 0.005) }) {
    this.sampleRate = sampleRate;
    this.fadeFrames = Math.max(1, fadeFrames);
    /** Whether the loop applies to positions from now on (false after a seek past b). */
    this.loopArmed = false;
  }

  /** Length of the longest stem, in frames. */
  get length() {
    let longest = 0;
    for (const stem of this.#stems) longest = Math.max(longest, stem.length);
    return longest;
  }

  /** @returns {{ a: number, b: number } | null} the loop in frames */
  get loop() {
    return this.#loop;
  }

  /** @param {{ a: number, b: number } | null} loop frames; b - a must exceed fadeFrames */
  set loop(loop) {
    this.#loop = loop && loop.b - loop.a > this.fadeFrames ? { a: loop.a, b: loop.b } : null;
  }

  /**
   * Adds or replaces a stem. Its gain starts at its target: a stem that appears must not fade in.
   * @param {string} name
   * @param {Float32Array[]} channels one (mono) or two channels; further channels are ignored
   */
  setStem(name, channels) {
    const left = channels[0];
    const right = channels[1] ?? left;
    const existing = this.#stems.find((stem) => stem.name === name);
    const controls = existing?.controls ?? { volume: 1, mute: false, solo: false };
    /** @type {MixStem} */
    const stem = { name, left, right, length: Math.min(left.length, right.length), controls, gainFrom: 0, gainTo: 0 };
    if (existing) this.#stems[this.#stems.indexOf(existing)] = stem;
    else this.#stems.push(stem);
    const target = this.#targetGain(stem);
    stem.gainFrom = target;
    stem.gainTo = target;
  }

  /** Drops every stem (and with them the only copy of their PCM). */
  clear() {
    this.#stems = [];
  }

  /**
   * Sets the mixer controls; stems not named keep theirs. Gains glide to the new values.
   * @param {{ stems?: Record<string, Partial<StemControls>>, master?: number }} controls
   */
  setControls({ stems = {}, master }) {
    for (const stem of this.#stems) {
      const update = stems[stem.name];
      if (update) stem.controls = { ...stem.controls, ...update };
    }
    if (typeof master === 'number') this.#masterTarget = clamp01(master);
  }

  /**
   * Advances the gain ramps by one render block. Every read in this block ramps from the
   * previous block's gains to these, so a change is spread over samples instead of jumping.
   * @param {number} frames the block length
   */
  beginBlock(frames) {
    this.#blockLength = frames;
    this.#maxStep = frames / (GAIN_SLEW_SECONDS * this.sampleRate);
    for (const stem of this.#stems) {
      stem.gainFrom = stem.gainTo;
      stem.gainTo = this.#glide(stem.gainTo, this.#targetGain(stem));
    }
    this.#masterFrom = this.#masterTo;
    this.#masterTo = this.#glide(this.#masterTo, this.#masterTarget);
  }

  /**
   * Multiplies one block of output by the (ramped) master gain.
   * @param {Float32Array} left
   * @param {Float32Array} right
   */
  applyMaster(left, right) {
    const from = this.#masterFrom;
    const step = (this.#masterTo - from) / left.length;
    if (step === 0 && from === 1) return; // keep unity bit-exact
    for (let i = 0; i < left.length; i++) {
      const gain = from + step * i;
      left[i] *= gain;
      if (right !== left) right[i] *= gain;
    }
  }

  /**
   * Maps a virtual position to the source frame it plays.
   * @param {number} position virtual frame
   */
  toSource(position) {
    const loop = this.#loop;
    if (!loop || !this.loopArmed || position < loop.b) return position;
    return loop.a + ((position - loop.b) % (loop.b - loop.a));
  }

  /**
   * Writes the mix of `frames` frames starting at virtual `position` into `left`/`right`
   * from `offset` on (overwriting them). Frames outside every stem are silence.
   *
   * @param {number} position     virtual start frame (an integer)
   * @param {number} frames
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset       where to write in left/right
   * @param {number} [blockOffset] index of left[offset] inside the current render block, for the
   *   gain ramp; leave it out to mix at the block's final gains (reads outside the block clock)
   */
  read(position, frames, left, right, offset, blockOffset = -1) {
    left.fill(0, offset, offset + frames);
    right.fill(0, offset, offset + frames);
    const loop = this.#loop;
    const fade = this.fadeFrames;
    let virtual = position;
    let done = 0;
    while (done < frames) {
      const rampAt = blockOffset < 0 ? -1 : blockOffset + done;
      const remaining = frames - done;
      if (!loop || !this.loopArmed || virtual < loop.b) {
        const run = loop && this.loopArmed ? Math.min(remaining, loop.b - virtual) : remaining;
        this.#add(virtual, run, left, right, offset + done, rampAt, 1, 0);
        virtual += run;
        done += run;
        continue;
      }
      const length = loop.b - loop.a;
      const inLoop = (virtual - loop.b) % length;
      let run = Math.min(remaining, length - inLoop);
      if (inLoop < fade) {
        // The seam: fade the loop start in while what follows b fades out.
        run = Math.min(run, fade - inLoop);
        this.#add(loop.a + inLoop, run, left, right, offset + done, rampAt, inLoop / fade, 1 / fade);
        this.#add(loop.b + inLoop, run, left, right, offset + done, rampAt, 1 - inLoop / fade, -1 / fade);
      } else {
        this.#add(loop.a + inLoop, run, left, right, offset + done, rampAt, 1, 0);
      }
      virtual += run;
      done += run;
    }
  }

  /**
   * Adds every audible stem's source frames [start, start + frames) into the output, weighted
   * by a linear envelope (weight + weightStep · i) and the stem's gain.
   * @param {number} start
   * @param {number} frames
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset
   * @param {number} rampAt  block index of the first frame, or -1 for the block's final gains
   * @param {number} weight
   * @param {number} weightStep
   */
  #add(start, frames, left, right, offset, rampAt, weight, weightStep) {
    for (const stem of this.#stems) {
      if (stem.gainFrom === 0 && stem.gainTo === 0) continue;
      // Clip the run to the frames this stem has; the rest stays silent.
      const first = Math.max(0, -start);
      const last = Math.min(frames, stem.length - start);
      if (last <= first) continue;
      let gain = stem.gainTo;
      let gainStep = 0;
      if (rampAt >= 0 && stem.gainFrom !== stem.gainTo) {
        gainStep = (stem.gainTo - stem.gainFrom) / this.#blockLength;
        gain = stem.gainFrom + gainStep * rampAt;
      }
      const { left: sourceLeft, right: sourceRight } = stem;
      if (gainStep === 0 && weightStep === 0) {
        const scale = gain * weight;
        for (let i = first; i < last; i++) {
          left[offset + i] += scale * sourceLeft[start + i];
          right[offset + i] += scale * sourceRight[start + i];
        }
        continue;
      }
      for (let i = first; i < last; i++) {
        const scale = (gain + gainStep * i) * (weight + weightStep * i);
        left[offset + i] += scale * sourceLeft[start + i];
        right[offset + i] += scale * sourceRight[start + i];
      }
    }
  }

  /**
   * Volume, unless muted, or silenced because other stems are soloed.
   * @param {MixStem} stem
   */
  #targetGain(stem) {
    const { volume, mute, solo } = stem.controls;
    const anySolo = this.#stems.some((other) => other.controls.solo);
    if (mute || (anySolo && !solo)) return 0;
    return clamp01(volume);
  }

  /**
   * @param {number} from
   * @param {number} to
   */
  #glide(from, to) {
    const step = this.#maxStep;
    return Math.abs(to - from) <= step ? to : from + Math.sign(to - from) * step;
  }
}

/** @param {number} value */
function clamp01(value) {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
