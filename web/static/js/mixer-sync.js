/**
 * One page's link to one mixer session (`mixer:<user id>:track:<id>` or `mixer:<user id>:dj`)
 * over `/ws`: the session's values and info as the server holds them, and `control()` to
 * change them. Nothing here knows what the paths mean (docs/studio.md lists them), so the
 * track page, the DJ page or a test harness can use it alike.
 *
 * The server's session is the one state every tab, OSC surface and MIDI controller shares.
 * A page applies its own changes at once (a fader must not lag) and sends them as `control`
 * ops; the server answers every op that changed something with a `mixer.changed` carrying
 * the op's origin. Each op goes out under its own origin, `ws:<tab id>.<op number>`, so the
 * answer to it is recognised exactly: the paths the op set are skipped (they are applied
 * already), and what the server derived from it — the tempo the trainer raised after a
 * `practice.loop_pass`, the position a `transport.stop` rewound to, the playhead's
 * `anchor_at` — is applied like any remote change. A change from elsewhere that reaches the
 * tab while one of its own ops on the same path is still unanswered is skipped too: the
 * server applied it first, so the tab's op wins there as well.
 *
 * The link rides on the page's one socket (live.js): when it reconnects, the topic is
 * subscribed again and the snapshot that follows brings the page up to date; ops made while
 * it was down go out after the subscription.
 *
 *     const sync = new MixerSync(`mixer:${userId}:track:${trackId}`);
 *     sync.addEventListener('snapshot', (e) => showAll(e.detail.values));
 *     sync.addEventListener('change', (e) => { if (!e.detail.local) show(e.detail.values); });
 *     sync.start();
 *     sync.control({ 'stem.vocals.volume': 0.5 });
 *
 * Events (CustomEvent):
 * - 'snapshot' {values, info, version, reconnected}: the whole state (after each subscribe)
 * - 'change'   {values, info, origin, local}: values that changed (`local` for this page's own
 *              control() calls); info when the session's description changed, else null
 * - 'status'   {state}: 'connecting', 'open', 'reconnecting', 'closed'
 * - 'error'    {message}: the server refused an op or the subscription (one sentence)
 */

import { live as sharedLive } from './live.js';

/** An op the server has not answered within this time changed nothing (or failed). */
const UNANSWERED_MS = 2000;

/** A random tab id, so two tabs of one browser tell their ops apart. */
function newTabId() {
  return crypto.randomUUID().replaceAll('-', '').slice(0, 12);
}

export class MixerSync extends EventTarget {
  /** @type {Record<string, any>} the session's values as this page knows them */
  values = {};
  /** @type {Record<string, any>} the session's read-only description */
  info = {};
  version = 0;
  /** The prefix of this page's origins: `ws:<tab id>`. */
  origin = `ws:${newTabId()}`;

  #topic;
  #live;
  /** @type {(() => void) | null} */
  #unsubscribe = null;
  #everOpened = false;
  #seq = 0;
  /** Paths of this page's unanswered ops: path → {seq, at}. */
  #pending = new Map();
  /** Server clock minus this browser's (ms), from the anchors the server stamps. */
  #offset = 0;
  #offsetKnown = false;

