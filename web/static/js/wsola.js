/**
 * WSOLA (waveform-similarity overlap-add) time-stretching: plays a signal slower or faster
 * without changing its pitch, so a musician can slow a solo down to learn it — and, with the
 * band-limited resampler after it (PitchShift), changes the pitch without changing the tempo.
 *
 * How it works: the output is built from Hann-windowed frames (~46 ms) laid down every
 * `hop` frames with 50 % overlap (the windows then sum to exactly one). The frame for output
 * step k is read from the source near k · hop · rate, so the source is traversed at `rate`
 * while the output keeps its own clock — pitch is untouched because every frame is played at
 * its natural speed. Frames cut at arbitrary places would interfere (phasing, beating), so
 * each frame's start is moved by up to ±15 ms to where the source looks most like the natural
 * continuation of the previous frame (best normalised cross-correlation over the overlap).
 *
 * The stretcher pulls its input from a `read(position, frames, left, right, offset)` callback
 * (StemMix.read), so it stretches the finished mix and sees loops as a continuous signal.
 * At rate 1 it reproduces its input; the engine bypasses it there anyway (bit-exact).
 *
 *     const stretch = new Wsola({ sampleRate: 48000, read: (p, n, l, r, o) => mix.read(p, n, l, r, o) });
 *     stretch.rate = 0.5;
 *     stretch.reset(0);
 *     stretch.render(outL, outR, 0, 128); // stretch.position advances by 64 frames
 *
 * Pitch shift by a factor p (2^(semitones/12)) with the tempo kept at `rate`: stretch by
 * rate / p, then resample the stretched signal by p. Resampling plays it p times faster, which
 * moves every frequency by p and brings the source's pace back to rate / p · p = rate:
 *
 *     stretch.rate = rate / p;
 *     const shift = new PitchShift({ pull: (l, r, o, n) => stretch.render(l, r, o, n) });
 *     shift.ratio = p;
 *     shift.render(outL, outR, 0, 128); // reads ~128 · p stretched frames
 */

/** @typedef {(position: number, frames: number, left: Float32Array, right: Float32Array, offset: number) => void} MixReader */

/** The coarse similarity search looks at every DECIMATION-th offset and sample, then refines. */
const DECIMATION = 4;

export class Wsola {
  /** Source frames per output frame; applies from the next synthesised frame on. */
  rate = 1;

  /** @type {MixReader} */
  #read;
  #frame;
  #hop;
  #search;
  #window;
  // Source region searched for the next frame: [nominal - search, nominal + search + frame).
  #regionLeft;
  #regionRight;
  #regionMono;
  // The natural continuation of the previous frame, the target of the search.
  #templateLeft;
  #templateRight;
  #templateMono;
  // Overlap-add accumulator; its first `hop` frames are complete after each new frame.
  #olaLeft;
  #olaRight;
  // The finished output chunk being played out, and where it came from in the source.
  #chunkLeft;
  #chunkRight;
  #chunkRead = 0;
  #chunkPosition = 0;
  #chunkRate = 1;
  /** Source position the next frame is expected at (fractional: it advances by hop · rate). */
  #nominal = 0;
  /** Where the previous frame was actually read from. */
  #previousStart = 0;

  /**
   * @param {{ sampleRate: number, read: MixReader, frameSeconds?: number, searchSeconds?: number }} options
   */
  constructor({ sampleRate, read, frameSeconds = 0.046, searchSeconds = 0.015 }) {
    this.#read = read;
    this.#hop = Math.max(DECIMATION, Math.round((frameSeconds * sampleRate) / 2));
    this.#frame = this.#hop * 2;
    this.#search = Math.round(searchSeconds * sampleRate);
    this.#window = periodicHann(this.#frame);
    const region = this.#frame + 2 * this.#search;
    this.#regionLeft = new Float32Array(region);
    this.#regionRight = new Float32Array(region);
    this.#regionMono = new Float32Array(region);
    this.#templateLeft = new Float32Array(this.#hop);
    this.#templateRight = new Float32Array(this.#hop);
    this.#templateMono = new Float32Array(this.#hop);
    this.#olaLeft = new Float32Array(this.#frame);
    this.#olaRight = new Float32Array(this.#frame);
    this.#chunkLeft = new Float32Array(this.#hop);
    this.#chunkRight = new Float32Array(this.#hop);
    this.reset(0);
  }

