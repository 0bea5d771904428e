/**
 * Live updates: one WebSocket per tab to `/ws`, shared by every part of the page.
 *
 * Phoenix's channel client in miniature. Parts of the page subscribe to PubSub topics
 * (`tracks:<user id>`, `track:<track id>`) and get the events published on them as
 * decoded JSON objects with a dotted `type` (`track.progress`, `track.status`...). Topics are
 * reference-counted: the server hears `subscribe` for a topic's first handler and
 * `unsubscribe` after its last one left. The socket opens with the first subscription; when
 * it drops it comes back after an exponential, jittered delay (0.5 s doubling to 30 s) and
 * every topic is subscribed again. After such a reconnect, the `status` event says
 * `reconnected: true`: events published meanwhile were missed, so a part that cares reloads
 * its state then.
 *
 *     import { live } from '/static/js/live.js';
 *     const stop = live.subscribe(`track:${id}`, (event) => {
 *       if (event.type === 'track.progress') bar.value = event.fraction;
 *     });
 *     live.addEventListener('status', (e) => indicator.dataset.state = e.detail.state);
 *     live.send({ op: 'control', topic, values: { rate: 0.8 }, origin });   // other ops
 *     stop();   // this handler only; the topic stays while others follow it
 *
 * Events published before the server confirmed a subscription are not delivered. A part that
 * reads a snapshot and then follows its changes passes `onSubscribed`, called each time the
 * server confirms the topic (the first time, and again after every reconnect), and reads the
 * snapshot again then: nothing published between the two reads is lost.
 *
 *     live.subscribe(`track:${id}`, onEvent, { onSubscribed: () => reload(id) });
 *
 * States: `idle` (nothing subscribed yet), `connecting`, `open`, `reconnecting` (waiting to
 * retry), `closed` (after `live.close()`). The server sends an event once per topic it was
 * published on; this client hands each handler an event at most once, whichever of its topics
 * it came on, and handlers should treat events as idempotent anyway.
 */

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
/** An identical message within this window is the same event on a second topic. */
const DUPLICATE_WINDOW_MS = 250;

/** The topics an event belongs to (the server does not say which one it came on). */
function topicsOf(event) {
  const topics = [];
  if (typeof event.topic === 'string') topics.push(event.topic);
  if (typeof event.type === 'string' && event.type.startsWith('mixer.')) {
    topics.push(`mixer:${event.user_id}:${event.key}`); // a mixer session's own topic only
    return topics;
  }
  if (event.track_id) topics.push(`track:${event.track_id}`);
  if (event.user_id) topics.push(`tracks:${event.user_id}`);
  return topics;
}

export class Live extends EventTarget {
  /** @type {Map<string, Set<{ handler: (event: any) => void }>>} */
  #topics = new Map();
  /** @type {WebSocket | null} */
  #socket = null;
  #state = 'idle';
  #attempt = 0;
  #timer = 0;
  #everOpened = false;
  #recent = new Map();
  /** @type {Set<string>} topics the server confirmed on the current socket */
  #confirmed = new Set();
  /** @type {object[]} ops sent while the socket was down */
  #queue = [];
  #url;

