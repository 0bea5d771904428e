/**
 * The AudioWorkletProcessor behind StemPlayer: a thin adapter that feeds the engine
 * (stem-engine.js) the messages from its port and asks it for one render block at a time.
 * All stems' PCM lives here, transferred once from the main thread.
 *
 * Loaded by StemPlayer with `context.audioWorklet.addModule(new URL('./stem-player-worklet.js',
 * import.meta.url))`; the processor name is exported there as PROCESSOR_NAME.
 */

/* global AudioWorkletProcessor, registerProcessor, sampleRate, currentTime */

import { StemEngine } from './stem-engine.js';

class StemPlayerProcessor extends AudioWorkletProcessor {
  #alive = true;
  #engine;
  /** @type {Float32Array | null} stands in for a missing right channel (never expected: the node is stereo) */
  #spare = null;

  constructor() {
    super();
    this.#engine = new StemEngine({ sampleRate, post: (report) => this.port.postMessage(report) });
    this.port.onmessage = (event) => {
      if (event.data.type === 'destroy') {
        // Returning false from process() lets the browser collect the node — and the PCM.
        this.#alive = false;
        this.#engine.handle({ type: 'clear' });
        return;
      }
      this.#engine.handle(event.data);
    };
  }

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   */
  process(_inputs, outputs) {
    if (!this.#alive) return false;
    const [left, right] = outputs[0];
    if (!right && this.#spare?.length !== left.length) this.#spare = new Float32Array(left.length);
    this.#engine.render(left, right ?? /** @type {Float32Array} */ (this.#spare), currentTime);
    return true;
  }
}

registerProcessor('soundforge-stem-player', StemPlayerProcessor);
