/**
 * Deterministic checks that need no sound card: the engine (mixer, loop, WSOLA) rendered block
 * by block on the main thread, the playhead clock with a hand-driven clock, the formatters,
 * the keyboard map against a fake player, and the waveform view on a canvas.
 *
 * Each check returns a short detail string, or throws an Error saying what was wrong.
 */

import { camelotColor, formatBpm, formatDb, formatTime } from '../js/format.js';
import { bindPlayerKeys, KEYMAP } from '../js/keyboard.js';
import { PlayheadClock } from '../js/playhead-clock.js';
import { StemEngine } from '../js/stem-engine.js';
import { WaveformView } from '../js/waveform.js';
import { snapToBeat } from '../js/waveform-data.js';
import { zeroCrossingFrequency } from './audio-fixtures.js';

const SAMPLE_RATE = 48000;

/**
 * @param {unknown} condition
 * @param {string} message
 * @returns {asserts condition}
 */
export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * @param {number} actual
 * @param {number} expected
 * @param {number} tolerance
 * @param {string} what
 */
export function near(actual, expected, tolerance, what) {
  assert(Math.abs(actual - expected) <= tolerance, `${what} was ${actual.toFixed(4)}, expected ${expected} ± ${tolerance}`);
}

/**
 * @param {number} frequency
 * @param {number} seconds
 * @param {number} [amplitude]
 */
function sine(frequency, seconds, amplitude = 0.5) {
  const samples = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  for (let i = 0; i < samples.length; i++) samples[i] = amplitude * Math.sin((2 * Math.PI * frequency * i) / SAMPLE_RATE);
  return samples;
}

/**
 * Renders `frames` frames in 128-frame blocks; `at[frame]` runs before the block starting there.
 * @param {StemEngine} engine
 * @param {number} frames
 * @param {Record<number, () => void>} [at]
 */
function renderEngine(engine, frames, at = {}) {
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  const blockLeft = new Float32Array(128);
  const blockRight = new Float32Array(128);
  for (let offset = 0; offset < frames; offset += 128) {
    at[offset]?.();
    engine.render(blockLeft, blockRight, offset / SAMPLE_RATE);
    const run = Math.min(128, frames - offset);
    left.set(blockLeft.subarray(0, run), offset);
    right.set(blockRight.subarray(0, run), offset);
  }
  return { left, right };
}

/** @param {Float32Array} samples */
function largestStep(samples) {
  let largest = 0;
  for (let i = 1; i < samples.length; i++) largest = Math.max(largest, Math.abs(samples[i] - samples[i - 1]));
  return largest;
}

/** @param {{ type: string }[]} [reports] */
function newEngine(reports = []) {
  return new StemEngine({ sampleRate: SAMPLE_RATE, post: (report) => reports.push(report) });
}

