/**
 * The track page's practice panel: pitch, count-in, the step-up trainer with its pass counter,
 * and per-song presets. Pitch lives on the player (linkMixer sends it); count-in and the
 * trainer live only in the mixer session, so their inputs send `control` ops and show what
 * the session says (another tab, a MIDI knob, a loaded preset).
 *
 * `startPlayback()` is the page's play: with a count-in set it clicks N beats (analysed BPM ×
 * rate, accent on the bar's first beat) and then plays from A (or from where the playhead is
 * without a loop); pressing play during the count-in cancels it.
 *
 * `window.__practice` exposes {sync, countIn, state} for the browser tests: `countIn.clicks`
 * are the scheduled clicks ({time, accent} on the AudioContext clock) and `state.countInEnd`
 * when playback is due.
 */

import { CountIn } from './practice-count-in.js';
import { bindPresets } from './practice-presets.js';
import { stateOf } from './practice-mixer.js';

const DEFAULT_BPM = 120;

/**
 * @param {{ player: import('./stem-player.js').StemPlayer, sync: import('./mixer-sync.js').MixerSync,
 *   trackId: string, bpm: number | null, beatsPerBar: number | null }} options
 * @returns {{ startPlayback: () => void }}
 */
export function bindPracticePanel({ player, sync, trackId, bpm, beatsPerBar }) {
  const $ = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
  const countIn = new CountIn(player.context);
  /** @type {{ countingIn: boolean, countInEnd: number, clicks: { time: number, accent: boolean }[] }} */
  const state = { countingIn: false, countInEnd: 0, clicks: [] };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  Object.assign(window, { __practice: { sync, countIn, state } });

  // -- pitch ------------------------------------------------------------------------------
  const pitch = $('pitch');
  pitch.addEventListener('input', () => player.setPitch(Number(pitch.value)));
  $('pitch-reset').addEventListener('click', () => player.setPitch(0));
  const showPitch = () => {
    if (document.activeElement !== pitch) pitch.value = String(player.pitch);
    const shown = Math.round(player.pitch * 10) / 10;
    $('pitch-value').textContent = `${shown > 0 ? '+' : ''}${shown} st`;
  };
  player.addEventListener('state', showPitch);

  // -- count-in and trainer: values of the session only -------------------------------------
  /** @type {[string, string, (value: number) => any, (value: any) => string][]} id, path, from input, to input */
  const fields = [
    ['count-in', 'practice.count_in', (v) => Math.round(v), String],
    ['trainer-step', 'practice.trainer.step', (v) => v / 100, (v) => String(Math.round(Number(v) * 100))],
    ['trainer-target', 'practice.trainer.target', (v) => v / 100, (v) => String(Math.round(Number(v) * 100))],
    ['trainer-every', 'practice.trainer.every', (v) => Math.round(v), String],
  ];
  for (const [id, path, fromInput] of fields) {
    const input = $(id);
    input.addEventListener('change', () => {
      if (input.validity.valid && input.value !== '') sync.control({ [path]: fromInput(Number(input.value)) });
    });
  }
  const trainer = $('trainer-enabled');
  trainer.addEventListener('change', () => sync.control({ 'practice.trainer.enabled': trainer.checked }));

  const showValues = () => {
    const values = sync.values;
    for (const [id, path, , toInput] of fields) {
      const input = $(id);
      if (path in values && document.activeElement !== input) input.value = toInput(values[path]);
    }
    trainer.checked = Boolean(values['practice.trainer.enabled']);
    const passes = Number(values['practice.passes'] ?? 0);
    $('trainer-passes').textContent = `${passes} pass${passes === 1 ? '' : 'es'}`;
  };
  sync.addEventListener('snapshot', showValues);
  sync.addEventListener('change', showValues);

  // -- presets ------------------------------------------------------------------------------
  bindPresets({
    trackId,
    player,
    values: () => sync.values,
    load: (values) => {
      sync.control(values); // one op: every surface follows
      player.apply(stateOf(sync.values, Object.keys(values), sync.playhead()));
    },
  });

  // -- play, with the count-in --------------------------------------------------------------
  const cancelCountIn = () => {
    clearTimeout(timer);
    countIn.cancel();
    state.countingIn = false;
    $('count-in-status').hidden = true;
  };

  const startPlayback = () => {
    if (state.countingIn) {
      cancelCountIn();
      return;
    }
    const beats = Number(sync.values['practice.count_in'] ?? 0);
    if (player.playing || beats <= 0) {
      player.toggle();
      return;
    }
    const loop = player.loop;
    if (loop) player.seek(loop.a);
    const context = /** @type {AudioContext} */ (player.context);
    if (context.state !== 'running') context.resume().catch(() => {}); // play() reports a refusal
    const { end, clicks } = countIn.schedule({ beats, bpm: bpm || DEFAULT_BPM, rate: player.rate, beatsPerBar: beatsPerBar || 4 });
    state.countingIn = true;
    state.countInEnd = end;
    state.clicks = clicks;
    const status = $('count-in-status');
    status.textContent = `Count-in: ${beats} beat${beats === 1 ? '' : 's'}…`;
    status.hidden = false;
    const wait = () => {
      const left = state.countInEnd - context.currentTime;
      if (left > 0.004) {
        timer = setTimeout(wait, Math.max(1, (left - 0.002) * 1000));
        return;
      }
      state.countingIn = false;
      status.hidden = true;
      player.play();
    };
    wait();
  };

  return { startPlayback };
}
