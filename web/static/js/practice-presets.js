/**
 * Per-song practice presets on the track page: save the current practice settings under a
 * name, load one, delete one (`/api/v1/tracks/<id>/practice-presets`, docs/practice.md).
 *
 * Saving reads the settings from the player (loop, rate, pitch) and the mixer session
 * (count-in, trainer) and PUTs them under the name (saving over a preset of that name).
 * Loading turns a preset into the mixer's control paths and sends them as one `control` op,
 * so every tab and surface follows; this page applies them to its player at once.
 */

import { api } from './api.js';
import { describe } from './app.js';

/**
 * @typedef {{ loop: { a_ms: number, b_ms: number } | null, count_in: number, rate: number, pitch: number,
 *   trainer: { enabled: boolean, step: number, target: number, every: number } }} PracticeSettings
 * @typedef {{ id: string, name: string, settings: PracticeSettings }} Preset
 */

/**
 * The mixer paths a preset sets (as soundforge.music.practice.PracticeSettings.mixer_values).
 * @param {PracticeSettings} settings
 * @returns {Record<string, any>}
 */
export function mixerValues(settings) {
  /** @type {Record<string, any>} */
  const values = {
    rate: settings.rate,
    pitch: settings.pitch,
    'practice.count_in': settings.count_in,
    'practice.trainer.enabled': settings.trainer.enabled,
    'practice.trainer.step': settings.trainer.step,
    'practice.trainer.target': settings.trainer.target,
    'practice.trainer.every': settings.trainer.every,
  };
  if (settings.loop) {
    values['loop.a_ms'] = settings.loop.a_ms;
    values['loop.b_ms'] = settings.loop.b_ms;
  }
  values['loop.enabled'] = Boolean(settings.loop);
  return values;
}

/**
 * The settings to save, from the player and the session's values.
 * @param {import('./stem-player.js').StemPlayer} player
 * @param {Record<string, any>} values
 * @returns {PracticeSettings}
 */
export function currentSettings(player, values) {
  const loop = player.loop;
  return {
    loop: loop ? { a_ms: Math.round(loop.a * 1000), b_ms: Math.round(loop.b * 1000) } : null,
    count_in: Number(values['practice.count_in'] ?? 0),
    rate: player.rate,
    pitch: player.pitch,
    trainer: {
      enabled: Boolean(values['practice.trainer.enabled']),
      step: Number(values['practice.trainer.step'] ?? 0.05),
      target: Number(values['practice.trainer.target'] ?? 1),
      every: Number(values['practice.trainer.every'] ?? 2),
    },
  };
}

/**
 * Binds the preset controls of the practice panel.
 * @param {{ trackId: string, player: import('./stem-player.js').StemPlayer,
 *   values: () => Record<string, any>, load: (values: Record<string, any>) => void }} options
 *   `load` sends a preset's values through the mixer and applies them here
 */
export function bindPresets({ trackId, player, values, load }) {
  const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const form = /** @type {HTMLFormElement} */ ($('preset-form'));
  const name = /** @type {HTMLInputElement} */ ($('preset-name'));
  const select = /** @type {HTMLSelectElement} */ ($('preset-select'));
  const message = $('preset-message');
  const base = `/api/v1/tracks/${encodeURIComponent(trackId)}/practice-presets`;
  /** @type {Preset[]} */
  let presets = [];

  /** @param {string} text */
  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  /** @param {string} [selected] */
  const refresh = async (selected = select.value) => {
    presets = await api(base);
    select.replaceChildren(...presets.map((preset) => new Option(preset.name, preset.id)));
    if (presets.some((preset) => preset.id === selected)) select.value = selected;
    select.disabled = presets.length === 0;
    for (const id of ['preset-load', 'preset-delete']) /** @type {HTMLButtonElement} */ ($(id)).disabled = !presets.length;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const wanted = name.value.trim();
    if (!wanted) return;
    try {
      const preset = await api(`${base}/${encodeURIComponent(wanted)}`, {
        method: 'PUT',
        body: { settings: currentSettings(player, values()) },
      });
      await refresh(preset.id);
      say(`Saved “${preset.name}”.`);
    } catch (error) {
      say(describe(error));
    }
  });
  $('preset-load').addEventListener('click', () => {
    const preset = presets.find((candidate) => candidate.id === select.value);
    if (!preset) return;
    load(mixerValues(preset.settings));
    name.value = preset.name;
    say(`Loaded “${preset.name}”.`);
  });
  $('preset-delete').addEventListener('click', async () => {
    const preset = presets.find((candidate) => candidate.id === select.value);
    if (!preset) return;
    try {
      await api(`${base}/${encodeURIComponent(preset.id)}`, { method: 'DELETE' });
      await refresh();
      say(`Deleted “${preset.name}”.`);
    } catch (error) {
      say(describe(error));
    }
  });
  return refresh().catch((error) => say(describe(error)));
}
