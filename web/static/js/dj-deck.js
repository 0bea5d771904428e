/**
 * One DJ deck: its StemPlayer, its channel strip in the audio graph and its waveform, kept in
 * step with the mixer session's `deck.<n>.*` values (mixer-sync.js).
 *
 * The session is the only state. `apply()` takes the session's values (a snapshot or a
 * change, from this tab, another tab, OSC or MIDI) and makes the deck match: a new track's
 * stems are loaded (and its analysis fetched for the waveform), the player's rate, stem
 * mutes, play/pause and position follow the session, and the channel's EQ and volume follow
 * their knobs. The playhead while playing is `position_ms + (now − anchor_at) × rate` on the
 * server's clock; the local player is moved only when it drifted further than a little
 * from it, so a tab that plays does not stutter on every change.
 *
 * What the user does on the page goes through `DeckView` (dj-deck-view.js), which renders
 * the controls and sends control ops; this module is the audio side.
 *
 *     const deck = new Deck({ number: 1, sync, channel: mixer.deck(1), context });
 *     sync.addEventListener('snapshot', (e) => deck.apply({ ...e.detail, snapshot: true }));
 *     sync.addEventListener('change', (e) => deck.apply(e.detail));
 */

import { api, ApiError } from './api.js';
import { StemPlayer } from './stem-player.js';

/** How far (seconds) a playing deck may be from the session's playhead before it is moved. */
const PLAYING_TOLERANCE = 0.15;
/** The same for a paused deck: a paused position is exact. */
const PAUSED_TOLERANCE = 0.02;

/**
 * What identifies the audio a deck's info names: another separation, stem or format means
 * other files to load.
 * @param {any} info a deck's info, or null
 */
export function audioKey(info) {
  return stemSources(info).map((stem) => stem.url).join('|');
}

/**
 * The stems a deck's info names, as StemPlayer sources (the session's `stem_urls`).
 * @param {any} info a deck's info, or null
 * @returns {{ name: string, url: string }[]}
 */
export function stemSources(info) {
  const stems = Array.isArray(info?.stem_urls) ? info.stem_urls : [];
  return stems.map((/** @type {any} */ stem) => ({ name: String(stem.name), url: String(stem.url) }));
}

export class Deck extends EventTarget {
  number;
  prefix;
  player;
  channel;
  /** @type {any} the deck's info from the session (title, duration_ms, bpm, stems, stem_urls), or null */
  info = null;
  /** @type {any} the analysis document of the loaded track (waveform, beats), or null */
  analysis = null;
  /** Whether the player holds the stems `info` names. */
  loaded = false;

  #sync;
  #loadedKey = '';
  /** @type {AbortController | null} */
  #loading = null;