  /** Source position (virtual frames) of the next output frame. */
  get position() {
    if (this.#chunkRead < this.#hop) return this.#chunkPosition + this.#chunkRead * this.#chunkRate;
    return this.#nominal;
  }

  /**
   * Starts afresh at `position`, forgetting all buffered output. To make the first output
   * frame whole, the accumulator is primed with the falling half of a frame read just before
   * `position`, as if the stretcher had been running all along.
   * @param {number} position virtual source frame
   */
  reset(position) {
    const hop = this.#hop;
    this.#olaLeft.fill(0);
    this.#olaRight.fill(0);
    this.#read(Math.round(position), hop, this.#templateLeft, this.#templateRight, 0);
    for (let i = 0; i < hop; i++) {
      const weight = this.#window[hop + i];
      this.#olaLeft[i] = weight * this.#templateLeft[i];
      this.#olaRight[i] = weight * this.#templateRight[i];
    }
    this.#nominal = position;
    this.#previousStart = Math.round(position) - hop;
    this.#chunkRead = hop; // empty: the next render synthesises
    this.#chunkPosition = position;
  }

  /**
   * Moves every position by `delta` frames without touching the audio (used when the loop
   * changes and virtual positions are renumbered).
   * @param {number} delta
   */
  shift(delta) {
    this.#nominal += delta;
    this.#previousStart += delta;
    this.#chunkPosition += delta;
  }

  /**
   * Writes `frames` stretched frames into left/right from `offset` on.
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset
   * @param {number} frames
   */
  render(left, right, offset, frames) {
    let done = 0;
    while (done < frames) {
      if (this.#chunkRead >= this.#hop) this.#synthesise();
      const run = Math.min(frames - done, this.#hop - this.#chunkRead);
      left.set(this.#chunkLeft.subarray(this.#chunkRead, this.#chunkRead + run), offset + done);
      right.set(this.#chunkRight.subarray(this.#chunkRead, this.#chunkRead + run), offset + done);
      this.#chunkRead += run;
      done += run;
    }
  }

  /** Reads, aligns and overlap-adds one frame, producing the next `hop` output frames. */
  #synthesise() {
    const hop = this.#hop;
    const frame = this.#frame;
    const nominal = Math.round(this.#nominal);
    const regionStart = nominal - this.#search;

    this.#read(this.#previousStart + hop, hop, this.#templateLeft, this.#templateRight, 0);
    sumToMono(this.#templateLeft, this.#templateRight, this.#templateMono);
    this.#read(regionStart, this.#regionLeft.length, this.#regionLeft, this.#regionRight, 0);
    sumToMono(this.#regionLeft, this.#regionRight, this.#regionMono);

    const offset = this.#bestOffset();
    const window = this.#window;
    for (let i = 0; i < frame; i++) {
      this.#olaLeft[i] += window[i] * this.#regionLeft[offset + i];
      this.#olaRight[i] += window[i] * this.#regionRight[offset + i];
    }

    this.#chunkLeft.set(this.#olaLeft.subarray(0, hop));
    this.#chunkRight.set(this.#olaRight.subarray(0, hop));
    this.#olaLeft.copyWithin(0, hop);
    this.#olaRight.copyWithin(0, hop);
    this.#olaLeft.fill(0, hop);
    this.#olaRight.fill(0, hop);
    this.#chunkRead = 0;
    this.#chunkPosition = this.#nominal;
    this.#chunkRate = this.rate;

    this.#previousStart = regionStart + offset;
    this.#nominal += hop * this.rate;
  }

  /**
   * Offset into the search region whose first `hop` frames correlate best with the template.
   * Silence has no shape to match, so it keeps the nominal position.
   */
  #bestOffset() {
    const template = this.#templateMono;
    const region = this.#regionMono;
    const span = 2 * this.#search;
    let templateEnergy = 0;
    for (let i = 0; i < template.length; i++) templateEnergy += template[i] * template[i];
    if (templateEnergy < 1e-9) return this.#search;

    let best = this.#search;
    let bestScore = -Infinity;
    for (let offset = 0; offset <= span; offset += DECIMATION) {
      const score = similarity(template, region, offset, DECIMATION);
      if (score > bestScore) [best, bestScore] = [offset, score];
    }
    const coarse = best;
    bestScore = -Infinity;
    for (let offset = Math.max(0, coarse - DECIMATION + 1); offset <= Math.min(span, coarse + DECIMATION - 1); offset++) {
      const score = similarity(template, region, offset, 1);
      if (score > bestScore) [best, bestScore] = [offset, score];
    }
    return best;
  }
}

/**
 * Cross-correlation of the template with region[offset …], normalised by the region's energy
 * so loud passages do not win just by being loud.
 * @param {Float32Array} template
 * @param {Float32Array} region
 * @param {number} offset
 * @param {number} stride
 */
function similarity(template, region, offset, stride) {
  let product = 0;
  let energy = 0;
  for (let i = 0; i < template.length; i += stride) {
    const value = region[offset + i];
    product += template[i] * value;
    energy += value * value;
  }
  return product / Math.sqrt(energy + 1e-12);
}

/**
 * @param {Float32Array} left
 * @param {Float32Array} right
 * @param {Float32Array} mono
 */
function sumToMono(left, right, mono) {
  for (let i = 0; i < mono.length; i++) mono[i] = left[i] + right[i];
}

/**
 * A Hann window whose 50 %-overlapped copies sum to exactly one.
 * @param {number} length
 */
function periodicHann(length) {
  const window = new Float32Array(length);
  for (let i = 0; i < length; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / length);
  return window;
}

// -- pitch shift: a band-limited resampler after the stretcher ----------------------------

/** Zero crossings of the windowed-sinc kernel on each side of its centre. */
const HALF_TAPS = 8;
/** Kernel table resolution: entries per zero crossing (linearly interpolated between). */
const TABLE_STEPS = 256;
/** The passband edge as a fraction of the (output) Nyquist frequency: the rest is transition. */
const PASSBAND = 0.95;
/** Pitch factors above this are not offered (12 semitones). */
const MAX_RATIO = 2;

/** sinc(u) · Blackman(u / HALF_TAPS) for u = i / TABLE_STEPS, one extra entry for interpolation. */
const KERNEL = (() => {
  const table = new Float32Array(HALF_TAPS * TABLE_STEPS + 2);
  for (let i = 0; i < table.length; i++) {
    const u = i / TABLE_STEPS;
    const x = Math.min(1, u / HALF_TAPS);
    const window = 0.42 + 0.5 * Math.cos(Math.PI * x) + 0.08 * Math.cos(2 * Math.PI * x);
    table[i] = (u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u)) * window;
  }
  table[table.length - 1] = 0;
  return table;
})();

/**
 * Plays a pulled signal `ratio` times faster (ratio > 1 raises every frequency by that factor,
 * < 1 lowers it) through a windowed-sinc interpolator. Going faster would fold the top of the
 * spectrum back down as aliasing, so the kernel's cutoff follows the ratio: it passes up to
 * PASSBAND · Nyquist / ratio of the input, which becomes PASSBAND · Nyquist at the output.
 *
 * The input is pulled on demand from `pull(left, right, offset, frames)` (Wsola.render), so
 * output frame k corresponds to input frame k · ratio: `buffered` tells how many input frames
 * were pulled ahead of that point, which the engine needs to report the true playhead.
 */
export class PitchShift {
  /** @type {(left: Float32Array, right: Float32Array, offset: number, frames: number) => void} */
  #pull;
  #ratio = 1;
  #left;
  #right;
  /** Frames of input held in #left/#right. */
  #end = 0;
  /** Input position (fractional) of the next output frame. */
  #read = 0;
  /** The most input frames the kernel reaches on either side, at the lowest cutoff. */
  #reach;

  /**
   * @param {{ pull: (left: Float32Array, right: Float32Array, offset: number, frames: number) => void, capacity?: number }} options
   *   capacity: input frames held; enough for one render block at the highest ratio plus the kernel
   */
  constructor({ pull, capacity = 8192 }) {
    this.#pull = pull;
    this.#reach = Math.ceil(HALF_TAPS / cutoffFor(MAX_RATIO)) + 1;
    this.#left = new Float32Array(capacity);
    this.#right = new Float32Array(capacity);
    this.reset();
  }

  /** Input frames per output frame (the pitch factor), 1 / MAX_RATIO … MAX_RATIO. */
  get ratio() {
    return this.#ratio;
  }

  set ratio(ratio) {
    this.#ratio = Math.min(MAX_RATIO, Math.max(1 / MAX_RATIO, ratio));
  }

  /** Input frames pulled beyond the input position of the next output frame. */
  get buffered() {
    return this.#end - this.#read;
  }

  /**
   * Forgets all input. The next output frame is the next pulled frame; the kernel's history
   * before it is silence (the engine fades every restart in anyway).
   */
  reset() {
    this.#left.fill(0, 0, this.#reach);
    this.#right.fill(0, 0, this.#reach);
    this.#end = this.#reach;
    this.#read = this.#reach;
  }

  /**
   * Writes `frames` resampled frames into left/right from `offset` on.
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset
   * @param {number} frames
   */
  render(left, right, offset, frames) {
    const ratio = this.#ratio;
    const cutoff = cutoffFor(ratio);
    const reach = Math.ceil(HALF_TAPS / cutoff);
    const needed = Math.floor(this.#read + (frames - 1) * ratio) + reach + 1;
    if (needed > this.#left.length) this.#compact();
    const end = Math.floor(this.#read + (frames - 1) * ratio) + reach + 1;
    if (end > this.#end) {
      this.#pull(this.#left, this.#right, this.#end, end - this.#end);
      this.#end = end;
    }
    const inputLeft = this.#left;
    const inputRight = this.#right;
    const scale = cutoff * TABLE_STEPS;
    for (let i = 0; i < frames; i++) {
      const centre = Math.floor(this.#read);
      const fraction = this.#read - centre;
      let sumLeft = 0;
      let sumRight = 0;
      let sumWeight = 0;
      for (let j = 1 - reach; j <= reach; j++) {
        const position = Math.abs(j - fraction) * scale;
        const index = Math.floor(position);
        if (index >= HALF_TAPS * TABLE_STEPS) continue;
        const weight = KERNEL[index] + (KERNEL[index + 1] - KERNEL[index]) * (position - index);
        sumLeft += weight * inputLeft[centre + j];
        sumRight += weight * inputRight[centre + j];
        sumWeight += weight;
      }
      // Normalised by the weights' sum: unity gain at DC whatever the fraction.
      left[offset + i] = sumLeft / sumWeight;
      right[offset + i] = sumRight / sumWeight;
      this.#read += ratio;
    }
    this.#compact();
  }

  /** Drops input the kernel can no longer reach, keeping the buffer's start near the read point. */
  #compact() {
    const drop = Math.floor(this.#read) - this.#reach;
    if (drop <= 0) return;
    this.#left.copyWithin(0, drop, this.#end);
    this.#right.copyWithin(0, drop, this.#end);
    this.#end -= drop;
    this.#read -= drop;
  }
}

/**
 * The kernel's cutoff, as a fraction of the input's Nyquist frequency, for a ratio.
 * @param {number} ratio
 */
function cutoffFor(ratio) {
  return PASSBAND * Math.min(1, 1 / ratio);
}
