/**
 * Range inputs as views of mixer values: a fader sends while the user moves it and shows the
 * session's value otherwise — but not while a finger or the mouse holds it, so a change
 * arriving from elsewhere (another tab, MIDI) does not yank the fader from under the hand.
 *
 *     const fader = bindFader(input, {
 *       toValue: (raw) => raw / 100,         // the input's number → the session's value
 *       fromValue: (value) => value * 100,   // and back
 *       send: (value) => sync.control({ 'deck.1.volume': value }),
 *     });
 *     fader.show(0.8);                       // from a mixer.changed
 */

/** Inputs being held by a pointer right now. */
const held = new WeakSet();

/**
 * @param {HTMLInputElement} input
 * @param {{ toValue: (raw: number) => number, fromValue: (value: number) => number,
 *           send: (value: number) => void, reset?: number }} options
 *   `reset`: the value a double click returns to (the knob's centre)
 * @returns {{ show: (value: number) => void }}
 */
export function bindFader(input, { toValue, fromValue, send, reset }) {
  input.addEventListener('pointerdown', () => {
    held.add(input);
    const release = () => {
      held.delete(input);
      removeEventListener('pointerup', release);
      removeEventListener('pointercancel', release);
    };
    addEventListener('pointerup', release);
    addEventListener('pointercancel', release);
  });
  input.addEventListener('input', () => send(toValue(Number(input.value))));
  if (reset !== undefined) {
    input.addEventListener('dblclick', () => {
      input.value = String(fromValue(reset));
      send(reset);
    });
  }
  return {
    show(value) {
      if (held.has(input) || !Number.isFinite(value)) return;
      input.value = String(fromValue(value));
    },
  };
}

/**
 * A percentage for a 0..1 level: "80 %".
 * @param {number} value
 */
export function percent(value) {
  return `${Math.round(value * 100)} %`;
}

/**
 * A tempo factor as the pitch fader's ±% (1.04 → "+4.0 %", 0.955 → "-4.5 %").
 * @param {number} rate
 */
export function tempoPercent(rate) {
  const change = (rate - 1) * 100;
  const text = Math.abs(change) < 0.05 ? '0.0' : change.toFixed(1);
  return `${change >= 0.05 ? '+' : change <= -0.05 ? '' : '±'}${text} %`;
}
