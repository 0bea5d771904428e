/**
 * WSOLA (waveform-similarity overlap-add) time-stretching: plays a signal slower or faster
 * without changing its pitch, so a musician can slow a solo down to learn it.
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
