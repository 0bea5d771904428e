/**
 * Renders of DAW lanes: the Render button queues the job, its progress and outcome arrive as
 * `stem.render.progress` and `stem.render` events on the track's topic, and a finished render
 * appears in the lane's list of versions (the original stays first, and playable).
 *
 *     const renders = new Renders({ onCompleted: (stemId) => reloadLane(stemId) });
 *     live.subscribe(topic, (event) => renders.handle(event));
 *     await renders.start(stemId);
 *     renders.showVersions(laneElement, lane);
 */

import { api } from './api.js';
import { toast } from './app.js';

/** @typedef {{ id: string, version: number, format: string }} StemVersion */
/** @typedef {{ job_id: number, stem_id: string, state: string, progress: number, error: string | null, version: number | null }} RenderJob */

const FINISHED = new Set(['completed', 'cancelled', 'discarded']);

/** @param {string} stemId */
function laneElement(stemId) {
  return document.querySelector(`.daw-lane[data-stem-id="${CSS.escape(stemId)}"]`);
}

export class Renders {
  /** @param {{ onCompleted: (stemId: string) => Promise<void> | void }} options */
  constructor({ onCompleted }) {
    this.onCompleted = onCompleted;
  }

  /**
   * Queue a render of the lane.
   * @param {string} stemId
   */
  async start(stemId) {
    this.#show(stemId, { progress: 0, text: 'queued' });
    /** @type {RenderJob} */
    const job = await api(`stems/${stemId}/render`, { method: 'POST' });
    if (job.state === 'completed') {
      this.#show(stemId, { progress: 1, text: job.version ? `version ${job.version} rendered` : 'rendered', done: true });
      await this.onCompleted(stemId);
    } else if (job.state === 'executing') {
      this.#show(stemId, { progress: job.progress, text: 'rendering…' });
    }
  }

  /**
   * Show a render that was running when the page loaded.
   * @param {string} stemId
   * @param {RenderJob | null} job
   */
  resume(stemId, job) {
    if (job && !FINISHED.has(job.state)) {
      this.#show(stemId, { progress: job.progress, text: job.state === 'executing' ? 'rendering…' : 'queued' });
    }
  }

  /**
   * A `track:<id>` event (others are ignored).
   * @param {any} event
   */
  handle(event) {
    if (event.type === 'stem.render.progress') {
      this.#show(event.stem_id, { progress: event.fraction, text: 'rendering…' });
    } else if (event.type === 'stem.render') {
      if (event.state === 'started') {
        this.#show(event.stem_id, { progress: 0, text: 'rendering…' });
      } else if (event.state === 'completed') {
        this.#show(event.stem_id, { progress: 1, text: `version ${event.version} rendered`, done: true });
        Promise.resolve(this.onCompleted(event.stem_id)).catch(() => {});
      } else if (event.state === 'retrying') {
        this.#show(event.stem_id, { progress: 0, text: `failed, trying again: ${event.error ?? ''}` });
      } else if (event.state === 'failed') {
        this.#show(event.stem_id, { progress: 0, text: `failed: ${event.error ?? ''}`, done: true });
        toast(`The render failed: ${event.error ?? 'no reason given'}`);
      }
    }
  }

  /**
   * @param {string} stemId
   * @param {{ progress: number, text: string, done?: boolean }} what
   */
  #show(stemId, { progress, text, done = false }) {
    const lane = laneElement(stemId);
    if (!lane) return;
    const bar = /** @type {HTMLProgressElement | null} */ (lane.querySelector('.daw-render-progress'));
    const state = lane.querySelector('.daw-render-state');
    if (bar) {
      bar.value = progress;
      bar.hidden = done;
    }
    if (state) state.textContent = text;
    lane.toggleAttribute('data-rendering', !done);
  }

  /**
   * Redraw a lane's versions: the original, then each render.
   * @param {string} stemId the lane's (original) stem
   * @param {StemVersion[]} versions
   */
  showVersions(stemId, versions) {
    const list = laneElement(stemId)?.querySelector('.daw-versions');
    if (!list) return;
    const have = new Set([...list.querySelectorAll('.daw-version')].map((item) => /** @type {HTMLElement} */ (item).dataset.version));
    for (const version of versions) {
      if (have.has(String(version.version))) continue;
      const item = document.createElement('li');
      item.className = 'daw-version';
      item.dataset.version = String(version.version);
      const label = document.createElement('span');
      label.textContent = `Version ${version.version}`;
      const audio = document.createElement('audio');
      audio.controls = true;
      audio.preload = 'none';
      audio.src = `/api/v1/stems/${version.id}/audio`;
      const link = document.createElement('a');
      link.href = `/api/v1/stems/${version.id}/audio?download=1`;
      link.textContent = 'Download';
      item.append(label, audio, link);
      list.append(item);
    }
  }
}
