/**
 * The count-in before practice playback: N metronome clicks at the song's tempo (the analysed
 * BPM × the playback rate), scheduled on the Web Audio clock so they are exactly even, with
 * an accent on the first beat of a bar. The clicks are counted back from the downbeat the
 * music starts on: three clicks in 4/4 are beats 2, 3 and 4, so none is accented; four or
 * eight start on a "one".
 *
 *     const countIn = new CountIn(player.context);
 *     const { end } = countIn.schedule({ beats: 4, bpm: 120, rate: 0.8, beatsPerBar: 4 });
 *     // start the music at `end` (AudioContext time)
 *
 * `clicks` lists the scheduled clicks ({time, accent}) for the page and its tests.
 */

const ACCENT_HZ = 1760;
const BEAT_HZ = 1175;
const CLICK_SECONDS = 0.05;
/** Lead time before the first click, so it is not scheduled in the past. */
const LEAD_SECONDS = 0.06;

export class CountIn {
  #context;
  #destination;
  /** @type {OscillatorNode[]} */
  #voices = [];
  /** @type {{ time: number, accent: boolean }[]} */
  clicks = [];

  /**
   * @param {BaseAudioContext} context
   * @param {AudioNode} [destination] default: the context's speakers
   */
  constructor(context, destination = context.destination) {
    this.#context = context;
    this.#destination = destination;
  }

  /**
   * Schedules the clicks (replacing any not yet played) and returns when the music starts.
   * @param {{ beats: number, bpm: number, rate?: number, beatsPerBar?: number, startAt?: number }} options
   * @returns {{ clicks: { time: number, accent: boolean }[], interval: number, end: number }}
   */
  schedule({ beats, bpm, rate = 1, beatsPerBar = 4, startAt }) {
    this.cancel();
    const interval = 60 / (bpm * rate);
    const first = Math.max(startAt ?? 0, this.#context.currentTime + LEAD_SECONDS);
    const count = Math.max(0, Math.round(beats));
    const bar = Math.max(1, Math.round(beatsPerBar));
    this.clicks = Array.from({ length: count }, (_, index) => ({
      time: first + index * interval,
      // The beat of the bar this click falls on, counting back from the downbeat at `end`.
      accent: (((bar - count + index) % bar) + bar) % bar === 0,
    }));
    for (const click of this.clicks) this.#voices.push(this.#click(click.time, click.accent));
    return { clicks: this.clicks, interval, end: first + count * interval };
  }

  /** Silences clicks not yet played. */
  cancel() {
    for (const voice of this.#voices) {
      try {
        voice.stop();
      } catch {
        // Stopping a voice that has already ended throws; it is silent either way.
      }
      voice.disconnect();
    }
    this.#voices = [];
    this.clicks = [];
  }

  /**
   * One click: a short sine burst with a fast attack and an exponential decay.
   * @param {number} time
   * @param {boolean} accent
   */
  #click(time, accent) {
    const context = this.#context;
    const voice = new OscillatorNode(context, { frequency: accent ? ACCENT_HZ : BEAT_HZ });
    const gain = new GainNode(context, { gain: 0 });
    gain.gain.setValueAtTime(0, time);
    gain.gain.linearRampToValueAtTime(accent ? 0.7 : 0.45, time + 0.002);
    gain.gain.exponentialRampToValueAtTime(0.001, time + CLICK_SECONDS);
    voice.connect(gain).connect(this.#destination);
    voice.start(time);
    voice.stop(time + CLICK_SECONDS + 0.01);
    voice.addEventListener('ended', () => gain.disconnect());
    return voice;
  }
}
