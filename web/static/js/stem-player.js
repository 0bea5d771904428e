/**
 * StemPlayer: plays a track's stems in sync, with a mixer (volume, mute, solo, master),
 * an A–B loop, pitch-preserving speed and tempo-preserving pitch shift — the practice player
 * for musicians and DJs.
 *
 * One AudioContext and one AudioWorkletNode play every stem: the worklet holds all PCM and
 * mixes it sample by sample, so stems cannot drift apart (separate <audio> elements do), and
 * it time-stretches the mix with WSOLA so 50–75 % speed keeps the pitch
 * (AudioBufferSourceNode.playbackRate would not), and resamples the stretched mix to shift the
 * pitch in semitones without touching the tempo. The main thread keeps the mixer state,
 * sends commands, and interpolates the playhead between the worklet's ~30 reports a second.
 *
 *     const player = new StemPlayer();
 *     player.addEventListener('error', (event) => showProblem(event.detail.message));
 *     await player.load([{ name: 'vocals', url: '/stems/1/vocals.wav' }, { name: 'drums', url: '/stems/1/drums.wav' }]);
 *     player.setRate(0.75);
 *     player.setPitch(-2);       // a whole tone down, still at 75 % speed
 *     player.setLoop(30, 38);
 *     player.play();
 *
 * Events (CustomEvent; all details are plain objects):
 * - 'loadprogress' {loaded, total}: bytes downloaded over all stems; total null if unknown
 * - 'state'        PlayerSnapshot & {source: 'local' | 'remote'}: after any mixer/transport change
 * - 'time'         {time, duration}: the playhead as reported by the audio thread (~30×/s)
 * - 'seek'         {time, source: 'local' | 'remote'}: the playhead was moved (seek(), or apply())
 * - 'ended'        {time}: playback reached the end (not emitted while a loop holds it)
 * - 'error'        {message, stem?}: a sentence for the user, e.g. "vocals could not be decoded: …"
 */

import { PlayheadClock } from './playhead-clock.js';
import { MAX_PITCH, MAX_RATE, MIN_PITCH, MIN_RATE } from './stem-engine.js';
import { decodeStem, downloadStem, LoadProgress, StemLoadError, transferList } from './stem-loader.js';

/** @typedef {import('./stem-loader.js').StemSource} StemSource */
/** @typedef {{ volume: number, mute: boolean, solo: boolean }} StemState */
/** @typedef {{ a: number, b: number }} LoopRange seconds */
/**
 * @typedef {object} PlayerSnapshot
 * @property {boolean} playing
 * @property {number} time      seconds
 * @property {number} duration  seconds
 * @property {number} rate
 * @property {number} pitch     semitones
 * @property {number} master    0..1
 * @property {LoopRange | null} loop
 * @property {Record<string, StemState>} stems
 */

export { MAX_PITCH, MAX_RATE, MIN_PITCH, MIN_RATE };
/** Shorter loops than this are almost certainly a mis-click. */
export const MIN_LOOP_SECONDS = 0.05;

const PROCESSOR_NAME = 'soundforge-stem-player';
const WORKLET_URL = new URL('./stem-player-worklet.js', import.meta.url);

export class StemPlayer extends EventTarget {
  #context;
  #ownsContext;
  /** Stable tap point after the worklet (unity gain), so an analyser can be inserted before load. */
  #output;
  /** @type {AudioWorkletNode | null} */
  #node = null;
  /** @type {Promise<AudioWorkletNode> | null} */
  #nodeReady = null;
  /** @type {Map<string, StemState>} in load order */
  #stems = new Map();
  #frames = 0;
  #master = 1;
  #rate = 1;
  #pitch = 0;
  /** @type {LoopRange | null} */
  #loop = null;
  #playing = false;
  #clock;
  /** Numbers transport commands; reports from before the latest one are stale. */
  #epoch = 0;
  /** While applying a snapshot, changes are collected into one 'state' event. */
  #batchDepth = 0;
  #batchChanged = false;
  /** @type {AbortController | null} */
  #loading = null;
  #destroyed = false;

