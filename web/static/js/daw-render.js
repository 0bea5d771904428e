/**
 * Renders of DAW lanes: the Render button queues the job, its progress and outcome arrive as
 * `stem.render.progress` and `stem.render` events on the track's topic, and a finished render
 * appears in the lane's list of versions (the original stays first, and playable).
 *
 *     const renders = new Renders({ onCompleted: (stemId) => reloadLane(stemId) });
 *     live.subscribe(topic, (event) => renders.handle(event));
 *     await renders.start(stemId);
 *     await renders.sync(stemId, lane.render);   // whenever a lane was read
 *     renders.showVersions(laneElement, lane);
 *
 * A render that ends while no event can reach the page (before the page followed the track,
 * or while its socket was down) is found by `sync`: the lane read afterwards has no unfinished
 * render, so the one the page still shows as running is looked up and shown as it ended.
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
  /** stem id → the render this page shows as queued or running */
  #running = new Map();

  /** @param {{ onCompleted: (stemId: string) => Promise<void> | void }} options */
  constructor({ onCompleted }) {
    this.onCompleted = onCompleted;
  }

  /**
   * Whether the page shows a render of the lane as queued or running.
   * @param {string} stemId
   */
  running(stemId) {
    return this.#running.has(stemId);
  }

  /**
   * Queue a render of the lane.
   * @param {string} stemId
   */
  async start(stemId) {
    this.#show(stemId, { progress: 0, text: 'queued' });
    /** @type {RenderJob} */
    const job = await api(`stems/${stemId}/render`, { method: 'POST' });
    if (FINISHED.has(job.state)) {
      await this.#ended(job);
      return;
    }
    this.#running.set(stemId, job.job_id);
    if (job.state === 'executing') this.#show(stemId, { progress: job.progress, text: 'rendering…' });
  }

  /**
   * Show a lane's render as the server has it, after the lane was read: `job` is the lane's
   * unfinished render (null when it has none). A render this page showed as running that has
   * finished since, its events lost, is looked up and shown as it ended.
   * @param {string} stemId
   * @param {RenderJob | null} job
   */
  async sync(stemId, job) {
    const shown = this.#running.get(stemId);
    if (job && !FINISHED.has(job.state)) {
      if (shown === job.job_id) return; // its events keep the lane up to date
      this.#running.set(stemId, job.job_id);
      this.#show(stemId, { progress: job.progress, text: job.state === 'executing' ? 'rendering…' : 'queued' });
      return;
    }
    if (shown === undefined) return;
    this.#running.delete(stemId);
    await this.#ended(await api(`stems/${stemId}/renders/${shown}`));
  }

  /**
   * Show how a render ended.
   * @param {RenderJob} job
   */
  async #ended(job) {
    this.#running.delete(job.stem_id);
    if (job.state === 'completed') {
      this.#show(job.stem_id, { progress: 1, text: job.version ? `version ${job.version} rendered` : 'rendered', done: true });
      await this.onCompleted(job.stem_id);
    } else if (job.state === 'cancelled') {
      this.#show(job.stem_id, { progress: 0, text: 'cancelled', done: true });
    } else {
      this.#show(job.stem_id, { progress: 0, text: `failed: ${job.error ?? ''}`, done: true });
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
        this.#running.set(event.stem_id, event.job_id);
        this.#show(event.stem_id, { progress: 0, text: 'rendering…' });
      } else if (event.state === 'completed') {
        this.#running.delete(event.stem_id);
        this.#show(event.stem_id, { progress: 1, text: `version ${event.version} rendered`, done: true });
        Promise.resolve(this.onCompleted(event.stem_id)).catch(() => {});
      } else if (event.state === 'retrying') {
        this.#show(event.stem_id, { progress: 0, text: `failed, trying again: ${event.error ?? ''}` });
      } else if (event.state === 'failed') {
        this.#running.delete(event.stem_id);
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
