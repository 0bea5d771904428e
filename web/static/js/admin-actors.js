/**
 * The actors console (/admin/actors): the node's supervision tree, live, an inspect panel,
 * and the operator's actions — Erlang's observer in the page. This module is the page's
 * entry point: it feeds the observer's snapshots to the parts and wires the page's events.
 *
 * The first paint comes from GET /api/v1/admin/actors; after that the `admin:actors` topic
 * on the page's one WebSocket (live.js) brings the observer's snapshot every second
 * (soundforge/actors/observer.py). When no snapshot came for four seconds (the socket is
 * down, or reconnecting), the note says how old the tree is and the page asks for a snapshot
 * over HTTP itself. A snapshot that arrives after a newer one is dropped.
 *
 * The parts, each its own module:
 * - actors-tree.js: the tree table, one row per process keyed by its path of child ids,
 *   updated in place, with its change marks and collapsed branches;
 * - actors-inspect.js: the inspect panel for the chosen process (kept in the address's
 *   fragment, so a reload or a shared link shows it again);
 * - actors-actions.js: restart, stop, kill, pause and resume a queue, cancel a job, each
 *   after a confirmation, with the result in the page's status line.
 */

import { api } from './api.js';
import { describe } from './app.js';
import { live } from './live.js';
import { ActorActions } from './actors-actions.js';
import { setData, setText } from './actors-dom.js';
import { InspectPanel } from './actors-inspect.js';
import { ActorsTree } from './actors-tree.js';

const TOPIC = 'admin:actors';
const SNAPSHOT_URL = '/api/v1/admin/actors';
/** No snapshot for this long: the note says so, and the page asks for one itself. */
const STALE_MS = 4_000;

/** @param {string} id */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** @param {string} text */
function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * An `admin.actors` snapshot (soundforge.runtime.introspect.ActorsSnapshot).
 * @typedef {{ node: string, at: number, processes: number,
 *   tree: import('./actors-process.js').ProcessInfo[] }} Snapshot
 */

