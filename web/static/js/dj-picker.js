/**
 * A deck's track picker: a search field over the user's library (`GET /api/v1/tracks?q=…`,
 * ready tracks only, since a deck plays stems) and a list of results; choosing one calls
 * `onPick(track)`. Typing waits a moment before asking (one request per pause, the older
 * one aborted); Escape or a click elsewhere closes the list; arrow keys move through it.
 *
 *     bindPicker(deckElement, (track) => sync.control({ 'deck.1.track_id': track.id }));
 */

import { api } from './api.js';
import { describe } from './app.js';
import { formatBpm } from './format.js';

const DEBOUNCE_MS = 200;
const LIMIT = 12;

/** @typedef {{ id: string, title: string, artists: string[], tempo_bpm: number | null, key: string | null, camelot: string | null }} TrackSummary */

/**
 * @param {HTMLElement} root the deck's element (holds `[data-part="search"]` and `[data-part="results"]`)
 * @param {(track: TrackSummary) => void} onPick
 */
export function bindPicker(root, onPick) {
  const input = /** @type {HTMLInputElement} */ (root.querySelector('[data-part="search"]'));
  const list = /** @type {HTMLUListElement} */ (root.querySelector('[data-part="results"]'));
  let timer = 0;
  /** @type {AbortController | null} */
  let pending = null;

  const close = () => {
    clearTimeout(timer); // a search still waiting would open the list again
    pending?.abort();
    pending = null;
    list.hidden = true;
    list.replaceChildren();
  };

  /** @param {string} text */
  const message = (text) => {
    const item = document.createElement('li');
    item.className = 'deck-result-note';
    item.textContent = text;
    list.replaceChildren(item);
    list.hidden = false;
  };

  /** @param {TrackSummary[]} tracks */
  const show = (tracks) => {
    if (!tracks.length) {
      message('No ready track matches.');
      return;
    }
    list.replaceChildren(
      ...tracks.map((track) => {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'deck-result';
        button.dataset.trackId = track.id;
        const title = document.createElement('span');
        title.className = 'deck-result-title';
        title.textContent = track.title;
        const detail = document.createElement('span');
        detail.className = 'deck-result-detail';
        detail.textContent = [track.artists.join(', '), formatBpm(track.tempo_bpm), track.camelot ?? '']
          .filter(Boolean)
          .join(' · ');
        button.append(title, detail);
        button.addEventListener('click', () => {
          close();
          input.value = '';
          onPick(track);
        });
        item.append(button);
        return item;
      }),
    );
    list.hidden = false;
  };

  const search = async () => {
    pending?.abort();
    const controller = new AbortController();
    pending = controller;
    const query = new URLSearchParams({ status: 'ready', limit: String(LIMIT), sort: 'title' });
    const words = input.value.trim();
    if (words) query.set('q', words);
    try {
      const page = await api(`tracks?${query}`, { signal: controller.signal });
      if (pending === controller) show(page.items);
    } catch (error) {
      if (/** @type {Error} */ (error).name !== 'AbortError') message(describe(error));
    }
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  input.addEventListener('focus', () => {
    if (list.hidden) search();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
    if (event.key === 'ArrowDown' || event.key === 'Enter') {
      const first = /** @type {HTMLButtonElement | null} */ (list.querySelector('.deck-result'));
      if (!first) return;
      event.preventDefault();
      if (event.key === 'Enter') first.click();
      else first.focus();
    }
  });
  list.addEventListener('keydown', (event) => {
    const buttons = [...list.querySelectorAll('.deck-result')];
    const index = buttons.indexOf(/** @type {Element} */ (document.activeElement));
    if (event.key === 'Escape') {
      close();
      input.focus();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = index + (event.key === 'ArrowDown' ? 1 : -1);
      if (next < 0) input.focus();
      else /** @type {HTMLElement | undefined} */ (buttons[Math.min(next, buttons.length - 1)])?.focus();
    }
  });
  document.addEventListener('pointerdown', (event) => {
    if (!(event.target instanceof Node) || !root.querySelector('.deck-picker')?.contains(event.target)) close();
  });
}