/** @type {Record<string, () => string | Promise<string>>} */
export const unitChecks = {
  'engine: rate 1 mixes bit-exactly'() {
    const engine = newEngine();
    const bass = sine(110, 1, 0.3);
    const vocals = sine(440, 1, 0.4);
    engine.handle({ type: 'stem', name: 'bass', channels: [bass] });
    engine.handle({ type: 'stem', name: 'vocals', channels: [vocals, vocals] });
    engine.handle({ type: 'play', epoch: 1 });
    const { left, right } = renderEngine(engine, SAMPLE_RATE / 2);
    const fade = Math.round(SAMPLE_RATE * 0.005); // the start fades in
    let mismatches = 0;
    for (let i = fade; i < left.length; i++) {
      const expected = Math.fround(Math.fround(bass[i]) + vocals[i]);
      if (left[i] !== expected || right[i] !== expected) mismatches++;
    }
    assert(mismatches === 0, `${mismatches} samples differ from the plain sum`);
    return `${left.length - fade} samples equal the plain sum of the stems`;
  },

  'engine: A–B loop wraps sample-accurately'() {
    const engine = newEngine();
    const ramp = new Float32Array(SAMPLE_RATE).map((_, i) => i / SAMPLE_RATE);
    engine.handle({ type: 'stem', name: 'ramp', channels: [ramp] });
    engine.handle({ type: 'loop', loop: { a: 1000, b: 3000 }, epoch: 1 });
    engine.handle({ type: 'play', epoch: 2 });
    const rendered = 70 * 128;
    const { left } = renderEngine(engine, rendered);
    const fade = Math.round(SAMPLE_RATE * 0.005);
    const checks = [
      [2999, 2999], // last frame before B
      [3000 + fade, 1000 + fade], // first pass after the seam crossfade
      [5000 + fade + 7, 1000 + fade + 7], // second pass
      [4999, 2999],
    ];
    for (const [output, source] of checks) {
      assert(left[output] === ramp[source], `output frame ${output} is ${left[output]}, expected source frame ${source} (${ramp[source]})`);
    }
    near(engine.time * SAMPLE_RATE, 1000 + ((rendered - 3000) % 2000), 0.5, 'engine position (frames)');
    return 'B jumps to A on the exact frame, every pass, with a 5 ms seam crossfade';
  },

  'engine: WSOLA keeps the pitch of a 440 Hz sine'() {
    const details = [];
    for (const rate of [0.5, 0.75, 1.5]) {
      const engine = newEngine();
      engine.handle({ type: 'stem', name: 'tone', channels: [sine(440, 4)] });
      engine.handle({ type: 'rate', rate });
      engine.handle({ type: 'play', epoch: 1 });
      const { left } = renderEngine(engine, 2 * SAMPLE_RATE);
      const frequency = zeroCrossingFrequency(left.subarray(SAMPLE_RATE / 10), SAMPLE_RATE);
      near(frequency, 440, 440 * 0.01, `frequency at rate ${rate}`);
      near(engine.time, 2 * rate, 0.01, `source seconds after 2 s at rate ${rate}`);
      // A sine this loud changes by at most 2π·440/48000·0.5 ≈ 0.029 per sample; more is a click.
      assert(largestStep(left) < 0.035, `a click at rate ${rate}: step ${largestStep(left).toFixed(3)}`);
      details.push(`${rate}× → ${frequency.toFixed(1)} Hz`);
    }
    return details.join(', ');
  },

  'engine: pitch shift moves the frequency by 2^(s/12); the tempo follows only the rate'() {
    const details = [];
    for (const [rate, semitones] of [[1, 7], [1, -12], [0.75, 5], [1.5, -3], [0.5, 12], [1, 0.5]]) {
      const engine = newEngine();
      engine.handle({ type: 'stem', name: 'tone', channels: [sine(440, 6)] });
      engine.handle({ type: 'rate', rate });
      engine.handle({ type: 'pitch', semitones });
      engine.handle({ type: 'play', epoch: 1 });
      const { left } = renderEngine(engine, 2 * SAMPLE_RATE);
      const expected = 440 * 2 ** (semitones / 12);
      const frequency = zeroCrossingFrequency(left.subarray(SAMPLE_RATE / 10), SAMPLE_RATE);
      near(frequency, expected, expected * 0.002, `frequency at rate ${rate}, ${semitones} semitones`);
      near(engine.time, 2 * rate, 0.01, `source seconds after 2 s at rate ${rate}, ${semitones} semitones`);
      const ownStep = ((2 * Math.PI * expected) / SAMPLE_RATE) * 0.5;
      const step = largestStep(left.subarray(SAMPLE_RATE / 10));
      assert(step < ownStep * 1.05, `a click at rate ${rate}, ${semitones} semitones: step ${step.toFixed(4)}`);
      details.push(`${rate}×/${semitones > 0 ? '+' : ''}${semitones} → ${frequency.toFixed(1)} Hz`);
    }
    return details.join(', ');
  },

  'engine: pitch changes while playing (and through loops, seeks, pauses) are click-free'() {
    /** @type {any[]} */
    const reports = [];
    const engine = newEngine(reports);
    const frequencies = [110, 220, 330, 550];
    frequencies.forEach((frequency, index) => engine.handle({ type: 'stem', name: `s${index}`, channels: [sine(frequency, 10, 0.2)] }));
    engine.handle({ type: 'play', epoch: 1 });
    const block = 128;
    const { left } = renderEngine(engine, block * 900, {
      [block * 100]: () => engine.handle({ type: 'pitch', semitones: 3 }),
      [block * 150]: () => engine.handle({ type: 'pitch', semitones: 4.5 }),
      [block * 200]: () => engine.handle({ type: 'rate', rate: 0.8 }),
      [block * 250]: () => engine.handle({ type: 'seek', frame: 3.3 * SAMPLE_RATE, epoch: 2 }),
      [block * 300]: () => engine.handle({ type: 'loop', loop: { a: 4 * SAMPLE_RATE, b: 4.2 * SAMPLE_RATE }, epoch: 3 }),
      [block * 400]: () => engine.handle({ type: 'pitch', semitones: -7 }),
      [block * 450]: () => engine.handle({ type: 'pause', epoch: 4 }),
      [block * 500]: () => engine.handle({ type: 'play', epoch: 5 }),
      [block * 550]: () => engine.handle({ type: 'pitch', semitones: 0 }),
      [block * 600]: () => engine.handle({ type: 'rate', rate: 1 }),
      [block * 650]: () => engine.handle({ type: 'pitch', semitones: -2 }),
    });
    // The highest pitch (+4.5) sets the largest natural step of the mix.
    const limit = ((2 * Math.PI * 0.2) / SAMPLE_RATE) * frequencies.reduce((a, b) => a + b, 0) * 2 ** (4.5 / 12) * 1.05;
    const step = largestStep(left);
    assert(step <= limit, `largest sample step ${step.toFixed(4)} exceeds the signal's own ${limit.toFixed(4)}`);
    const times = reports.filter((report) => report.type === 'time').map((report) => report.time);
    const looped = times.slice(times.findIndex((time) => time >= 4));
    assert(times.some((time) => time >= 4) && looped.length >= 10, `${looped.length} reports once in the loop`);
    assert(looped.every((time) => time >= 4 - 1e-6 && time <= 4.2 + 1e-6), `left the loop: ${looped.filter((time) => time > 4.2)}`);
    return `largest step ${step.toFixed(4)} ≤ ${limit.toFixed(4)}; ${looped.length} reports inside the loop`;
  },

  'engine: mute, solo, seek, pause and rate switches are click-free'() {
    const engine = newEngine();
    const frequencies = [110, 220, 330, 550];
    frequencies.forEach((frequency, index) => engine.handle({ type: 'stem', name: `s${index}`, channels: [sine(frequency, 10, 0.2)] }));
    engine.handle({ type: 'play', epoch: 1 });
    const block = 128;
    const { left } = renderEngine(engine, block * 700, {
      [block * 100]: () => engine.handle({ type: 'controls', stems: { s0: { mute: true } } }),
      [block * 150]: () => engine.handle({ type: 'controls', stems: { s1: { solo: true } } }),
      [block * 200]: () => engine.handle({ type: 'seek', frame: 3.3 * SAMPLE_RATE, epoch: 2 }),
      [block * 300]: () => engine.handle({ type: 'rate', rate: 0.8 }),
      [block * 400]: () => engine.handle({ type: 'loop', loop: { a: 4 * SAMPLE_RATE, b: 4.2 * SAMPLE_RATE }, epoch: 3 }),
      [block * 500]: () => engine.handle({ type: 'pause', epoch: 4 }),
      [block * 520]: () => engine.handle({ type: 'rate', rate: 1 }), // paused at a fractional position
      [block * 550]: () => engine.handle({ type: 'play', epoch: 5 }),
      [block * 600]: () => engine.handle({ type: 'rate', rate: 0.7 }),
      [block * 650]: () => engine.handle({ type: 'controls', master: 0.3 }),
    });
    const limit = ((2 * Math.PI * 0.2) / SAMPLE_RATE) * frequencies.reduce((a, b) => a + b, 0) * 1.05;
    const step = largestStep(left);
    assert(step <= limit, `largest sample step ${step.toFixed(4)} exceeds the signal's own ${limit.toFixed(4)}`);
    // Soloed s1 (220 Hz) alone at the end.
    const tail = left.subarray(block * 680);
    near(zeroCrossingFrequency(tail, SAMPLE_RATE), 220, 3, 'frequency while s1 is soloed');
    return `largest step ${step.toFixed(4)} ≤ ${limit.toFixed(4)}`;
  },

  'engine: reports time ~30×/s and the end of the track'() {
    /** @type {any[]} */
    const reports = [];
    const engine = newEngine(reports);
    engine.handle({ type: 'stem', name: 'tone', channels: [sine(440, 1)] });
    engine.handle({ type: 'play', epoch: 7 });
    renderEngine(engine, 2 * SAMPLE_RATE);
    const times = reports.filter((report) => report.type === 'time' && report.playing);
    const ended = reports.filter((report) => report.type === 'ended');
    assert(times.length >= 27 && times.length <= 33, `${times.length} time reports in 1 s of playing`);
    assert(ended.length === 1 && ended[0].epoch === 7 && ended[0].time === 1, `ended reports: ${JSON.stringify(ended)}`);
    assert(!engine.playing, 'still playing after the end');
    return `${times.length} reports in 1 s, one 'ended'`;
  },

  'playhead clock: interpolates, wraps loops, stops when reports stop'() {
    let now = 100;
    const clock = new PlayheadClock(() => now);
    clock.setDuration(60);
    clock.anchor(10);
    clock.setPlaying(true);
    now += 0.1;
    near(clock.read(), 10.1, 1e-9, 'after 0.1 s');
    clock.setRate(0.5);
    now += 0.2;
    near(clock.read(), 10.2, 1e-9, 'after 0.2 s more at half speed');
    clock.setLoop({ a: 10, b: 10.25 });
    clock.anchor(10.2); // a report from the engine
    now += 0.2;
    near(clock.read(), 10.05, 1e-9, 'wrapped at the loop end');
    now += 10;
    assert(clock.read() < 10.25, 'ran past the loop without reports');
    clock.setPlaying(false);
    const paused = clock.read();
    now += 1;
    assert(clock.read() === paused, 'moved while paused');
    return 'ok';
  },

  'format helpers'() {
    /** @type {[unknown, unknown][]} */
    const cases = [
      [formatTime(75.34), '1:15.3'],
      [formatTime(0), '0:00.0'],
      [formatTime(59.96), '0:59.9'],
      [formatTime(3725), '62:05.0'],
      [formatTime(1.3), '0:01.3'],
      [formatTime(NaN), '–:––.–'],
      [formatBpm(127.96), '128 BPM'],
      [formatBpm(87.5), '87.5 BPM'],
      [formatBpm(null), '– BPM'],
      [formatDb(-6), '-6.0 dB'],
      [formatDb(1.5), '+1.5 dB'],
      [formatDb(-0.01), '0.0 dB'],
      [formatDb(-Infinity), '-∞ dB'],
      [formatDb(-14.23, { unit: 'LUFS' }), '-14.2 LUFS'],
      [camelotColor('8B'), 'hsl(150 70% 62%)'],
      [camelotColor('8a'), 'hsl(150 65% 40%)'],
      [camelotColor('9A'), 'hsl(180 65% 40%)'],
      [camelotColor('13A'), null],
    ];
    const wrong = cases.filter(([actual, expected]) => actual !== expected);
    assert(wrong.length === 0, `wrong: ${wrong.map(([actual, expected]) => `${actual} ≠ ${expected}`).join('; ')}`);
    const hues = new Set(Array.from({ length: 12 }, (_, i) => camelotColor(`${i + 1}A`)));
    assert(hues.size === 12, 'Camelot colours are not 12 distinct hues');
    return `${cases.length} cases`;
  },

  'keyboard: the documented keys drive the player'() {
    const calls = /** @type {string[]} */ ([]);
    const fake = {
      currentTime: 10,
      rate: 1,
      /** @type {{ a: number, b: number } | null} */
      loop: null,
      stems: ['vocals', 'drums', 'bass', 'other'].map((name) => ({ name })),
      toggle: () => calls.push('toggle'),
      toggleMute: (/** @type {string} */ name) => calls.push(`mute ${name}`),
      toggleSolo: (/** @type {string} */ name) => calls.push(`solo ${name}`),
      seek: (/** @type {number} */ time) => calls.push(`seek ${time}`),
      setRate(/** @type {number} */ rate) {
        this.rate = rate;
        calls.push(`rate ${rate}`);
      },
      setLoop(/** @type {number} */ a, /** @type {number} */ b) {
        this.loop = { a, b };
        calls.push(`loop ${a}-${b}`);
      },
      clearLoop() {
        this.loop = null;
        calls.push('clear');
      },
    };
    const target = document.createElement('div');
    document.body.append(target);
    const loops = /** @type {string[]} */ ([]);
    const keys = bindPlayerKeys(/** @type {any} */ (fake), { target, onLoop: (state) => loops.push(state.phase) });
    /** @param {string} key @param {string} code @param {KeyboardEventInit} [extra] @param {EventTarget} [on] */
    const press = (key, code, extra = {}, on = target) =>
      on.dispatchEvent(new KeyboardEvent('keydown', { key, code, bubbles: true, cancelable: true, ...extra }));
    press(' ', 'Space');
    press('2', 'Digit2');
    press('m', 'KeyM');
    press('s', 'KeyS');
    press('!', 'Digit1', { shiftKey: true });
    press('ArrowRight', 'ArrowRight');
    press(']', 'BracketRight');
    press('[', 'BracketLeft');
    press('[', 'BracketLeft');
    press('0', 'Digit0');
    press('l', 'KeyL');
    fake.currentTime = 14;
    press('l', 'KeyL');
    press('l', 'KeyL');
    press('m', 'KeyM', { ctrlKey: true }); // the browser's
    const input = document.createElement('input');
    target.append(input);
    press(' ', 'Space', {}, input); // typing
    keys.unbind();
    press(' ', 'Space');
    target.remove();
    const expected = [
      'toggle', 'mute drums', 'solo drums', 'mute vocals', 'seek 15', 'rate 1.05', 'rate 1', 'rate 0.95', 'rate 1',
      'loop 10-14', 'clear',
    ];
    assert(JSON.stringify(calls) === JSON.stringify(expected), `calls were ${JSON.stringify(calls)}`);
    assert(JSON.stringify(loops) === JSON.stringify(['a', 'set', 'cleared']), `loop phases were ${loops}`);
    assert(keys.selected === 'drums', `selected ${keys.selected}`);
    assert(KEYMAP.length >= 9 && KEYMAP.every((entry) => entry.keys.length && entry.action), 'KEYMAP incomplete');
    return `${calls.length} actions as documented in KEYMAP`;
  },

  async 'waveform: draws the analysis; click seeks; shift-drag selects a beat-snapped loop'() {
    const canvas = document.createElement('canvas');
    canvas.style.cssText = 'width: 600px; height: 120px; display: block';
    document.body.append(canvas);
    const view = new WaveformView(canvas, { snap: true });
    const duration = 10;
    const bins = 600;
    const data = [];
    for (let i = 0; i < bins; i++) data.push(-60 - (i % 50), 60 + (i % 50));
    view.setAnalysis({
      duration_ms: duration * 1000,
      waveform: { sample_rate: 44100, bits: 8, levels: [{ samples_per_pixel: Math.ceil((duration * 44100) / bins), length: bins, data }] },
      rhythm: { beats_ms: Array.from({ length: 20 }, (_, i) => i * 500), downbeats_ms: Array.from({ length: 5 }, (_, i) => i * 2000) },
      structure: [
        { start_ms: 0, end_ms: 4000, label: 'intro', energy: 0.3 },
        { start_ms: 4000, end_ms: 10000, label: 'chorus', energy: 0.9 },
      ],
      markers: [{ position_ms: 4000, kind: 'drop' }],
    });
    view.setCues([{ position_ms: 7000, label: 'solo', color: '#3a3' }]);
    view.time = 5;
    view.loop = { a: 6, b: 8 };
    await frames(3);
    const seeks = /** @type {number[]} */ ([]);
    const loops = /** @type {{ a: number, b: number }[]} */ ([]);
    view.addEventListener('seek', (event) => seeks.push(/** @type {CustomEvent} */ (event).detail.seconds));
    view.addEventListener('loopselect', (event) => loops.push(/** @type {CustomEvent} */ (event).detail));
    const rect = canvas.getBoundingClientRect();
    /** @param {string} type @param {number} x @param {PointerEventInit} [extra] */
    const pointer = (type, x, extra = {}) =>
      canvas.dispatchEvent(new PointerEvent(type, { clientX: rect.left + x, clientY: rect.top + 80, pointerId: 1, pointerType: 'mouse', bubbles: true, ...extra }));
    pointer('pointerdown', 150);
    pointer('pointerup', 150);
    pointer('pointerdown', 62, { shiftKey: true }); // 1.03 s → snaps to 1.0
    pointer('pointermove', 200, { shiftKey: true });
    pointer('pointerup', 209, { shiftKey: true }); // 3.48 s → snaps to 3.5
    near(seeks[0] ?? NaN, 2.5, 0.02, 'seek from a click at 1/4 of the width');
    assert(loops.length === 1, `${loops.length} loop selections`);
    near(loops[0].a, 1, 1e-9, 'loop start snapped to a beat');
    near(loops[0].b, 3.5, 1e-9, 'loop end snapped to a beat');

    const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    const dpr = canvas.width / 600;
    const pixel = (/** @type {number} */ x, /** @type {number} */ y) => [...context.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data];
    const played = pixel(100, 69); // waveform centre, before the playhead
    const unplayed = pixel(350, 69); // after the playhead (5 s), before the loop (6 s)
    assert(played.join() !== unplayed.join(), `played and unplayed parts look alike: ${played} / ${unplayed}`);
    view.destroy();
    canvas.remove();
    return `canvas ${canvas.width}×${canvas.height}, seek ${seeks[0].toFixed(2)} s, loop ${loops[0].a}–${loops[0].b} s`;
  },

  async 'waveform: without analysis shows a flat line'() {
    const canvas = document.createElement('canvas');
    canvas.style.cssText = 'width: 300px; height: 80px; display: block';
    document.body.append(canvas);
    const view = new WaveformView(canvas);
    view.setAnalysis(null);
    await frames(3);
    view.duration = 42;
    view.setAnalysis({ duration_ms: 42000, waveform: null, rhythm: null, structure: [], markers: [] });
    await frames(3);
    const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    const dpr = canvas.width / 300;
    const middleY = Math.round((18 + (80 - 18) / 2) * dpr);
    const row = context.getImageData(0, middleY, canvas.width, 1).data;
    const background = context.getImageData(0, canvas.height - 1, 1, 1).data;
    let lineColumns = 0;
    for (let x = 0; x < canvas.width; x++) if (row[4 * x] !== background[0]) lineColumns++;
    assert(lineColumns > canvas.width * 0.9, `the flat line covers ${lineColumns} of ${canvas.width} columns`);
    assert(snapToBeat(1.03, [1000, 2000]) === 1 && snapToBeat(1.2, [1000, 2000]) === 1.2, 'snapToBeat');
    view.destroy();
    canvas.remove();
    return 'flat line drawn, no exceptions';
  },
};

/** @param {number} count */
function frames(count) {
  return new Promise((resolve) => {
    const step = () => (count-- <= 0 ? resolve(undefined) : requestAnimationFrame(step));
    step();
  });
}
