/**
 * The stem player's test page: first the deterministic checks (unit-checks.js), then the whole
 * player in a real AudioContext — synthetic sine stems (a different frequency per stem) are
 * rendered offline, encoded as WAV, loaded through object URLs and played, and the output is
 * measured with an AnalyserNode tapped off `player.outputNode`.
 *
 * Results go to `window.__results` = [{name, ok, detail}] and the page, and the title becomes
 * "done" at the end (run_player_test.py drives this headless). Open test/player.html from a
 * server on localhost to watch it in a browser.
 */

import { StemPlayer } from '../js/stem-player.js';
import { dominantFrequency, encodeWav, levelAt, renderSine } from './audio-fixtures.js';
import { assert, near, unitChecks } from './unit-checks.js';

const STEMS = [
  { name: 'bass', frequency: 220 },
  { name: 'vocals', frequency: 440 },
  { name: 'other', frequency: 1000 },
  { name: 'drums', frequency: 1500 },
];
const SECONDS = 6;
/** Time for a mixer change to reach the analyser's window (gain glide + FFT length). */
const SETTLE_MS = 400;

/** @type {{ name: string, ok: boolean, detail: string }[]} */
const results = [];
Object.assign(window, { __results: results });

/**
 * @param {string} name
 * @param {() => unknown} body returns a detail string, throws on failure
 * @param {number} [timeoutMs]
 */
async function check(name, body, timeoutMs = 20000) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timedOut = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    const detail = await Promise.race([body(), timedOut]);
    results.push({ name, ok: true, detail: String(detail ?? '') });
  } catch (error) {
    results.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
  } finally {
    clearTimeout(timer);
  }
  const result = results[results.length - 1];
  const line = document.createElement('li');
  line.className = result.ok ? 'ok' : 'failed';
  line.textContent = `${result.ok ? 'ok' : 'FAILED'} — ${result.name}: ${result.detail}`;
  document.querySelector('#results')?.append(line);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {() => boolean} condition
 * @param {number} timeoutMs
 * @param {string} what
 */
