/**
 * MIDI learn on any page with controls: `installMidiLearn(root)` adds a "MIDI learn" toggle
 * to `root`; while it is on, clicking an element with `data-control="<path>"` (a fader, a
 * button) does not operate it but arms learning for that path
 * (`POST /api/v1/studio/midi/learn`), and the next control moved on any MIDI device is
 * mapped to it. The server answers on the socket topic `midi:<user id>` with
 * `midi.learned` (shown, and the element flashes) or `midi.learn_timeout` after 30 s.
 *
 *     import { installMidiLearn } from '/static/js/midi-learn.js';
 *     installMidiLearn(document.getElementById('mixer'));
 *
 * While learning is armed the element carries `data-midi-learning`; while learn mode is
 * on, `root` carries `data-midi-learn="on"` (pages may style both).
 */

import { api } from './api.js';
import { describe, toast } from './app.js';
import { live } from './live.js';

/** @type {Promise<string> | null} */
let userId = null;

/** The signed-in user's id (the topic learn answers on). */
function me() {
  userId ??= api('me').then((user) => String(user.id));
  return userId;
}

/**
 * Add MIDI learn to `root` (once per element; later calls return the same toggle).
 * @param {HTMLElement} root  the part of the page whose `[data-control]` elements can be learned
 * @returns {HTMLButtonElement} the toggle
 */
export function installMidiLearn(root) {
  const existing = root.querySelector(':scope > [data-midi-learn-toggle]');
  if (existing instanceof HTMLButtonElement) return existing;
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'button ghost small';
  toggle.textContent = 'MIDI learn';
  toggle.dataset.midiLearnToggle = '';
  toggle.setAttribute('aria-pressed', 'false');
  toggle.title = 'Click a control, then move a knob or press a button on your MIDI controller';
  root.prepend(toggle);

  /** @type {HTMLElement | null} */
  let armed = null;
  /** @type {(() => void) | null} */
  let unsubscribe = null;

  const on = () => toggle.getAttribute('aria-pressed') === 'true';

  function disarm() {
    armed?.removeAttribute('data-midi-learning');
    armed = null;
  }

  /** @param {any} event */
  function onEvent(event) {
    if (event.type === 'midi.learned') {
      const target = armed;
      disarm();
      toast(`${event.path} now follows ${event.message} on ${event.device_name}.`, { kind: 'success' });
      if (target) {
        target.dataset.midiLearned = '';
        setTimeout(() => target.removeAttribute('data-midi-learned'), 1500);
      }
    } else if (event.type === 'midi.learn_timeout') {
      disarm();
      toast(`No MIDI control moved within ${event.seconds} s; click ${event.path} again to retry.`,
        { kind: 'info' });
    }
  }

  async function setMode(enabled) {
    toggle.setAttribute('aria-pressed', String(enabled));
    root.dataset.midiLearn = enabled ? 'on' : 'off';
    if (enabled && !unsubscribe) {
      try {
        unsubscribe = live.subscribe(`midi:${await me()}`, onEvent);
      } catch (error) {
        toast(describe(error));
      }
    }
    if (!enabled) {
      if (armed) api('studio/midi/learn', { method: 'DELETE' }).catch(() => {});
      disarm();
    }
  }

  toggle.addEventListener('click', () => setMode(!on()));

  /** @param {Event} event */
  function intercept(event) {
    if (!on()) return;
    const target = /** @type {HTMLElement} */ (event.target).closest('[data-control]');
    if (!(target instanceof HTMLElement) || !root.contains(target)) return;
    // In learn mode a click picks the control instead of operating it.
    event.preventDefault();
    event.stopPropagation();
    if (event.type !== 'click') return;
    arm(target);
  }

  /** @param {HTMLElement} target */
  async function arm(target) {
    const path = target.dataset.control ?? '';
    disarm();
    armed = target;
    target.dataset.midiLearning = '';
    try {
      await api('studio/midi/learn', { method: 'POST', body: { path } });
      toast(`Move a control on your MIDI device to map ${path}.`, { kind: 'info' });
    } catch (error) {
      if (armed === target) disarm();
      toast(describe(error));
    }
  }

  for (const type of ['pointerdown', 'mousedown', 'click', 'input', 'change']) {
    root.addEventListener(type, intercept, true);
  }
  return toggle;
}