  /** @param {string} [url] the socket's URL; by default `/ws` on this page's host. */
  constructor(url) {
    super();
    this.#url = url ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    addEventListener('online', () => this.#reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#reconnectNow();
    });
  }

  /** `idle`, `connecting`, `open`, `reconnecting` or `closed`. */
  get state() {
    return this.#state;
  }

  /** The topics followed now. */
  get topics() {
    return [...this.#topics.keys()];
  }

  /**
   * Follow `topic`; `handler(event)` gets each event published on it.
   * @param {string} topic
   * @param {(event: any) => void} handler
   * @param {{ onSubscribed?: () => void }} [options] `onSubscribed()` once the server follows
   *   the topic for this page (at once if it already does), and after each reconnect
   * @returns {() => void} unsubscribe (this handler only; calling it twice is harmless)
   */
  subscribe(topic, handler, { onSubscribed } = {}) {
    const entry = { handler, onSubscribed };
    let entries = this.#topics.get(topic);
    if (!entries) {
      entries = new Set();
      this.#topics.set(topic, entries);
      this.#send({ op: 'subscribe', topic });
    }
    entries.add(entry);
    if (onSubscribed && this.#confirmed.has(topic)) queueMicrotask(() => this.#confirm(entry));
    if (this.#state === 'idle' || this.#state === 'closed') this.#connect();
    return () => {
      const current = this.#topics.get(topic);
      if (!current || !current.delete(entry) || current.size > 0) return;
      this.#topics.delete(topic);
      this.#confirmed.delete(topic);
      this.#send({ op: 'unsubscribe', topic });
    };
  }

  /** Close the socket for good (until the next subscribe). */
  close() {
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, 'closed by the page');
    this.#setState('closed');
  }

  /**
   * Sends an op other than subscribe/unsubscribe (e.g. a mixer `control`). While the socket
   * is down it waits, and goes out after the topics are subscribed again.
   * @param {object} message
   */
  send(message) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
    else this.#queue.push(message);
  }

  #send(message) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
    // Otherwise the topic is (re)subscribed when the socket opens.
  }

  #connect() {
    clearTimeout(this.#timer);
    this.#setState('connecting');
    let socket;
    try {
      socket = new WebSocket(this.#url);
    } catch (error) {
      console.warn('live: cannot open the socket', error);
      this.#retryLater();
      return;
    }
    this.#socket = socket;
    this.#confirmed.clear();
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      const reconnected = this.#everOpened;
      this.#everOpened = true;
      this.#attempt = 0;
      for (const topic of this.#topics.keys()) socket.send(JSON.stringify({ op: 'subscribe', topic }));
      for (const message of this.#queue.splice(0)) socket.send(JSON.stringify(message));
      this.#setState('open', { reconnected });
    });
    socket.addEventListener('message', (message) => {
      if (socket === this.#socket) this.#receive(message.data);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      if (event.code === 1008 && event.reason) this.#report(event.reason);
      this.#retryLater();
    });
  }

  #retryLater() {
    // Exponential backoff with "equal jitter": half the delay fixed, half random, so that
    // many tabs cut off by one server restart do not all come back in the same instant.
    const ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.#attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#attempt += 1;
    this.#setState('reconnecting', { delay: Math.round(delay) });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #reconnectNow() {
    if (this.#state === 'reconnecting') {
      this.#attempt = 0;
      this.#connect();
    }
  }

  #receive(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (event.type === 'subscribed') {
      this.#subscribed(event.topic);
      return;
    }
    if (event.type === 'unsubscribed') return;
    if (event.type === 'error') {
      this.#report(event.message, event.topic);
      return;
    }
    const now = performance.now();
    for (const [seen, at] of this.#recent) if (now - at > DUPLICATE_WINDOW_MS) this.#recent.delete(seen);
    if (this.#recent.has(text)) return;
    this.#recent.set(text, now);
    const delivered = new Set();
    for (const topic of topicsOf(event)) {
      for (const entry of this.#topics.get(topic) ?? []) {
        if (delivered.has(entry.handler)) continue;
        delivered.add(entry.handler);
        try {
          entry.handler(event);
        } catch (error) {
          // One broken handler must not keep the event from the others.
          console.error('live: a handler failed on', event.type, error);
        }
      }
    }
    this.dispatchEvent(new CustomEvent('event', { detail: event }));
  }

  #subscribed(topic) {
    const entries = this.#topics.get(topic);
    if (!entries) return; // unsubscribed meanwhile
    this.#confirmed.add(topic);
    for (const entry of entries) this.#confirm(entry);
  }

  #confirm(entry) {
    if (!entry.onSubscribed) return;
    try {
      entry.onSubscribed();
    } catch (error) {
      console.error('live: an onSubscribed callback failed', error);
    }
  }

  #report(message, topic = null) {
    this.dispatchEvent(new CustomEvent('error', { detail: { message, topic } }));
  }

  #setState(state, extra = {}) {
    this.#state = state;
    this.dispatchEvent(new CustomEvent('status', { detail: { state, ...extra } }));
  }
}

/** The page's one connection. */
export const live = new Live();