class ActorsConsole {
  #tbody = /** @type {HTMLTableSectionElement} */ (byId('actors-rows'));
  #note = byId('actors-note');
  #statusLine = byId('actors-status');
  #tree = new ActorsTree(this.#tbody, location.hash.length > 1 ? safeDecode(location.hash.slice(1)) : null);
  #inspect = new InspectPanel(this.#tree);
  #actions = new ActorActions({
    tree: this.#tree,
    inspect: this.#inspect,
    say: (text, kind) => this.#say(text, kind),
    refresh: () => this.#load(),
  });
  /** The latest snapshot drawn, without its tree. @type {{ node: string, at: number, processes: number } | null} */
  #latest = null;
  #receivedAt = 0;
  /** @type {Promise<void> | null} */
  #loading = null;
  /** Set when the server refuses the snapshot: asking again would not help. */
  #stopped = false;

  start() {
    this.#bind();
    this.#load();
  }

  // -- snapshots -----------------------------------------------------------------------------

  /** @param {Snapshot | null | undefined} snapshot */
  #apply(snapshot) {
    if (!snapshot || !Array.isArray(snapshot.tree)) return;
    if (this.#latest && snapshot.at <= this.#latest.at) return; // a fetch that answered after a newer event
    const firstPaint = this.#latest === null;
    this.#latest = { node: snapshot.node, at: snapshot.at, processes: snapshot.processes };
    this.#receivedAt = Date.now();
    this.#tree.update(snapshot.tree, this.#receivedAt);
    this.#showNote();
    this.#inspect.render();
    // A selection from the address (a reload, a shared link): show where it is.
    const selected = this.#tree.selected;
    if (firstPaint && selected) this.#tree.get(selected)?.tr.scrollIntoView({ block: 'center' });
  }

  /** The snapshot now, over HTTP: the first paint, and whenever the socket falls silent. */
  #load() {
    if (!this.#loading && !this.#stopped) {
      this.#loading = api(SNAPSHOT_URL)
        .then((snapshot) => this.#apply(snapshot))
        .catch((error) => {
          this.#say(describe(error), 'error');
          if (error?.status === 401 || error?.status === 403) this.#stopped = true;
        })
        .finally(() => {
          this.#loading = null;
        });
    }
    return this.#loading ?? Promise.resolve();
  }

  #showNote() {
    const latest = this.#latest;
    if (!latest) return;
    const age = Math.round((Date.now() - this.#receivedAt) / 1000);
    const stale = Date.now() - this.#receivedAt > STALE_MS;
    const words = `${latest.node} · ${latest.processes} processes · `;
    setText(this.#note, words + (stale
      ? `no update for ${age} s (live updates: ${live.state})`
      : `updated ${new Date(latest.at * 1000).toLocaleTimeString()}`));
    setData(this.#note, 'stale', String(stale));
  }

  #tick() {
    const now = Date.now();
    this.#tree.expireMarks(now);
    this.#showNote();
    // The observer samples only while someone follows; when the socket is down, ask directly.
    if (this.#latest && now - this.#receivedAt > STALE_MS && !document.hidden) this.#load();
  }

  /**
   * The page's status line: the result of an action, or what went wrong.
   * @param {string} text
   * @param {'ok' | 'error'} [kind]
   */
  #say(text, kind = 'ok') {
    this.#statusLine.textContent = text;
    this.#statusLine.dataset.kind = kind;
  }

  /**
   * Chooses the process whose row has `key` (null: none), for the panel and the address.
   * @param {string | null} key
   * @param {{ user?: boolean }} [options] `user`: the reader chose it (rather than a reload)
   */
  #select(key, { user = false } = {}) {
    this.#tree.selected = key;
    const url = key ? `#${encodeURIComponent(key)}` : `${location.pathname}${location.search}`;
    history.replaceState(null, '', url);
    this.#inspect.reset();
    this.#tree.applyVisibility();
    this.#inspect.render();
    if (user) this.#inspect.reveal();
  }

  // -- wiring --------------------------------------------------------------------------------

  #bind() {
    followTopBar();
    this.#tbody.addEventListener('click', (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const tr = target?.closest('tr[data-key]');
      if (!target || !(tr instanceof HTMLTableRowElement)) return;
      const key = tr.dataset.key ?? '';
      if (target.closest('.tree-toggle')) {
        this.#tree.toggle(key);
        return;
      }
      if (target.closest('button:not(.actor-label), a')) return; // the row's own buttons
      if (window.getSelection()?.toString()) return; // copying a pid is not choosing a row
      this.#select(key, { user: true });
    });
    byId('actors-expand').addEventListener('click', () => this.#tree.expandAll());
    byId('actors-collapse').addEventListener('click', () => this.#tree.collapseAll());
    document.getElementById('actors')?.addEventListener('click', (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const button = target?.closest('button');
      if (!(button instanceof HTMLButtonElement)) return;
      if (this.#actions.handle(button)) return;
      if (button.dataset.pid) {
        const row = this.#tree.rowOfPid(button.dataset.pid);
        if (row) this.#select(row.key, { user: true });
      }
    });
    live.addEventListener('error', (event) => {
      const detail = /** @type {CustomEvent} */ (event).detail;
      if (detail?.topic === TOPIC) this.#say(detail.message ?? 'The live tree is not available.', 'error');
    });
    live.addEventListener('status', (event) => {
      if (/** @type {CustomEvent} */ (event).detail?.reconnected) this.#load();
      this.#showNote();
    });
    live.subscribe(TOPIC, (event) => {
      if (event?.type === 'admin.actors') this.#apply(event);
    });
    window.setInterval(() => this.#tick(), 1000);
  }
}

/** The sticky status line and panel sit below the site's sticky top bar, however tall. */
function followTopBar() {
  const bar = document.querySelector('.topbar');
  const page = document.getElementById('actors');
  if (!bar || !page) return;
  const measure = () => page.style.setProperty('--topbar', `${Math.ceil(bar.getBoundingClientRect().height)}px`);
  measure();
  new ResizeObserver(measure).observe(bar);
}

if (document.getElementById('actors-table')) new ActorsConsole().start();
