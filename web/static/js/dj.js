/**
 * The DJ page (`/dj`): two decks, the mixer between them, all state in the user's `dj` mixer
 * session on the server.
 *
 * `#dj-data` (soundforge/web/pages_dj.py) names the session's topic. One AudioContext
 * carries both decks (dj-audio.js: EQ, volume, crossfader, master); each deck plays its
 * stems with a StemPlayer (dj-deck.js) and shows its controls (dj-deck-view.js). The
 * session arrives over `/ws` (mixer-sync.js): its snapshot on load (so the decks come back as
 * they were after a reload), then every change, whichever tab, OSC surface or MIDI
 * controller made it.
 *
 * `window.__dj` is `{ context, mixer, sync, decks: {1, 2}, views: {1, 2} }`, for the browser
 * tests (tests/e2e/test_dj.py) and for poking at the graph from the console.
 */

import { toast } from './app.js';
import { DjMixer } from './dj-audio.js';
import { nextCurve } from './dj-crossfader.js';
import { Deck } from './dj-deck.js';
import { DeckView } from './dj-deck-view.js';
import { bindFader, percent } from './dj-inputs.js';
import { installMidiLearn } from './midi-learn.js';
import { MixerSync } from './mixer-sync.js';

/** The session's default (soundforge/studio/_semantics.py), until its snapshot arrives. */
const DEFAULT_CURVE = 'equal_power';
const CURVE_NAMES = /** @type {Record<string, string>} */ ({ linear: 'Linear', equal_power: 'Equal power' });

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const data = JSON.parse($('dj-data').textContent ?? '{}');

const context = new AudioContext();
const mixer = new DjMixer(context);
const sync = new MixerSync(data.topic);

/** @type {Record<number, Deck>} */
const decks = {};
/** @type {Record<number, DeckView>} */
const views = {};
for (const number of [1, 2]) {
  const deck = new Deck({ number, sync, channel: mixer.deck(number), context });
  decks[number] = deck;
  views[number] = new DeckView({
    deck,
    sync,
    root: $(`deck-${number}`),
    strip: /** @type {HTMLElement} */ (document.querySelector(`[data-strip="${number}"]`)),
  });
}

const crossfader = bindFader(/** @type {HTMLInputElement} */ ($('crossfader')), {
  toValue: (raw) => raw / 100,
  fromValue: (value) => Math.round(value * 100),
  send: (value) => sync.control({ crossfader: value }),
  reset: 0.5,
});
const master = bindFader(/** @type {HTMLInputElement} */ ($('master-volume')), {
  toValue: (raw) => raw / 100,
  fromValue: (value) => Math.round(value * 100),
  send: (value) => sync.control({ 'master.volume': value }),
});
$('crossfader-curve').addEventListener('click', () => {
  sync.control({ 'crossfader.curve': nextCurve(String(sync.values['crossfader.curve'] ?? DEFAULT_CURVE)) });
});

/** The mixer's own values: crossfader, its curve, master. */
function showMixer() {
  const position = Number(sync.values.crossfader ?? 0.5);
  const curve = String(sync.values['crossfader.curve'] ?? DEFAULT_CURVE);
  const volume = Number(sync.values['master.volume'] ?? 1);
  mixer.setCrossfader(position, curve);
  mixer.setMaster(volume);
  crossfader.show(position);
  master.show(volume);
  $('master-value').textContent = percent(volume);
  const button = $('crossfader-curve');
  button.dataset.curve = curve;
  button.textContent = CURVE_NAMES[curve] ?? curve;
  button.setAttribute('aria-label', `Crossfader curve: ${CURVE_NAMES[curve] ?? curve} (click to switch)`);
}

/** @param {{ values: Record<string, any>, info: Record<string, any> | null, snapshot?: boolean }} change */
function show(change) {
  for (const number of [1, 2]) {
    decks[number].apply(change);
    views[number].render();
  }
  showMixer();
}
sync.addEventListener('snapshot', (event) => show({ .../** @type {CustomEvent} */ (event).detail, snapshot: true }));
sync.addEventListener('change', (event) => show(/** @type {CustomEvent} */ (event).detail));
sync.addEventListener('error', (event) => toast(/** @type {CustomEvent} */ (event).detail.message));
sync.addEventListener('status', (event) => {
  const { state } = /** @type {CustomEvent} */ (event).detail;
  const line = $('dj-connection');
  line.dataset.state = state;
  line.textContent = state === 'open' ? 'Connected: in step with your other tabs and controllers.' : state === 'connecting' ? 'Connecting…' : 'Connection lost: reconnecting…';
});

// Browsers start an AudioContext suspended until the page is touched.
const resume = () => {
  if (context.state !== 'running') context.resume().catch(() => {}); // the next gesture tries again
};
document.addEventListener('pointerdown', resume, { capture: true });
document.addEventListener('keydown', resume, { capture: true });
// A suspended context held the players still while the session's playheads moved on.
context.addEventListener('statechange', () => {
  if (context.state === 'running') for (const number of [1, 2]) decks[number].apply({ values: {}, info: null });
});

const frame = () => {
  for (const number of [1, 2]) views[number].tick();
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);

/** @type {any} */ (window).__dj = { context, mixer, sync, decks, views };
showMixer();
sync.start();
// MIDI learn for every deck and mixer control (stem mutes too, once a track is loaded).
const learn = installMidiLearn($('dj-page'));
document.querySelector('.crossfader')?.append(learn);
