/**
 * The stem player's audio engine: transport (play, pause, seek, A–B loop, rate, pitch) around
 * the StemMix, the WSOLA stretcher and the pitch shifter. It runs inside the AudioWorkletProcessor
 * (stem-player-worklet.js) but knows nothing of Web Audio, so tests drive it directly.
 *
 * Design points:
 * - Rate 1 at pitch 0 reads the mix straight through (bit-exact); any other rate goes through
 *   WSOLA, which keeps pitch. A pitch shift of s semitones (factor p = 2^(s/12)) stretches by
 *   rate / p and resamples the result by p (PitchShift): the pitch moves by p while the source
 *   still advances at `rate`. Switching between these three paths is crossfaded.
 * - Every discontinuity the listener could hear — seek, pause, mode switch — is declicked the
 *   same way: the current output is rendered ~5 ms further into a "tail" that fades out while
 *   the new output fades in. Loop seams are crossfaded by the mixer itself.
 * - Positions inside the engine are virtual frames (see StemMix); what is reported is the
 *   source time, posted ~30×/s with the context time it belongs to, so the main thread can
 *   interpolate a smooth playhead.
 *
 *     const engine = new StemEngine({ sampleRate: 48000, post: (message) => port.postMessage(message) });
 *     engine.handle({ type: 'stem', name: 'bass', channels: [left, right] });
 *     engine.handle({ type: 'play', epoch: 1 });
 *     engine.render(outL, outR, contextTime);
 */

import { StemMix } from './stem-mix.js';
import { PitchShift, Wsola } from './wsola.js';

/**
 * Messages the main thread sends (`epoch` numbers transport commands so that positions posted
 * before a command reached the engine can be recognised as stale).
 * @typedef {{ type: 'stem', name: string, channels: Float32Array[] }
 *   | { type: 'clear' }
 *   | { type: 'controls', stems?: Record<string, Partial<import('./stem-mix.js').StemControls>>, master?: number }
 *   | { type: 'play', epoch: number }
 *   | { type: 'pause', epoch: number }
 *   | { type: 'seek', frame: number, epoch: number }
 *   | { type: 'loop', loop: { a: number, b: number } | null, epoch: number }
 *   | { type: 'rate', rate: number }
 *   | { type: 'pitch', semitones: number }} EngineCommand
 */

/**
 * Messages the engine posts back. `time` is in source seconds; `contextTime` is the
 * AudioContext time of the render block the position belongs to.
 * @typedef {{ type: 'time', time: number, contextTime: number, playing: boolean, epoch: number }
 *   | { type: 'ended', time: number, contextTime: number, epoch: number }} EngineReport
 */

export const MIN_RATE = 0.25;
export const MAX_RATE = 2;
/** Pitch shift range in semitones (one octave either way). */
export const MIN_PITCH = -12;
export const MAX_PITCH = 12;
const POSTS_PER_SECOND = 30;

export class StemEngine {
  #mix;
  #stretch;
  #post;
  #sampleRate;
  #fadeFrames;
  #playing = false;
  #rate = 1;
  /** Semitones; 0 leaves the pitch alone. */
  #pitch = 0;
  #shift;
  /** Virtual position of the next output frame (integer while bypassing). */
  #position = 0;
  #epoch = 0;
  /** Frames left of the fade-in after a (re)start. */
  #fadeIn = 0;
  // The declick tail: already faded-out output still to be played.
  #tailLeft;
  #tailRight;
  #tailRead = 0;
  #tailLength = 0;
  // Scratch for rendering the tail.
  #scratchLeft;
  #scratchRight;
  #framesSincePost = 0;
  #postPending = false;

