/**
 * One deck's controls on the page (the deck's card and its channel strip in the mixer): what
 * they show comes from the mixer session, what the user does goes to it as control ops.
 *
 * - picker → `deck.<n>.track_id` (the server checks the track and fills the deck's info);
 * - play → `deck.<n>.playing` with the position; cue → the `deck.<n>.cue` trigger (CDJ:
 *   playing, back to the cue point and pause; paused, set the cue point here); sync → the
 *   `deck.<n>.sync` trigger (the server matches the other deck's BPM);
 * - tempo fader (±50 %) → `deck.<n>.rate`; volume and EQ knobs → `deck.<n>.volume`,
 *   `deck.<n>.eq.*`; a kill button sets its band to 0 and back to where it was;
 * - hot cues 1–8: an empty one is set here (`deck.<n>.hotcue.<k>`), a set one jumps
 *   (`….trigger`), shift-click clears it (`….clear`);
 * - stem buttons → `deck.<n>.stem.<stem>.mute`; the waveform's click → `deck.<n>.position_ms`.
 *
 * Every control carries `data-control="<path>"` so the MIDI module can learn it.
 */

import { toast } from './app.js';
import { bindPicker } from './dj-picker.js';
import { bindFader, tempoPercent } from './dj-inputs.js';
import { formatTime } from './format.js';
import { WaveformView } from './waveform.js';

const BANDS = /** @type {const} */ (['low', 'mid', 'high']);
const HOT_CUE_COLOR = '#2dd4bf';
const CUE_COLOR = '#ffb23f';

export class DeckView {
  #deck;
  #sync;
  #root;
  #strip;
  waveform;
  /** @type {Record<string, { show: (value: number) => void }>} */
  #faders = {};
  #cuesKey = '';
  /** Each band's level before its kill, to restore it. */
  #beforeKill = { low: 0.5, mid: 0.5, high: 0.5 };