  /**
   * @param {string} topic `mixer:<user id>:<session key>`
   * @param {{ live?: import('./live.js').Live }} [options] the socket to use (default: the page's)
   */
  constructor(topic, { live = sharedLive } = {}) {
    super();
    this.#topic = topic;
    this.#live = live;
    live.addEventListener('status', (event) => {
      if (this.#unsubscribe) this.#emit('status', { state: /** @type {CustomEvent} */ (event).detail.state });
    });
    live.addEventListener('error', (event) => {
      const { message, topic: about } = /** @type {CustomEvent} */ (event).detail;
      if (this.#unsubscribe && (!about || about === this.#topic)) this.#emit('error', { message });
    });
  }

  get topic() {
    return this.#topic;
  }

  /** `idle`, `connecting`, `open`, `reconnecting` or `closed` (the shared socket's). */
  get state() {
    return this.#unsubscribe ? this.#live.state : 'idle';
  }

  /** Follows the session (which also focuses a track session). */
  start() {
    this.#unsubscribe ??= this.#live.subscribe(this.#topic, (event) => this.#receive(event));
  }

  /** Stops following it (until the next start()). */
  stop() {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /**
   * Sets values: applied to `values` at once, announced as a local 'change', and sent as one
   * op (queued while the socket is down). Triggers are sent but not stored.
   * @param {Record<string, any>} values
   */
  control(values) {
    const paths = Object.keys(values);
    if (!paths.length) return;
    const seq = ++this.#seq;
    const now = performance.now();
    for (const path of paths) this.#pending.set(path, { seq, at: now });
    const stored = Object.fromEntries(Object.entries(values).filter(([path]) => path in this.values));
    Object.assign(this.values, stored);
    this.#emit('change', { values, info: null, origin: this.origin, local: true });
    this.#send({ op: 'control', topic: this.#topic, values, origin: `${this.origin}.${seq}` });
  }

  /** Points the control surfaces (OSC, MIDI) at this session again, e.g. when the tab comes to the front. */
  focus() {
    this.#send({ op: 'focus', topic: this.#topic });
  }

  /** The server's clock now, in epoch milliseconds (what `anchor_at` values are on). */
  serverNow() {
    return Date.now() + this.#offset;
  }

  /**
   * Where a transport's playhead is now, in ms: `<prefix>.position_ms`, advanced at `rate`
   * since `<prefix>.anchor_at` while `<prefix>.playing`.
   * @param {string} [prefix] 'transport' or 'deck.<n>'
   * @param {string} [ratePath] the path of its rate
   */
  playhead(prefix = 'transport', ratePath = 'rate') {
    const position = Number(this.values[`${prefix}.position_ms`] ?? 0);
    if (!this.values[`${prefix}.playing`]) return position;
    const anchor = Number(this.values[`${prefix}.anchor_at`] ?? this.serverNow());
    return position + Math.max(0, this.serverNow() - anchor) * Number(this.values[ratePath] ?? 1);
  }

  /** @param {object} message */
  #send(message) {
    this.#live.send(message);
  }

  /** @param {any} event an event of this session's topic (live.js routes them) */
  #receive(event) {
    if (event.type === 'mixer.snapshot') this.#snapshot(event);
    else if (event.type === 'mixer.changed') this.#changed(event);
  }

  /** @param {{ version: number, values: Record<string, any>, info: Record<string, any> }} event */
  #snapshot(event) {
    const now = performance.now();
    const values = { ...event.values };
    // What this page sent after subscribing is applied after the snapshot on the server.
    for (const [path, { at }] of this.#pending) {
      if (now - at < UNANSWERED_MS && path in this.values) values[path] = this.values[path];
    }
    this.values = values;
    this.info = event.info ?? {};
    this.version = event.version;
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#emit('snapshot', { values: { ...values }, info: this.info, version: this.version, reconnected });
  }

  /** @param {{ version: number, values: Record<string, any>, info?: Record<string, any> | null, origin: string }} event */
  #changed(event) {
    const now = performance.now();
    const prefix = `${this.origin}.`;
    const seq = event.origin.startsWith(prefix) ? Number(event.origin.slice(prefix.length)) : null;
    /** @type {Record<string, any>} */
    const applied = {};
    for (const [path, value] of Object.entries(event.values)) {
      if (path.endsWith('anchor_at')) this.#learnOffset(Number(value));
      const pending = this.#pending.get(path);
      const unanswered = pending && now - pending.at < UNANSWERED_MS;
      // Ours: skip what the op set. Another source's: skip where an op of ours comes after it.
      if (unanswered && (seq === null || pending.seq >= seq)) continue;
      applied[path] = value;
    }
    if (seq !== null) {
      // The server answers in order: ops up to this one are done.
      for (const [path, pending] of this.#pending) if (pending.seq <= seq) this.#pending.delete(path);
    }
    Object.assign(this.values, applied);
    this.version = Math.max(this.version, event.version);
    if (event.info) this.info = event.info;
    if (Object.keys(applied).length || event.info) {
      this.#emit('change', { values: applied, info: event.info ?? null, origin: event.origin, local: false });
    }
  }

  /**
   * The server stamps `anchor_at` with its clock as it applies a change, so an anchor that
   * arrives now was stamped at most one trip ago: the largest (anchor − local time) seen is the
   * best estimate of the offset.
   * @param {number} anchor
   */
  #learnOffset(anchor) {
    if (!Number.isFinite(anchor)) return;
    const sample = anchor - Date.now();
    if (!this.#offsetKnown || sample > this.#offset) this.#offset = sample;
    this.#offsetKnown = true;
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
