/**
 * The DJ console's audio graph: one AudioContext, two deck channels and a master.
 *
 *     StemPlayer ─▶ low shelf ─▶ peaking ─▶ high shelf ─▶ volume ─▶ fader ─┐
 *     (deck 1)      250 Hz       1 kHz      4 kHz        deck.1.volume      ├─▶ master ─▶ speakers
 *     StemPlayer ─▶ … deck 2 …                                            ─┘   master.volume
 *
 * Each deck's StemPlayer shares the context and routes its output into its channel
 * (`player.connect(channel.input)`). The channel's gains follow the mixer session's values
 * (`deck.<n>.eq.*`, `deck.<n>.volume`, `crossfader` with `crossfader.curve`, `master.volume`)
 * through the laws in dj-crossfader.js. Parameter changes glide over a few milliseconds
 * (setTargetAtTime) so a knob turned from MIDI does not click.
 *
 *     const mixer = new DjMixer(new AudioContext());
 *     mixer.deck(1).setEq('low', 0);            // kill deck 1's bass
 *     mixer.setCrossfader(0.5, 'equal_power');  // both decks at -3 dB
 *     mixer.deck(2).gains();                    // { volume, fader, low, mid, high } as applied now
 */

import { crossfaderGains, eqFilterDb } from './dj-crossfader.js';

/** @typedef {'low' | 'mid' | 'high'} Band */

/** Time constant of the parameter glides, in seconds (~99 % there after 5×). */
const GLIDE = 0.008;

/** The three bands: filter type, centre or corner frequency, and Q for the peaking one. */
const BANDS = /** @type {const} */ ([
  ['low', 'lowshelf', 250, 0],
  ['mid', 'peaking', 1000, 0.8],
  ['high', 'highshelf', 4000, 0],
]);

/**
 * @param {AudioParam} param
 * @param {number} value
 * @param {BaseAudioContext} context
 */
function glide(param, value, context) {
  param.cancelScheduledValues(context.currentTime);
  param.setTargetAtTime(value, context.currentTime, GLIDE);
}

/** One deck's strip: EQ, volume and its side of the crossfader. */
export class DeckChannel {
  #context;
  /** @type {Record<Band, BiquadFilterNode>} */
  #filters;
  #volume;
  #fader;
  /** The values last applied (the knobs' 0..1, not decibels). */
  #levels = { volume: 1, fader: 1, low: 0.5, mid: 0.5, high: 0.5 };

  /**
   * @param {BaseAudioContext} context
   * @param {AudioNode} destination where the channel's output goes (the master)
   */
  constructor(context, destination) {
    this.#context = context;
    const filters = /** @type {Record<Band, BiquadFilterNode>} */ ({});
    for (const [band, type, frequency, q] of BANDS) {
      const filter = context.createBiquadFilter();
      filter.type = type;
      filter.frequency.value = frequency;
      if (q) filter.Q.value = q;
      filter.gain.value = 0;
      filters[band] = filter;
    }
    this.#filters = filters;
    this.#volume = context.createGain();
    this.#fader = context.createGain();
    filters.low.connect(filters.mid).connect(filters.high).connect(this.#volume).connect(this.#fader);
    this.#fader.connect(destination);
  }

  /** Where the deck's player connects. */
  get input() {
    return this.#filters.low;
  }

  /** The node after the whole strip (for a level meter in parallel). */
  get output() {
    return this.#fader;
  }

  /**
   * @param {Band} band
   * @param {number} value 0..1 (0 kill, 0.5 flat, 1 +6 dB)
   */
  setEq(band, value) {
    this.#levels[band] = value;
    glide(this.#filters[band].gain, eqFilterDb(value), this.#context);
  }

  /** @param {number} value 0..1 */
  setVolume(value) {
    this.#levels.volume = value;
    glide(this.#volume.gain, value, this.#context);
  }

  /** @param {number} gain this deck's crossfader gain, 0..1 */
  setFader(gain) {
    this.#levels.fader = gain;
    glide(this.#fader.gain, gain, this.#context);
  }

  /** The values the graph holds now: gains as read from the AudioParams, EQ in decibels. */
  gains() {
    return {
      volume: this.#volume.gain.value,
      fader: this.#fader.gain.value,
      low: this.#filters.low.gain.value,
      mid: this.#filters.mid.gain.value,
      high: this.#filters.high.gain.value,
    };
  }

  /** The values last applied, as the knobs show them (0..1), whether or not the glide ended. */
  get levels() {
    return { ...this.#levels };
  }
}

/** Two deck channels, the crossfader between them and the master volume. */
export class DjMixer {
  #context;
  #master;
  /** @type {Map<number, DeckChannel>} */
  #decks = new Map();
  #crossfader = { position: 0.5, curve: 'equal_power' };

  /** @param {BaseAudioContext} context */
  constructor(context) {
    this.#context = context;
    this.#master = context.createGain();
    this.#master.connect(context.destination);
    for (const number of [1, 2]) this.#decks.set(number, new DeckChannel(context, this.#master));
    this.setCrossfader(0.5, 'equal_power');
  }

  get context() {
    return this.#context;
  }

  /** The master gain node (everything passes through it). */
  get master() {
    return this.#master;
  }

  /** @param {number} number 1 or 2 */
  deck(number) {
    const channel = this.#decks.get(number);
    if (!channel) throw new RangeError(`there is no deck ${number} (the console has decks 1 and 2)`);
    return channel;
  }

  /**
   * @param {number} position 0 (deck 1 only) .. 1 (deck 2 only)
   * @param {string} curve `linear` or `equal_power`
   */
  setCrossfader(position, curve) {
    this.#crossfader = { position, curve };
    const { left, right } = crossfaderGains(position, curve);
    this.deck(1).setFader(left);
    this.deck(2).setFader(right);
  }

  /** The crossfader as last applied. */
  get crossfader() {
    return { ...this.#crossfader };
  }

  /** @param {number} value 0..1 */
  setMaster(value) {
    glide(this.#master.gain, value, this.#context);
  }

  /** The master gain as the graph holds it now. */
  get masterGain() {
    return this.#master.gain.value;
  }
}