async function waitFor(condition, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Collects an event's details while `body` runs.
 * @param {EventTarget} target
 * @param {string} type
 * @param {() => Promise<unknown>} body
 * @returns {Promise<any[]>}
 */
async function collect(target, type, body) {
  /** @type {any[]} */
  const details = [];
  const listener = (/** @type {Event} */ event) => details.push(/** @type {CustomEvent} */ (event).detail);
  target.addEventListener(type, listener);
  try {
    await body();
  } finally {
    target.removeEventListener(type, listener);
  }
  return details;
}

/**
 * Levels (dB) of every stem's frequency in the output now.
 * @param {AnalyserNode} analyser
 */
function stemLevels(analyser) {
  return Object.fromEntries(STEMS.map(({ name, frequency }) => [name, levelAt(analyser, frequency)]));
}

/** @param {Record<string, number>} levels */
const showLevels = (levels) => Object.entries(levels).map(([name, db]) => `${name} ${db.toFixed(0)}`).join(' ');

async function main() {
  for (const [name, body] of Object.entries(unitChecks)) await check(name, body);

  const player = new StemPlayer();
  const context = /** @type {AudioContext} */ (player.context);
  const analyser = new AnalyserNode(context, { fftSize: 8192, smoothingTimeConstant: 0 });
  player.outputNode.connect(analyser);
  const buffers = await Promise.all(STEMS.map(({ frequency }) => renderSine(frequency, SECONDS, context.sampleRate)));
  const urls = buffers.map((buffer) => URL.createObjectURL(encodeWav(buffer)));
  const sources = STEMS.map(({ name }, index) => ({ name, url: urls[index] }));
  /** @type {any[]} */
  const errors = [];
  player.addEventListener('error', (event) => errors.push(/** @type {CustomEvent} */ (event).detail));

  await check('load: progress events, duration, stems in order', async () => {
    const progress = await collect(player, 'loadprogress', () => player.load(sources));
    const last = progress[progress.length - 1];
    assert(progress.length > 0 && last.loaded === last.total && last.total > 0, `progress ${JSON.stringify(last)}`);
    near(player.duration, SECONDS, 0.001, 'duration (s)');
    const names = player.stems.map((stem) => stem.name);
    assert(names.join() === STEMS.map((stem) => stem.name).join(), `stems ${names}`);
    assert(errors.length === 0, `errors: ${JSON.stringify(errors)}`);
    return `${progress.length} progress events, ${last.total} bytes, ${player.duration.toFixed(3)} s at ${context.sampleRate} Hz`;
  });

  await check('play() resumes a suspended context; playback advances context time and playhead', async () => {
    await context.suspend();
    player.play();
    await waitFor(() => context.state === 'running', 3000, 'the context to run');
    const [contextStart, playheadStart] = [context.currentTime, player.currentTime];
    const reports = await collect(player, 'time', () => sleep(1000));
    const contextElapsed = context.currentTime - contextStart;
    const playheadElapsed = player.currentTime - playheadStart;
    near(contextElapsed, 1, 0.15, 'context seconds in 1 s');
    near(playheadElapsed, contextElapsed, 0.06, 'playhead seconds per context second');
    assert(reports.length >= 20, `${reports.length} time reports in 1 s`);
    return `context +${contextElapsed.toFixed(3)} s, playhead +${playheadElapsed.toFixed(3)} s, ${reports.length} reports`;
  });

  await check('mute and solo change the output', async () => {
    await sleep(SETTLE_MS);
    const all = stemLevels(analyser);
    assert(Object.values(all).every((db) => db > -50), `not every stem audible: ${showLevels(all)}`);
    player.setMute('vocals', true);
    await sleep(SETTLE_MS);
    const muted = stemLevels(analyser);
    assert(all.vocals - muted.vocals > 40, `muting vocals: ${showLevels(all)} → ${showLevels(muted)}`);
    near(muted.bass, all.bass, 3, 'bass level while vocals are muted (dB)');
    player.setMute('vocals', false);
    player.setSolo('bass', true);
    await sleep(SETTLE_MS);
    const solo = stemLevels(analyser);
    for (const name of ['vocals', 'other', 'drums']) {
      assert(all[name] - solo[name] > 40, `soloing bass left ${name}: ${showLevels(solo)}`);
    }
    near(solo.bass, all.bass, 3, 'bass level while soloed (dB)');
    player.setSolo('bass', false);
    return `all: ${showLevels(all)}; vocals muted: ${showLevels(muted)}; bass solo: ${showLevels(solo)} (dB)`;
  });

  await check('rate 0.5 keeps the pitch of the 440 Hz stem; the playhead runs at half speed', async () => {
    player.setSolo('vocals', true);
    player.setRate(0.5);
    player.seek(1);
    await sleep(SETTLE_MS + 100);
    const frequency = dominantFrequency(analyser);
    const [contextStart, playheadStart] = [context.currentTime, player.currentTime];
    await sleep(1000);
    const speed = (player.currentTime - playheadStart) / (context.currentTime - contextStart);
    player.setRate(1);
    player.setSolo('vocals', false);
    near(frequency, 440, 440 * 0.02, 'dominant frequency (Hz) at rate 0.5');
    near(speed, 0.5, 0.05, 'playhead speed at rate 0.5');
    return `${frequency.toFixed(1)} Hz, playhead speed ${speed.toFixed(3)}×`;
  });

  await check('pitch shift: +5 and −7 semitones move 440 Hz by 2^(s/12); the duration follows only the rate', async () => {
    player.setSolo('vocals', true);
    player.setRate(0.8);
    player.setPitch(5);
    player.seek(1);
    await sleep(SETTLE_MS + 100);
    const higher = dominantFrequency(analyser);
    const [contextStart, playheadStart] = [context.currentTime, player.currentTime];
    await sleep(1000);
    const speed = (player.currentTime - playheadStart) / (context.currentTime - contextStart);
    player.setPitch(-7);
    await sleep(SETTLE_MS + 100);
    const lower = dominantFrequency(analyser);
    // The last 1.2 s of the track at 0.8× take 1.5 s, shifted or not.
    /** @type {number[]} */
    const took = [];
    for (const semitones of [-7, 0, 12]) {
      player.setPitch(semitones);
      player.seek(SECONDS - 1.2);
      if (!player.playing) player.play();
      const start = context.currentTime;
      await waitFor(() => !player.playing, 4000, "the 'ended' event");
      took.push(context.currentTime - start);
    }
    player.setPitch(0);
    player.setRate(1);
    player.setSolo('vocals', false);
    player.play();
    near(higher, 440 * 2 ** (5 / 12), 440 * 2 ** (5 / 12) * 0.015, 'dominant frequency (Hz) at +5 semitones');
    near(lower, 440 * 2 ** (-7 / 12), 440 * 2 ** (-7 / 12) * 0.015, 'dominant frequency (Hz) at −7 semitones');
    near(speed, 0.8, 0.05, 'playhead speed at rate 0.8, +5 semitones');
    took.forEach((seconds, index) => near(seconds, 1.5, 0.12, `seconds to play the last 1.2 s at 0.8× (${[-7, 0, 12][index]} semitones)`));
    return `+5: ${higher.toFixed(1)} Hz, −7: ${lower.toFixed(1)} Hz, playhead ${speed.toFixed(3)}×, 1.2 s of source in ${took.map((t) => t.toFixed(2)).join(' / ')} s`;
  });

  await check('the A–B loop wraps', async () => {
    player.setLoop(2, 2.5);
    player.seek(2.1);
    /** @type {number[]} */
    const interpolated = [];
    const reports = await collect(player, 'time', async () => {
      for (let i = 0; i < 150; i++) {
        interpolated.push(player.currentTime);
        await sleep(10);
      }
    });
    player.clearLoop();
    const reported = reports.map((report) => report.time);
    const outside = [...reported, ...interpolated].filter((time) => time < 2 - 1e-6 || time > 2.5 + 1e-6);
    assert(outside.length === 0, `playhead outside the loop: ${outside.slice(0, 5).map((time) => time.toFixed(3))}`);
    const wraps = reported.filter((time, index) => index > 0 && time < reported[index - 1]).length;
    assert(wraps >= 2, `${wraps} wraps in ${reported.length} reports over 1.5 s`);
    return `${wraps} wraps; reported ${Math.min(...reported).toFixed(3)}–${Math.max(...reported).toFixed(3)} s`;
  });

  await check('seek moves the playhead at once, playing or paused', async () => {
    player.seek(4);
    near(player.currentTime, 4, 0.02, 'playhead right after seek(4)');
    const reports = await collect(player, 'time', () => sleep(300));
    const last = reports[reports.length - 1].time;
    near(last, 4.3, 0.1, 'reported position 300 ms after seek(4)');
    player.pause();
    player.seek(1);
    await sleep(200);
    near(player.currentTime, 1, 1e-9, 'playhead 200 ms after seek(1) while paused');
    assert(!player.playing, 'playing after pause()');
    return `reported ${last.toFixed(3)} s 300 ms after seek(4)`;
  });

  await check('playback ends at the end of the track', async () => {
    player.seek(SECONDS - 0.3);
    const ended = await collect(player, 'ended', async () => {
      player.play();
      await waitFor(() => !player.playing, 3000, "the 'ended' event");
    });
    assert(ended.length === 1, `${ended.length} 'ended' events`);
    near(player.currentTime, SECONDS, 0.01, 'playhead after the end');
    return `ended at ${ended[0].time.toFixed(3)} s`;
  });

  await check('snapshot() and apply(): one remote state event, no echo', async () => {
    const snapshot = player.snapshot();
    assert(JSON.stringify(snapshot) === JSON.stringify(structuredClone(snapshot)), 'snapshot is not plain data');
    const states = await collect(player, 'state', async () => {
      player.apply({ stems: { vocals: { mute: true, volume: 0.5 }, ghost: { mute: true } }, master: 0.8, rate: 0.75, pitch: -2.5, loop: { a: 1, b: 2 } });
      player.apply({ stems: { vocals: { mute: true } }, master: 0.8 }); // nothing new: no event
    });
    assert(states.length === 1 && states[0].source === 'remote', `state events: ${JSON.stringify(states.map((state) => state.source))}`);
    const vocals = states[0].stems.vocals;
    assert(vocals.mute && vocals.volume === 0.5 && states[0].master === 0.8 && states[0].rate === 0.75 && states[0].pitch === -2.5, `applied ${JSON.stringify(states[0])}`);
    const local = await collect(player, 'state', async () => player.setMute('vocals', false));
    assert(local.length === 1 && local[0].source === 'local', 'a local change is not marked local');
    player.apply({ master: 1, rate: 1, pitch: 0, loop: null });
    return `keys: ${Object.keys(snapshot).join(', ')}`;
  });

  await check('a stem that cannot be loaded is reported in plain words; the rest still loads', async () => {
    const other = new StemPlayer({ context });
    const garbage = URL.createObjectURL(new Blob([new Uint8Array(4096).fill(7)], { type: 'audio/wav' }));
    try {
      /** @type {string[]} */
      let names = [];
      const details = await collect(other, 'error', async () => {
        names = await other.load([
          { name: 'bass', url: urls[0] },
          { name: 'vocals', url: garbage },
          { name: 'piano', url: new URL('no-such-stem.wav', location.href).href },
        ]);
      });
      const messages = details.map((detail) => detail.message);
      assert(names.join() === 'bass', `loaded ${names}`);
      assert(messages.some((message) => message.startsWith('vocals could not be decoded: ')), `messages: ${messages}`);
      assert(messages.some((message) => /^piano could not be downloaded: the server answered 404/.test(message)), `messages: ${messages}`);
      return messages.join(' | ');
    } finally {
      other.destroy();
      URL.revokeObjectURL(garbage);
    }
  });

  await check('destroy() stops playback and closes the context it made', async () => {
    player.play();
    player.destroy();
    assert(!player.playing, 'still playing');
    await waitFor(() => context.state === 'closed', 3000, 'the context to close');
    return 'context closed';
  });

  urls.forEach((url) => URL.revokeObjectURL(url));
}

main()
  .catch((error) => results.push({ name: 'test page', ok: false, detail: error instanceof Error ? error.stack ?? error.message : String(error) }))
  .finally(() => {
    const failed = results.filter((result) => !result.ok).length;
    document.querySelector('#summary')?.replaceChildren(`${results.length - failed} passed, ${failed} failed`);
    document.title = 'done';
  });