  /**
   * @param {{ sampleRate: number, post: (report: EngineReport) => void }} options
   */
  constructor({ sampleRate, post }) {
    this.#sampleRate = sampleRate;
    this.#post = post;
    this.#mix = new StemMix({ sampleRate });
    this.#fadeFrames = this.#mix.fadeFrames;
    this.#stretch = new Wsola({
      sampleRate,
      read: (position, frames, left, right, offset) => this.#mix.read(position, frames, left, right, offset),
    });
    this.#shift = new PitchShift({
      pull: (left, right, offset, frames) => this.#stretch.render(left, right, offset, frames),
    });
    this.#tailLeft = new Float32Array(this.#fadeFrames);
    this.#tailRight = new Float32Array(this.#fadeFrames);
    this.#scratchLeft = new Float32Array(this.#fadeFrames);
    this.#scratchRight = new Float32Array(this.#fadeFrames);
  }

  get playing() {
    return this.#playing;
  }

  /** Source position in seconds. */
  get time() {
    return this.#mix.toSource(this.#position) / this.#sampleRate;
  }

  /** @param {EngineCommand} command */
  handle(command) {
    switch (command.type) {
      case 'stem':
        this.#mix.setStem(command.name, command.channels);
        break;
      case 'clear':
        this.#mix.clear();
        this.#mix.loop = null;
        this.#playing = false;
        this.#position = 0;
        this.#tailLength = 0;
        break;
      case 'controls':
        this.#mix.setControls(command);
        break;
      case 'play':
        this.#epoch = command.epoch;
        this.#play();
        break;
      case 'pause':
        this.#epoch = command.epoch;
        this.#pause();
        break;
      case 'seek':
        this.#epoch = command.epoch;
        this.#seek(command.frame);
        break;
      case 'loop':
        this.#epoch = command.epoch;
        this.#setLoop(command.loop);
        break;
      case 'rate':
        this.#setTempo(Math.min(MAX_RATE, Math.max(MIN_RATE, command.rate)), this.#pitch);
        break;
      case 'pitch':
        this.#setTempo(this.#rate, Math.min(MAX_PITCH, Math.max(MIN_PITCH, command.semitones)));
        break;
    }
  }

  /**
   * Renders one block into `left`/`right` (overwriting them).
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} contextTime AudioContext time at the start of the block
   */
  render(left, right, contextTime) {
    const frames = left.length;
    this.#mix.beginBlock(frames);
    left.fill(0);
    right.fill(0);
    if (this.#playing) this.#renderPlaying(left, right, 0, frames, true);
    this.#addTail(left, right, 0, frames);
    this.#mix.applyMaster(left, right);

    this.#framesSincePost += frames;
    const due = this.#playing && this.#framesSincePost >= this.#sampleRate / POSTS_PER_SECOND;
    if (due || this.#postPending) {
      this.#framesSincePost = 0;
      this.#postPending = false;
      this.#post({ type: 'time', time: this.time, contextTime, playing: this.#playing, epoch: this.#epoch });
    }
  }

  #play() {
    const length = this.#mix.length;
    if (length === 0 || this.#playing) return;
    if (this.#mix.toSource(this.#position) >= length) this.#position = 0; // play at the end: from the top
    this.#playing = true;
    this.#restart(this.#mix.toSource(this.#position));
  }

  #pause() {
    if (!this.#playing) return;
    const position = this.#position;
    this.#captureTail();
    this.#playing = false;
    this.#position = this.#mix.toSource(position);
    this.#postPending = true;
  }

  /** @param {number} frame source frame */
  #seek(frame) {
    const target = Math.min(Math.max(0, Math.round(frame)), this.#mix.length);
    if (this.#playing) {
      this.#captureTail();
      this.#restart(target);
    } else {
      this.#position = target;
      this.#armLoop(target);
    }
    this.#postPending = true;
  }

  /** @param {{ a: number, b: number } | null} loop source frames */
  #setLoop(loop) {
    const source = Math.round(this.#mix.toSource(this.#position));
    // Renumber virtual positions as source positions under the new loop; the stretcher's
    // history moves with them, so the audio itself continues untouched.
    if (!this.#isBypassed()) this.#stretch.shift(source - this.#position);
    this.#position = source;
    this.#mix.loop = loop && { a: Math.round(loop.a), b: Math.round(loop.b) };
    const active = this.#mix.loop;
    // A loop set behind the playhead means "loop this now": go to its start.
    if (active && source >= active.b) this.#seek(active.a);
    else this.#armLoop(source);
    this.#postPending = true;
  }

  /**
   * @param {number} rate tempo factor, already clamped
   * @param {number} pitch semitones, already clamped
   */
  #setTempo(rate, pitch) {
    const path = this.#path();
    const apply = () => {
      this.#rate = rate;
      this.#pitch = pitch;
      const factor = 2 ** (pitch / 12);
      this.#shift.ratio = factor;
      this.#stretch.rate = rate / factor;
    };
    if (this.#playing && pathOf(rate, pitch) !== path) {
      // The tail must come from the path playing now, so capture it before anything changes.
      const source = Math.round(this.#mix.toSource(this.#position));
      this.#captureTail();
      apply();
      this.#restart(source);
      return;
    }
    apply();
  }

  /** Which path the output takes now. */
  #path() {
    return pathOf(this.#rate, this.#pitch);
  }

  #isBypassed() {
    return this.#path() === 'direct';
  }

  /**
   * (Re)starts output at a source frame with a fade-in; virtual and source positions coincide.
   * @param {number} source
   */
  #restart(source) {
    // Whole frames: the stretcher leaves fractional positions, the direct path indexes PCM.
    const frame = Math.round(source);
    this.#position = frame;
    this.#armLoop(frame);
    if (!this.#isBypassed()) this.#stretch.reset(frame);
    if (this.#path() === 'shift') this.#shift.reset();
    this.#fadeIn = this.#fadeFrames;
    this.#postPending = true;
  }

  /**
   * The loop only catches a playhead that is before its end; one sent past it plays on.
   * @param {number} source
   */
  #armLoop(source) {
    const loop = this.#mix.loop;
    this.#mix.loopArmed = loop !== null && source < loop.b;
  }

  /**
   * Renders the playing output (mix or stretched mix, with any fade-in) into the buffers.
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset
   * @param {number} frames
   * @param {boolean} inBlock whether these frames are the current render block (gain ramps, end handling)
   */
  #renderPlaying(left, right, offset, frames, inBlock) {
    const length = this.#mix.length;
    const endless = this.#mix.loop !== null && this.#mix.loopArmed;
    const path = this.#path();
    if (path === 'direct') {
      const run = endless ? frames : Math.max(0, Math.min(frames, length - this.#position));
      this.#mix.read(this.#position, run, left, right, offset, inBlock ? offset : -1);
      this.#position += run;
    } else if (path === 'stretch') {
      // Past the end the stretcher reads silence, so its output simply dies away.
      this.#stretch.render(left, right, offset, frames);
      this.#position = this.#stretch.position;
    } else {
      this.#shift.render(left, right, offset, frames);
      // The shifter holds stretched frames ahead of what it played: the playhead is behind.
      this.#position = this.#stretch.position - this.#shift.buffered * this.#stretch.rate;
    }
    this.#applyFadeIn(left, right, offset, frames);
    if (inBlock && !endless && this.#position >= length) {
      this.#playing = false;
      this.#position = length;
      this.#postPending = false;
      this.#post({ type: 'ended', time: length / this.#sampleRate, epoch: this.#epoch });
    }
  }

  /**
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset
   * @param {number} frames
   */
  #applyFadeIn(left, right, offset, frames) {
    const fade = this.#fadeFrames;
    for (let i = 0; i < frames && this.#fadeIn > 0; i++, this.#fadeIn--) {
      const weight = (fade - this.#fadeIn) / fade;
      left[offset + i] *= weight;
      right[offset + i] *= weight;
    }
  }

  /**
   * Renders the next few milliseconds of what is playing now (plus what is left of an older
   * tail) and fades it out; render() mixes it under whatever plays next. The transport
   * position is left where it was.
   */
  #captureTail() {
    const frames = this.#fadeFrames;
    const left = this.#scratchLeft;
    const right = this.#scratchRight;
    left.fill(0);
    right.fill(0);
    this.#renderPlaying(left, right, 0, frames, false);
    this.#addTail(left, right, 0, frames);
    for (let i = 0; i < frames; i++) {
      const weight = 1 - i / frames;
      this.#tailLeft[i] = left[i] * weight;
      this.#tailRight[i] = right[i] * weight;
    }
    this.#tailRead = 0;
    this.#tailLength = frames;
  }

  /**
   * @param {Float32Array} left
   * @param {Float32Array} right
   * @param {number} offset
   * @param {number} frames
   */
  #addTail(left, right, offset, frames) {
    const run = Math.min(frames, this.#tailLength - this.#tailRead);
    for (let i = 0; i < run; i++) {
      left[offset + i] += this.#tailLeft[this.#tailRead + i];
      right[offset + i] += this.#tailRight[this.#tailRead + i];
    }
    this.#tailRead += run;
  }
}

/**
 * The output's path: straight from the mix, through the stretcher, or stretcher and shifter.
 * @param {number} rate
 * @param {number} pitch semitones
 * @returns {'direct' | 'stretch' | 'shift'}
 */
function pathOf(rate, pitch) {
  if (pitch !== 0) return 'shift';
  return Math.abs(rate - 1) < 1e-6 ? 'direct' : 'stretch';
}