  /**
   * @param {{ number: number, sync: import('./mixer-sync.js').MixerSync,
   *           channel: import('./dj-audio.js').DeckChannel, context: AudioContext }} options
   */
  constructor({ number, sync, channel, context }) {
    super();
    this.number = number;
    this.prefix = `deck.${number}.`;
    this.#sync = sync;
    this.channel = channel;
    this.player = new StemPlayer({ context });
    this.player.connect(channel.input);
    this.player.addEventListener('ended', () => this.#ended());
  }

  /**
   * A value of this deck from the session.
   * @param {string} part the path after `deck.<n>.`
   * @param {any} [fallback]
   */
  value(part, fallback = null) {
    return this.#sync.values[this.prefix + part] ?? fallback;
  }

  /** The deck's rate (tempo factor). */
  get rate() {
    return Number(this.value('rate', 1)) || 1;
  }

  /** Seconds of the loaded track (from the session's info until the stems are in). */
  get duration() {
    return this.player.duration || (this.info?.duration_ms ?? 0) / 1000;
  }

  /** The playhead in seconds: the player's once loaded, else where the session says. */
  get position() {
    return this.loaded ? this.player.currentTime : this.sessionPosition(this.duration);
  }

  /**
   * Where the session says the playhead is, in seconds (clamped to `duration` when given).
   * @param {number} [duration]
   */
  sessionPosition(duration) {
    const seconds = Math.max(0, this.#sync.playhead(`deck.${this.number}`, `${this.prefix}rate`) / 1000);
    return duration && duration > 0 ? Math.min(duration, seconds) : seconds;
  }

  /** Whether the session says this deck plays. */
  get playing() {
    return Boolean(this.value('playing', false));
  }

  /** The analysed tempo times the rate, or null without one. */
  get bpm() {
    const bpm = this.info?.bpm;
    return typeof bpm === 'number' && bpm > 0 ? bpm * this.rate : null;
  }

  /**
   * Makes the deck match the session after a snapshot or a change.
   * @param {{ values: Record<string, any>, info: Record<string, any> | null, snapshot?: boolean }} change
   */
  apply({ values, info, snapshot }) {
    if (info || snapshot) {
      const mine = this.#sync.info?.decks?.[String(this.number)] ?? null;
      if (audioKey(mine) !== this.#loadedKey || (mine === null) !== (this.info === null)) this.#load(mine);
      else this.info = mine;
    }
    const touches = (/** @type {string} */ part) => snapshot || Object.hasOwn(values, this.prefix + part);
    for (const band of /** @type {const} */ (['low', 'mid', 'high'])) {
      if (touches(`eq.${band}`)) this.channel.setEq(band, Number(this.value(`eq.${band}`, 0.5)));
    }
    if (touches('volume')) this.channel.setVolume(Number(this.value('volume', 1)));
    if (this.loaded) {
      this.#applyMutes();
      this.#applyTransport();
    }
  }

  /**
   * Plays or pauses from the player's own position (the play button).
   * @param {boolean} playing
   */
  setPlaying(playing) {
    this.#transport({ playing, position_ms: Math.round(this.position * 1000) });
  }

  /** @param {number} seconds where to move the playhead (a click on the waveform) */
  seek(seconds) {
    const clamped = Math.min(Math.max(0, seconds), this.duration || seconds);
    this.#transport({ position_ms: Math.round(clamped * 1000) });
  }

  /**
   * Sends transport values with the position. The server stamps `anchor_at` when it applies
   * them; until its answer this tab assumes "now" (else the playhead would run on from the
   * old anchor and the player jump).
   * @param {{ playing?: boolean, position_ms?: number, rate?: number }} parts
   */
  #transport(parts) {
    const values = Object.fromEntries(Object.entries(parts).map(([part, value]) => [this.prefix + part, value]));
    this.#sync.values[`${this.prefix}anchor_at`] = this.#sync.serverNow();
    this.#sync.control(values);
  }

  /**
   * A new tempo, re-anchored at the current position so the playhead does not jump.
   * @param {number} rate
   */
  setRate(rate) {
    if (this.playing) this.#transport({ rate, position_ms: Math.round(this.position * 1000) });
    else this.#sync.control({ [`${this.prefix}rate`]: rate });
  }

  /** @param {any} info the deck's info, or null for an empty deck */
  async #load(info) {
    this.#loading?.abort();
    const loading = new AbortController();
    this.#loading = loading;
    this.info = info;
    this.loaded = false;
    this.#loadedKey = audioKey(info);
    this.analysis = null;
    this.player.pause();
    this.#emit('loading', { info });
    const sources = stemSources(info);
    const trackId = info ? this.value('track_id', info.track_id ?? null) : null;
    try {
      const [names, analysis] = await Promise.all([
        this.player.load(sources, { signal: loading.signal }),
        trackId ? this.#analysis(trackId, loading.signal) : Promise.resolve(null),
      ]);
      if (loading.signal.aborted) return;
      this.analysis = analysis;
      this.loaded = names.length > 0;
      this.#emit('loaded', { info, stems: names });
      if (this.loaded) {
        this.#applyMutes();
        this.#applyTransport();
      }
    } catch (error) {
      if (/** @type {Error} */ (error).name === 'AbortError') return;
      this.#emit('failed', { message: error instanceof Error ? error.message : String(error) });
    } finally {
      if (this.#loading === loading) this.#loading = null;
    }
  }

  /**
   * The analysis document for the waveform; null when the track has none (yet).
   * @param {string} trackId
   * @param {AbortSignal} signal
   */
  async #analysis(trackId, signal) {
    try {
      return await api(`tracks/${encodeURIComponent(trackId)}/analysis`, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  #applyMutes() {
    for (const stem of this.player.stems) {
      this.player.setMute(stem.name, Boolean(this.value(`stem.${stem.name}.mute`, false)));
    }
  }

  #applyTransport() {
    const player = this.player;
    player.setRate(this.rate);
    const target = this.sessionPosition(player.duration);
    const playing = this.playing && target < player.duration;
    if (!playing && player.playing) player.pause();
    const tolerance = playing ? PLAYING_TOLERANCE : PAUSED_TOLERANCE;
    if (Math.abs(player.currentTime - target) > tolerance) player.seek(target);
    if (playing && !player.playing) player.play();
  }

  /** The player reached the end: the session stops there too (every tab says the same). */
  #ended() {
    if (!this.playing) return;
    this.#transport({ playing: false, position_ms: Math.round(this.player.duration * 1000) });
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