  /** @param {{ context?: BaseAudioContext }} [options] share a context, or let the player make one */
  constructor({ context } = {}) {
    super();
    this.#ownsContext = !context;
    this.#context = context ?? new AudioContext();
    this.#output = this.#context.createGain();
    this.#output.connect(this.#context.destination);
    this.#clock = new PlayheadClock(() => this.#context.currentTime);
  }

  /** The AudioContext everything plays in (tests read its currentTime). */
  get context() {
    return this.#context;
  }

  /** The player's output node: connect it to an analyser (in parallel) or use connect(). */
  get outputNode() {
    return this.#output;
  }

  /**
   * Routes the output to `destination` instead of the speakers (e.g. through an effect chain).
   * @template {AudioNode} T
   * @param {T} destination
   * @returns {T}
   */
  connect(destination) {
    this.#output.disconnect();
    this.#output.connect(destination);
    return destination;
  }

  /**
   * Downloads and decodes the stems and hands their PCM to the audio thread, replacing what was
   * loaded before. A stem that fails is reported with an 'error' event and left out; the
   * promise rejects only when no stem could be loaded, or with an AbortError when `signal`
   * aborts or a newer load() starts.
   * @param {StemSource[]} sources
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<string[]>} names of the stems loaded
   */
  async load(sources, { signal } = {}) {
    if (this.#destroyed) throw new Error('this player has been destroyed');
    this.#loading?.abort();
    const loading = new AbortController();
    this.#loading = loading;
    const aborted = signal ? AbortSignal.any([signal, loading.signal]) : loading.signal;

    const node = await this.#ensureNode();
    aborted.throwIfAborted();
    this.#reset(node);

    const progress = new LoadProgress(sources.length, (detail) => this.#emit('loadprogress', detail));
    const results = await Promise.allSettled(
      sources.map(async (source, index) => {
        const bytes = await downloadStem(source, {
          signal: aborted,
          onBytes: (loaded, total) => progress.update(index, loaded, total),
        });
        aborted.throwIfAborted();
        const stem = await decodeStem(this.#context, source.name, bytes);
        aborted.throwIfAborted();
        this.#adopt(node, stem);
      }),
    );
    aborted.throwIfAborted();
    if (this.#loading === loading) this.#loading = null;

    const loaded = sources.filter((_, index) => results[index].status === 'fulfilled').map((source) => source.name);
    // Stems arrive in decode order; the mixer lists them in the order they were asked for.
    this.#stems = new Map(loaded.map((name) => [name, /** @type {StemState} */ (this.#stems.get(name))]));
    for (const result of results) {
      if (result.status === 'rejected') this.#emit('error', errorDetail(result.reason));
    }
    this.#changed();
    if (loaded.length === 0 && sources.length > 0) {
      const reasons = results.map((result) => (result.status === 'rejected' ? errorDetail(result.reason).message : ''));
      throw new Error(reasons.join('; '));
    }
    return loaded;
  }

  /** Starts playback (resuming a context the autoplay policy kept suspended). */
  play() {
    if (!this.#node || this.#frames === 0 || this.#playing) return;
    if (this.currentTime >= this.duration) this.#clock.anchor(0); // the engine restarts at 0 too
    this.#playing = true;
    this.#command({ type: 'play' });
    this.#clock.setPlaying(true);
    if (this.#context instanceof AudioContext && this.#context.state !== 'running') {
      this.#context.resume().catch((/** @type {unknown} */ error) => {
        this.#emit('error', { message: `the browser would not start audio: ${error instanceof Error ? error.message : error}` });
      });
    }
    this.#changed();
  }

  pause() {
    if (!this.#playing) return;
    this.#playing = false;
    this.#command({ type: 'pause' });
    this.#clock.setPlaying(false);
    this.#changed();
  }

  toggle() {
    if (this.#playing) this.pause();
    else this.play();
  }

  /** @param {number} seconds clamped to the track */
  seek(seconds) {
    if (!this.#node) return;
    const time = clamp(finite(seconds, 'seek position'), 0, this.duration);
    this.#command({ type: 'seek', frame: Math.round(time * this.#context.sampleRate) });
    this.#clock.anchor(time);
    this.#emit('seek', { time, source: this.#batchDepth > 0 ? 'remote' : 'local' });
    this.#changed();
  }

  /** Playhead in seconds of the track (source time, not wall time). */
  get currentTime() {
    return this.#clock.read();
  }

  /** Length of the longest stem, in seconds. */
  get duration() {
    return this.#frames / this.#context.sampleRate;
  }

  get playing() {
    return this.#playing;
  }

  /** @returns {{ name: string, volume: number, mute: boolean, solo: boolean, audible: boolean }[]} */
  get stems() {
    const anySolo = [...this.#stems.values()].some((stem) => stem.solo);
    return [...this.#stems].map(([name, stem]) => ({
      name,
      ...stem,
      audible: !stem.mute && (!anySolo || stem.solo) && stem.volume > 0,
    }));
  }

  /**
   * @param {string} name
   * @param {number} volume 0..1
   */
  setVolume(name, volume) {
    this.#updateStem(name, { volume: clamp(finite(volume, 'volume'), 0, 1) });
  }

  /**
   * @param {string} name
   * @param {boolean} mute
   */
  setMute(name, mute) {
    this.#updateStem(name, { mute: Boolean(mute) });
  }

  /** @param {string} name */
  toggleMute(name) {
    this.setMute(name, !this.#stem(name).mute);
  }

  /**
   * While any stem is soloed, only soloed stems are heard.
   * @param {string} name
   * @param {boolean} solo
   */
  setSolo(name, solo) {
    this.#updateStem(name, { solo: Boolean(solo) });
  }

  /** @param {string} name */
  toggleSolo(name) {
    this.setSolo(name, !this.#stem(name).solo);
  }

  get master() {
    return this.#master;
  }

  /** @param {number} volume 0..1 */
  setMaster(volume) {
    const master = clamp(finite(volume, 'master volume'), 0, 1);
    if (master === this.#master) return;
    this.#master = master;
    this.#sendControls();
    this.#changed();
  }

  /** @returns {LoopRange | null} */
  get loop() {
    return this.#loop && { ...this.#loop };
  }

  /**
   * Loops [a, b) sample-accurately (either order). If the playhead is already past b it jumps
   * to a; before a, it plays on into the loop.
   * @param {number} a seconds
   * @param {number} b seconds
   */
  setLoop(a, b) {
    const [start, end] = [finite(a, 'loop start'), finite(b, 'loop end')].sort((x, y) => x - y);
    const loop = { a: clamp(start, 0, this.duration), b: clamp(end, 0, this.duration) };
    if (loop.b - loop.a < MIN_LOOP_SECONDS) {
      throw new RangeError(`a loop must be at least ${MIN_LOOP_SECONDS * 1000} ms long`);
    }
    if (this.#loop && this.#loop.a === loop.a && this.#loop.b === loop.b) return;
    const jumps = this.currentTime >= loop.b;
    this.#loop = loop;
    const rate = this.#context.sampleRate;
    this.#command({ type: 'loop', loop: { a: Math.round(loop.a * rate), b: Math.round(loop.b * rate) } });
    this.#clock.setLoop(loop);
    if (jumps) this.#clock.anchor(loop.a);
    this.#changed();
  }

  clearLoop() {
    if (!this.#loop) return;
    this.#clock.anchor(this.currentTime);
    this.#loop = null;
    this.#command({ type: 'loop', loop: null });
    this.#clock.setLoop(null);
    this.#changed();
  }

  get rate() {
    return this.#rate;
  }

  /** @param {number} rate tempo factor, clamped to 0.25–2; pitch stays */
  setRate(rate) {
    const clamped = clamp(finite(rate, 'rate'), MIN_RATE, MAX_RATE);
    if (clamped === this.#rate) return;
    this.#rate = clamped;
    this.#node?.port.postMessage({ type: 'rate', rate: clamped });
    this.#clock.setRate(clamped);
    this.#changed();
  }

  /** Pitch shift in semitones (0: as recorded). */
  get pitch() {
    return this.#pitch;
  }

  /** @param {number} semitones clamped to −12…+12, fractions allowed; the tempo stays */
  setPitch(semitones) {
    const clamped = clamp(finite(semitones, 'pitch'), MIN_PITCH, MAX_PITCH);
    if (clamped === this.#pitch) return;
    this.#pitch = clamped;
    this.#node?.port.postMessage({ type: 'pitch', semitones: clamped });
    this.#changed();
  }

  /** @returns {PlayerSnapshot} */
  snapshot() {
    return {
      playing: this.#playing,
      time: this.currentTime,
      duration: this.duration,
      rate: this.#rate,
      pitch: this.#pitch,
      master: this.#master,
      loop: this.loop,
      stems: Object.fromEntries([...this.#stems].map(([name, stem]) => [name, { ...stem }])),
    };
  }

  /**
   * Applies a (possibly partial) snapshot from elsewhere, e.g. another client over a WebSocket.
   * Emits at most one 'state' event, with source 'remote', so it is not sent back. Unknown
   * stems are ignored; the playhead only moves if it is more than `seekTolerance` away (network
   * delay would otherwise make every update a small, audible jump).
   * @param {Partial<PlayerSnapshot> & { stems?: Record<string, Partial<StemState>> }} snapshot
   * @param {{ seekTolerance?: number }} [options] seconds
   */
  apply(snapshot, { seekTolerance = 0.25 } = {}) {
    this.#batchDepth++;
    try {
      for (const [name, state] of Object.entries(snapshot.stems ?? {})) {
        if (!this.#stems.has(name)) continue;
        if (typeof state.volume === 'number') this.setVolume(name, state.volume);
        if (typeof state.mute === 'boolean') this.setMute(name, state.mute);
        if (typeof state.solo === 'boolean') this.setSolo(name, state.solo);
      }
      if (typeof snapshot.master === 'number') this.setMaster(snapshot.master);
      if (typeof snapshot.rate === 'number') this.setRate(snapshot.rate);
      if (typeof snapshot.pitch === 'number') this.setPitch(snapshot.pitch);
      if (snapshot.loop === null) this.clearLoop();
      else if (snapshot.loop) this.#applyLoop(snapshot.loop);
      if (typeof snapshot.time === 'number' && Math.abs(snapshot.time - this.currentTime) > seekTolerance) {
        this.seek(snapshot.time);
      }
      if (snapshot.playing === true) this.play();
      if (snapshot.playing === false) this.pause();
    } finally {
      this.#batchDepth--;
    }
    if (this.#batchDepth === 0 && this.#batchChanged) {
      this.#batchChanged = false;
      this.#emit('state', { ...this.snapshot(), source: 'remote' });
    }
  }

  /** Stops playback and releases the audio thread, its PCM and (if the player made it) the context. */
  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#loading?.abort();
    this.#playing = false;
    this.#clock.setPlaying(false);
    if (this.#node) {
      this.#node.port.postMessage({ type: 'destroy' });
      this.#node.port.onmessage = null;
      this.#node.disconnect();
      this.#node = null;
    }
    this.#output.disconnect();
    this.#stems.clear();
    if (this.#ownsContext && this.#context instanceof AudioContext) {
      this.#context.close().catch(() => {
        // Closing an already closed context is the only failure, and it leaves nothing to clean up.
      });
    }
  }

  /**
   * A remote loop that does not fit this track (it ends before 50 ms of it) is left out rather
   * than failing the whole snapshot.
   * @param {LoopRange} loop
   */
  #applyLoop(loop) {
    try {
      this.setLoop(loop.a, loop.b);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
  }

  /** @returns {Promise<AudioWorkletNode>} */
  #ensureNode() {
    this.#nodeReady ??= this.#createNode().catch((error) => {
      this.#nodeReady = null; // let a later load() try again
      const message = 'this browser cannot run the stem player (it needs AudioWorklet, over HTTPS or localhost)';
      this.#emit('error', { message });
      throw new Error(message, { cause: error });
    });
    return this.#nodeReady;
  }

  async #createNode() {
    await this.#context.audioWorklet.addModule(WORKLET_URL);
    const node = new AudioWorkletNode(this.#context, PROCESSOR_NAME, {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [2],
    });
    node.port.onmessage = (event) => this.#onReport(event.data);
    node.onprocessorerror = () => {
      this.#playing = false;
      this.#emit('error', { message: 'the audio engine stopped after an internal error; reload the page to play again' });
      this.#changed();
    };
    node.connect(this.#output);
    // Tempo and pitch set before the engine existed apply from its first block.
    node.port.postMessage({ type: 'rate', rate: this.#rate });
    node.port.postMessage({ type: 'pitch', semitones: this.#pitch });
    this.#node = node;
    return node;
  }

  /**
   * Forgets the previous track (the worklet drops its PCM) before a new load.
   * @param {AudioWorkletNode} node
   */
  #reset(node) {
    node.port.postMessage({ type: 'clear' });
    this.#stems.clear();
    this.#frames = 0;
    this.#playing = false;
    this.#loop = null;
    this.#epoch++;
    this.#clock.setPlaying(false);
    this.#clock.setLoop(null);
    this.#clock.setDuration(0);
    this.#clock.anchor(0);
  }

  /**
   * Moves a decoded stem to the audio thread. Its channel buffers are transferred, not copied,
   * so the main thread is left without PCM.
   * @param {AudioWorkletNode} node
   * @param {import('./stem-loader.js').DecodedStem} stem
   */
  #adopt(node, stem) {
    const transfer = transferList(stem.channels);
    try {
      if (!transfer) throw new TypeError('channels share a buffer');
      node.port.postMessage({ type: 'stem', name: stem.name, channels: stem.channels }, transfer);
    } catch {
      // Some engines refuse to transfer an AudioBuffer's own storage: send a copy instead.
      const copies = stem.channels.map((channel) => channel.slice());
      node.port.postMessage({ type: 'stem', name: stem.name, channels: copies }, copies.map((copy) => copy.buffer));
    }
    this.#stems.set(stem.name, { volume: 1, mute: false, solo: false });
    this.#frames = Math.max(this.#frames, stem.frames);
    this.#clock.setDuration(this.duration);
    this.#sendControls();
  }

  /** @param {import('./stem-engine.js').EngineReport} report */
  #onReport(report) {
    if (report.epoch !== this.#epoch) return; // sent before our latest command arrived
    if (report.type === 'time') {
      this.#clock.anchor(report.time, report.contextTime);
      this.#emit('time', { time: report.time, duration: this.duration });
      return;
    }
    this.#playing = false;
    this.#clock.setPlaying(false);
    this.#clock.anchor(report.time);
    this.#emit('ended', { time: report.time });
    this.#changed();
  }

  /**
   * Sends a transport command under a new epoch.
   * @param {{ type: 'play' } | { type: 'pause' } | { type: 'seek', frame: number } | { type: 'loop', loop: { a: number, b: number } | null }} command
   */
  #command(command) {
    this.#epoch++;
    this.#node?.port.postMessage({ ...command, epoch: this.#epoch });
  }

  /**
   * @param {string} name
   * @param {Partial<StemState>} update
   */
  #updateStem(name, update) {
    const stem = this.#stem(name);
    const next = { ...stem, ...update };
    if (next.volume === stem.volume && next.mute === stem.mute && next.solo === stem.solo) return;
    this.#stems.set(name, next);
    this.#sendControls();
    this.#changed();
  }

  /** @param {string} name */
  #stem(name) {
    const stem = this.#stems.get(name);
    if (!stem) throw new RangeError(`there is no stem called "${name}" (loaded: ${[...this.#stems.keys()].join(', ') || 'none'})`);
    return stem;
  }

  #sendControls() {
    this.#node?.port.postMessage({ type: 'controls', stems: Object.fromEntries(this.#stems), master: this.#master });
  }

  #changed() {
    if (this.#batchDepth > 0) {
      this.#batchChanged = true;
      return;
    }
    this.#emit('state', { ...this.snapshot(), source: 'local' });
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** @param {unknown} error */
function errorDetail(error) {
  if (error instanceof StemLoadError) return { message: error.message, stem: error.stem };
  return { message: error instanceof Error ? error.message : String(error) };
}

/**
 * @param {number} value
 * @param {string} what
 */
function finite(value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${what} must be a finite number, not ${value}`);
  return value;
}

/**
 * @param {number} value
 * @param {number} low
 * @param {number} high
 */
function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