  /**
   * @param {{ deck: import('./dj-deck.js').Deck, sync: import('./mixer-sync.js').MixerSync,
   *           root: HTMLElement, strip: HTMLElement }} options
   */
  constructor({ deck, sync, root, strip }) {
    this.#deck = deck;
    this.#sync = sync;
    this.#root = root;
    this.#strip = strip;
    this.waveform = new WaveformView(/** @type {HTMLCanvasElement} */ (this.#part('waveform')));
    this.#bind();
    deck.addEventListener('loading', () => this.#showTrack());
    deck.addEventListener('loaded', () => this.#showTrack());
    deck.addEventListener('failed', (event) => {
      const { message } = /** @type {CustomEvent} */ (event).detail;
      this.#status(`The stems could not be loaded: ${message}`);
      toast(`Deck ${deck.number}: the stems could not be loaded (${message}).`);
    });
    deck.player.addEventListener('state', () => this.#showTransport());
  }

  /** @param {string} name */
  #part(name) {
    return /** @type {HTMLElement} */ (this.#root.querySelector(`[data-part="${name}"]`));
  }

  /** @param {Record<string, any>} values */
  #send(values) {
    this.#sync.control(values);
  }

  /** @param {string} path a trigger, whose effect the server decides (it comes back as a change) */
  #trigger(path) {
    this.#sync.control({ [path]: true });
  }

  #bind() {
    const deck = this.#deck;
    const p = deck.prefix;
    bindPicker(this.#root, (track) => {
      this.#status(`Loading “${track.title}”…`);
      this.#sync.control({ [`${p}track_id`]: track.id }); // the server answers with the deck's info
    });
    this.#part('play').addEventListener('click', () => deck.setPlaying(!deck.playing));
    this.#part('cue').addEventListener('click', () => this.#trigger(`${p}cue`));
    this.#part('sync').addEventListener('click', () => this.#trigger(`${p}sync`));
    this.#faders.rate = bindFader(/** @type {HTMLInputElement} */ (this.#part('rate')), {
      toValue: (raw) => 1 + raw / 100,
      fromValue: (rate) => Math.round((rate - 1) * 1000) / 10,
      send: (rate) => deck.setRate(rate),
      reset: 1,
    });
    const volume = /** @type {HTMLInputElement} */ (this.#strip.querySelector('.strip-volume'));
    this.#faders.volume = bindFader(volume, {
      toValue: (raw) => raw / 100,
      fromValue: (value) => Math.round(value * 100),
      send: (value) => this.#send({ [`${p}volume`]: value }),
    });
    for (const band of BANDS) {
      const knob = /** @type {HTMLInputElement} */ (this.#strip.querySelector(`[data-eq="${band}"]`));
      this.#faders[band] = bindFader(knob, {
        toValue: (raw) => raw / 100,
        fromValue: (value) => Math.round(value * 100),
        send: (value) => this.#send({ [`${p}eq.${band}`]: value }),
        reset: 0.5,
      });
      this.#strip.querySelector(`[data-kill="${band}"]`)?.addEventListener('click', () => {
        const level = Number(deck.value(`eq.${band}`, 0.5));
        if (level > 0) this.#beforeKill[band] = level;
        this.#send({ [`${p}eq.${band}`]: level > 0 ? 0 : this.#beforeKill[band] || 0.5 });
      });
    }
    for (const button of this.#root.querySelectorAll('.hotcue')) {
      button.addEventListener('click', (event) => this.#hotCue(Number(/** @type {HTMLElement} */ (button).dataset.hotcue), /** @type {MouseEvent} */ (event).shiftKey));
    }
    this.#part('stems').addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('[data-stem]') : null;
      if (!(button instanceof HTMLElement)) return;
      const path = `${p}stem.${button.dataset.stem}.mute`;
      this.#send({ [path]: !deck.value(`stem.${button.dataset.stem}.mute`, false) });
    });
    this.waveform.addEventListener('seek', (event) => deck.seek(/** @type {CustomEvent} */ (event).detail.seconds));
  }

  /**
   * @param {number} k 1..8
   * @param {boolean} clear
   */
  #hotCue(k, clear) {
    const deck = this.#deck;
    const path = `${deck.prefix}hotcue.${k}`;
    if (clear) {
      if (deck.value(`hotcue.${k}`) !== null) this.#trigger(`${path}.clear`);
    } else if (deck.value(`hotcue.${k}`) === null) {
      if (deck.loaded) this.#send({ [path]: Math.round(deck.position * 1000) });
    } else {
      this.#trigger(`${path}.trigger`);
    }
  }

  /** @param {string} text */
  #status(text) {
    this.#part('status').textContent = text;
  }

  /** The session changed: show its values. */
  render() {
    const deck = this.#deck;
    this.#faders.rate.show(deck.rate);
    this.#part('rate-value').textContent = tempoPercent(deck.rate);
    this.#faders.volume.show(Number(deck.value('volume', 1)));
    for (const band of BANDS) {
      const level = Number(deck.value(`eq.${band}`, 0.5));
      this.#faders[band].show(level);
      this.#strip.querySelector(`[data-kill="${band}"]`)?.setAttribute('aria-pressed', String(level === 0));
    }
    const cues = [];
    for (const button of this.#root.querySelectorAll('.hotcue')) {
      const k = /** @type {HTMLElement} */ (button).dataset.hotcue;
      const at = deck.value(`hotcue.${k}`);
      const set = typeof at === 'number';
      /** @type {HTMLElement} */ (button).dataset.set = String(set);
      button.setAttribute('aria-label', set ? `Hot cue ${k} at ${formatTime(at / 1000)} (shift-click clears it)` : `Hot cue ${k} (empty: sets it)`);
      if (set) cues.push({ position_ms: at, label: String(k), color: HOT_CUE_COLOR });
    }
    const cue = deck.value('cue_ms');
    if (typeof cue === 'number' && deck.info) cues.push({ position_ms: cue, label: 'C', color: CUE_COLOR });
    const cuesKey = JSON.stringify(cues);
    if (cuesKey !== this.#cuesKey) {
      this.#cuesKey = cuesKey; // setCues redraws the peaks: only when a mark moved
      this.waveform.setCues(cues);
    }
    for (const button of this.#part('stems').querySelectorAll('[data-stem]')) {
      const muted = Boolean(deck.value(`stem.${/** @type {HTMLElement} */ (button).dataset.stem}.mute`, false));
      button.setAttribute('aria-pressed', String(muted));
    }
    this.#showTransport();
  }

  /** The track's title, tempo, stems and waveform (after a load starts or ends). */
  #showTrack() {
    const deck = this.#deck;
    const info = deck.info;
    this.#root.dataset.loaded = String(deck.loaded);
    this.#part('title').textContent = info?.title ?? 'No track';
    this.#status(!info ? 'Pick a track to load it.' : deck.loaded ? '' : `Loading ${info.stems?.length ?? 0} stems…`);
    this.waveform.setAnalysis(deck.analysis);
    this.waveform.duration = deck.duration;
    const stems = this.#part('stems');
    stems.replaceChildren(
      ...(info?.stems ?? []).map((/** @type {string} */ name) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'stem-mute';
        button.dataset.stem = name;
        button.dataset.control = `${deck.prefix}stem.${name}.mute`;
        button.setAttribute('aria-pressed', 'false');
        button.setAttribute('aria-label', `Mute ${name} on deck ${deck.number}`);
        button.textContent = name;
        return button;
      }),
    );
    for (const name of ['play', 'cue', 'sync']) /** @type {HTMLButtonElement} */ (this.#part(name)).disabled = !deck.loaded;
    this.render();
  }

  #showTransport() {
    const deck = this.#deck;
    const play = this.#part('play');
    play.dataset.playing = String(deck.playing);
    play.setAttribute('aria-label', `${deck.playing ? 'Pause' : 'Play'} deck ${deck.number}`);
    const bpm = deck.bpm;
    this.#part('bpm').textContent = bpm === null ? '– BPM' : `${bpm.toFixed(1)} BPM`;
    this.#part('duration').textContent = formatTime(deck.duration);
    this.waveform.clock = deck.loaded && deck.player.playing ? () => deck.player.currentTime : null;
    this.waveform.time = deck.position;
  }

  /** Every frame: the clock text. */
  tick() {
    this.#part('time').textContent = formatTime(this.#deck.position);
  }
}
