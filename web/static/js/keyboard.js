/**
 * Keyboard control of a StemPlayer, for hands that are on an instrument: play/pause, stem
 * select/mute/solo, an A–B loop in three presses, seek and speed. KEYMAP documents the map so
 * a help overlay can render it.
 *
 * Keys are ignored while the user types (inputs, textareas, selects, contenteditable) and when
 * Ctrl, Alt or Meta is held (those are the browser's). Digits are read from the physical key
 * (`event.code`), so Shift+1 means "stem 1" on every layout, not "!".
 *
 *     const keys = bindPlayerKeys(player, { onSelect: (name) => highlight(name), onLoop: (state) => show(state) });
 *     // later
 *     keys.unbind();
 */

/** @typedef {import('./stem-player.js').StemPlayer} StemPlayer */
/** @typedef {{ phase: 'a', a: number } | { phase: 'set', a: number, b: number } | { phase: 'cleared' }} LoopKeyState */

/** @type {ReadonlyArray<{ keys: string[], action: string }>} */
export const KEYMAP = Object.freeze([
  { keys: ['Space'], action: 'Play / pause' },
  { keys: ['1–6'], action: 'Select stem 1–6' },
  { keys: ['M'], action: 'Mute / unmute the selected stem' },
  { keys: ['Shift+1–6'], action: 'Mute / unmute stem 1–6' },
  { keys: ['S'], action: 'Solo / unsolo the selected stem' },
  { keys: ['L'], action: 'Loop: set A at the playhead, then B, then clear' },
  { keys: ['←', '→'], action: 'Back / forward 5 seconds' },
  { keys: ['[', ']'], action: 'Speed −5 % / +5 %' },
  { keys: ['0'], action: 'Speed back to 100 %' },
]);

const SEEK_STEP_SECONDS = 5;
const RATE_STEP = 0.05;

/**
 * @param {StemPlayer} player
 * @param {object} [options]
 * @param {string[]} [options.stemNames] stems in key order (1 = first); defaults to the player's, read at each key press
 * @param {(state: LoopKeyState) => void} [options.onLoop] after each L press
 * @param {(name: string) => void} [options.onSelect] when a digit selects a stem
 * @param {() => void} [options.toggle] what Space does (default: player.toggle(); a page with a count-in starts that)
 * @param {EventTarget} [options.target] where to listen (default: document)
 * @returns {{ unbind: () => void, readonly selected: string | null }}
 */
export function bindPlayerKeys(player, { stemNames, onLoop = () => {}, onSelect = () => {}, toggle = () => player.toggle(), target = document } = {}) {
  /** @type {string | null} */
  let selected = null;
  /** @type {number | null} loop start waiting for its end */
  let pendingA = null;

  /** @param {number} index 0-based */
  const stemAt = (index) => (stemNames ?? player.stems.map((stem) => stem.name))[index] ?? null;

  const pressL = () => {
    if (player.loop) {
      player.clearLoop();
      pendingA = null;
      onLoop({ phase: 'cleared' });
    } else if (pendingA === null) {
      pendingA = player.currentTime;
      onLoop({ phase: 'a', a: pendingA });
    } else {
      const a = pendingA;
      const b = player.currentTime;
      try {
        player.setLoop(a, b);
      } catch (error) {
        // Too short a loop (B pressed right after A): keep A and wait for a better B.
        if (error instanceof RangeError) return;
        throw error;
      }
      pendingA = null;
      onLoop({ phase: 'set', a: Math.min(a, b), b: Math.max(a, b) });
    }
  };

  /** @param {number} delta */
  const nudgeRate = (delta) => player.setRate(Math.round((player.rate + delta) * 100) / 100);

  /** @param {Event} event */
  const onKeyDown = (event) => {
    if (!(event instanceof KeyboardEvent) || event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    const action = actionFor(event);
    if (!action) return;
    if (action.type === 'toggle' && isControl(event.target)) return; // let Space press the focused button
    event.preventDefault();
    if (event.repeat && !action.repeats) return;
    switch (action.type) {
      case 'toggle':
        toggle();
        break;
      case 'select': {
        const name = stemAt(action.index);
        if (name) {
          selected = name;
          onSelect(name);
        }
        break;
      }
      case 'mute-stem': {
        const name = stemAt(action.index);
        if (name) player.toggleMute(name);
        break;
      }
      case 'mute':
        if (selected) player.toggleMute(selected);
        break;
      case 'solo':
        if (selected) player.toggleSolo(selected);
        break;
      case 'loop':
        pressL();
        break;
      case 'seek':
        player.seek(player.currentTime + action.delta);
        break;
      case 'rate':
        nudgeRate(action.delta);
        break;
      case 'rate-reset':
        player.setRate(1);
        break;
    }
  };

  target.addEventListener('keydown', onKeyDown);
  return {
    unbind: () => target.removeEventListener('keydown', onKeyDown),
    get selected() {
      return selected;
    },
  };
}

/**
 * What a key press means, or null for keys that are not ours.
 * @param {KeyboardEvent} event
 * @returns {({ repeats?: boolean } & ({ type: 'toggle' | 'mute' | 'solo' | 'loop' | 'rate-reset' }
 *   | { type: 'select' | 'mute-stem', index: number } | { type: 'seek' | 'rate', delta: number })) | null}
 */
function actionFor(event) {
  const digit = /^(?:Digit|Numpad)([0-9])$/.exec(event.code)?.[1];
  if (digit === '0' && !event.shiftKey) return { type: 'rate-reset' };
  if (digit && digit >= '1' && digit <= '6') {
    return { type: event.shiftKey ? 'mute-stem' : 'select', index: Number(digit) - 1 };
  }
  if (event.code === 'Space' || event.key === ' ') return { type: 'toggle' };
  switch (event.key) {
    case 'ArrowLeft':
      return { type: 'seek', delta: -SEEK_STEP_SECONDS, repeats: true };
    case 'ArrowRight':
      return { type: 'seek', delta: SEEK_STEP_SECONDS, repeats: true };
    case '[':
      return { type: 'rate', delta: -RATE_STEP, repeats: true };
    case ']':
      return { type: 'rate', delta: RATE_STEP, repeats: true };
  }
  switch (event.key.toLowerCase()) {
    case 'm':
      return { type: 'mute' };
    case 's':
      return { type: 'solo' };
    case 'l':
      return { type: 'loop' };
  }
  return null;
}

/**
 * True where keys belong to text entry (or a slider's arrows).
 * @param {EventTarget | null} target
 */
function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target instanceof HTMLElement && target.isContentEditable) return true;
  return target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]') !== null;
}

/**
 * True for focused controls that Space activates.
 * @param {EventTarget | null} target
 */
function isControl(target) {
  return target instanceof Element && target.closest('button, a[href], summary, [role="button"], [role="switch"], [role="checkbox"]') !== null;
}
