/**
 * The track page's player, kept in step with its mixer session (`mixer:<user>:track:<id>`):
 * what the musician changes on the StemPlayer goes to the server as control paths, and what
 * arrives from the server (another tab, OSC, MIDI, the API, the trainer) is applied to the
 * player with `apply()`, which marks it remote so it is not sent back.
 *
 * The mapping between the player and the paths (docs/studio.md):
 *
 *     stems[name].volume/mute/solo ↔ stem.<name>.volume/.mute/.solo
 *     master ↔ master.volume        rate ↔ rate        pitch ↔ pitch
 *     loop {a, b} (s) ↔ loop.enabled + loop.a_ms + loop.b_ms
 *     playing, seeks ↔ transport.playing, transport.position_ms (the server stamps anchor_at)
 *
 * While the player plays an A–B loop, every wrap is reported as `practice.loop_pass`: the
 * server counts passes and the step-up trainer raises `rate`, which comes back as a change.
 *
 *     const link = linkMixer(player, sync);
 *     link.hold();                 // while stems load: nothing is sent
 *     await player.load(stems);
 *     link.resume();               // the session's values onto the new stems, then follow
 */

/** Values closer than this are equal (sliders move in steps far larger). */
const EPSILON = 1e-6;

/**
 * The mixer values a player snapshot stands for (transport excluded: it is sent on events).
 * @param {import('./stem-player.js').PlayerSnapshot} state
 * @returns {Record<string, any>}
 */
export function valuesOf(state) {
  /** @type {Record<string, any>} */
  const values = { 'master.volume': state.master, rate: state.rate, pitch: state.pitch };
  for (const [name, stem] of Object.entries(state.stems)) {
    values[`stem.${name}.volume`] = stem.volume;
    values[`stem.${name}.mute`] = stem.mute;
    values[`stem.${name}.solo`] = stem.solo;
  }
  if (state.loop) {
    values['loop.a_ms'] = Math.round(state.loop.a * 1000);
    values['loop.b_ms'] = Math.round(state.loop.b * 1000);
    values['loop.enabled'] = true;
  } else {
    values['loop.enabled'] = false;
  }
  return values;
}

/**
 * The part of a player snapshot that `values` describe, for the paths in `changed`.
 * @param {Record<string, any>} values the session's values (all of them)
 * @param {Iterable<string>} changed paths that changed
 * @param {number} playheadMs where the session's playhead is now
 */
export function stateOf(values, changed, playheadMs) {
  /** @type {Partial<import('./stem-player.js').PlayerSnapshot> & { stems: Record<string, Record<string, any>> }} */
  const state = { stems: {} };
  let loop = false;
  let transport = false;
  for (const path of changed) {
    const stem = /^stem\.(.+)\.(volume|mute|solo)$/.exec(path);
    if (stem) (state.stems[stem[1]] ??= {})[stem[2]] = values[path];
    else if (path === 'master.volume') state.master = Number(values[path]);
    else if (path === 'rate' || path === 'pitch') state[path] = Number(values[path]);
    else if (path.startsWith('loop.')) loop = true;
    else if (path.startsWith('transport.')) transport = true;
  }
  const a = Number(values['loop.a_ms']);
  const b = Number(values['loop.b_ms']);
  const looping = Boolean(values['loop.enabled']) && b > a;
  if (loop) state.loop = looping ? { a: a / 1000, b: b / 1000 } : null;
  if (transport) {
    // The server's playhead wraps an enabled loop the same way (soundforge/studio/_semantics.py).
    const position = looping && playheadMs >= b ? a + ((playheadMs - a) % (b - a)) : playheadMs;
    state.time = Math.max(0, position / 1000);
    state.playing = Boolean(values['transport.playing']);
  }
  return state;
}

/**
 * @param {import('./stem-player.js').StemPlayer} player
 * @param {import('./mixer-sync.js').MixerSync} sync
 * @returns {{ hold: () => void, resume: () => void }}
 */
export function linkMixer(player, sync) {
  let held = true;
  let lastTime = -1;

  /** @param {Record<string, any>} values @param {Iterable<string>} changed */
  const applyRemote = (values, changed) => {
    player.apply(stateOf(values, changed, sync.playhead()));
  };

  sync.addEventListener('snapshot', (event) => {
    const { values } = /** @type {CustomEvent} */ (event).detail;
    applyRemote(values, Object.keys(values));
  });
  sync.addEventListener('change', (event) => {
    const { values, local } = /** @type {CustomEvent} */ (event).detail;
    if (!local) applyRemote(sync.values, Object.keys(values));
  });

  player.addEventListener('state', (event) => {
    const state = /** @type {CustomEvent} */ (event).detail;
    if (held || state.source !== 'local' || !(state.duration > 0)) return;
    /** @type {Record<string, any>} */
    const changed = {};
    for (const [path, value] of Object.entries(valuesOf(state))) {
      if (!same(sync.values[path], value)) changed[path] = value;
    }
    if (Boolean(sync.values['transport.playing']) !== state.playing) {
      changed['transport.position_ms'] = Math.round(state.time * 1000);
      changed['transport.playing'] = state.playing;
    }
    sync.control(ordered(changed));
  });
  player.addEventListener('seek', (event) => {
    const { time, source } = /** @type {CustomEvent} */ (event).detail;
    lastTime = -1; // a jump is not a loop pass
    if (!held && source === 'local') sync.control({ 'transport.position_ms': Math.round(time * 1000) });
  });
  // Each wrap of the A–B loop, reported by the tab that plays it.
  player.addEventListener('time', (event) => {
    const { time } = /** @type {CustomEvent} */ (event).detail;
    const loop = player.loop;
    if (!held && player.playing && loop && lastTime >= 0 && time < lastTime - 0.01) {
      sync.control({ 'practice.loop_pass': true });
    }
    lastTime = time;
  });

  return {
    hold() {
      held = true;
      lastTime = -1;
    },
    resume() {
      applyRemote(sync.values, Object.keys(sync.values));
      held = false;
    },
  };
}

/**
 * The values with `loop.enabled` and `transport.playing` last: the server applies a request's
 * stored values in order, and a loop is checked (b > a) as it is switched on.
 * @param {Record<string, any>} values
 */
function ordered(values) {
  const last = ['loop.enabled', 'transport.playing'].filter((path) => path in values);
  const first = Object.entries(values).filter(([path]) => !last.includes(path));
  return Object.fromEntries([...first, ...last.map((path) => [path, values[path]])]);
}

/**
 * @param {unknown} a
 * @param {unknown} b
 */
function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) < EPSILON;
  return a === b;
}
