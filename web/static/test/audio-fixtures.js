/**
 * Test fixtures for the stem player: synthetic stems rendered with an OfflineAudioContext,
 * a tiny WAV encoder (so the player loads real files through fetch + decodeAudioData), and
 * spectrum measurements through an AnalyserNode.
 */

/**
 * A sine stem (stereo), rendered offline.
 * @param {number} frequency Hz
 * @param {number} seconds
 * @param {number} sampleRate
 * @param {number} [amplitude]
 * @returns {Promise<AudioBuffer>}
 */
export async function renderSine(frequency, seconds, sampleRate, amplitude = 0.2) {
  const context = new OfflineAudioContext(2, Math.round(seconds * sampleRate), sampleRate);
  const oscillator = new OscillatorNode(context, { frequency });
  const gain = new GainNode(context, { gain: amplitude });
  oscillator.connect(gain).connect(context.destination);
  oscillator.start();
  return context.startRendering();
}

/**
 * 16-bit PCM WAV of an AudioBuffer.
 * @param {AudioBuffer} buffer
 * @returns {Blob}
 */
export function encodeWav(buffer) {
  const channels = buffer.numberOfChannels;
  const frames = buffer.length;
  const dataBytes = frames * channels * 2;
  const view = new DataView(new ArrayBuffer(44 + dataBytes));
  const ascii = (/** @type {number} */ offset, /** @type {string} */ text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, channels, true);
  view.setUint32(24, buffer.sampleRate, true);
  view.setUint32(28, buffer.sampleRate * channels * 2, true); // byte rate
  view.setUint16(32, channels * 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  const data = Array.from({ length: channels }, (_, channel) => buffer.getChannelData(channel));
  let offset = 44;
  for (let frame = 0; frame < frames; frame++) {
    for (let channel = 0; channel < channels; channel++) {
      const sample = Math.max(-1, Math.min(1, data[channel][frame]));
      view.setInt16(offset, Math.round(sample * 32767), true);
      offset += 2;
    }
  }
  return new Blob([view.buffer], { type: 'audio/wav' });
}

/**
 * The spectrum now, in dB per bin.
 * @param {AnalyserNode} analyser
 */
export function spectrum(analyser) {
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  return bins;
}

/**
 * Level (dB) of the strongest bin within ±3 bins of a frequency.
 * @param {AnalyserNode} analyser
 * @param {number} frequency
 */
export function levelAt(analyser, frequency) {
  const bins = spectrum(analyser);
  const binWidth = analyser.context.sampleRate / analyser.fftSize;
  const centre = Math.round(frequency / binWidth);
  let level = -Infinity;
  for (let bin = Math.max(0, centre - 3); bin <= Math.min(bins.length - 1, centre + 3); bin++) level = Math.max(level, bins[bin]);
  return level;
}

/**
 * Frequency of the strongest bin, refined by a parabola through it and its neighbours.
 * @param {AnalyserNode} analyser
 */
export function dominantFrequency(analyser) {
  const bins = spectrum(analyser);
  let peak = 1;
  for (let bin = 1; bin < bins.length - 1; bin++) if (bins[bin] > bins[peak]) peak = bin;
  const [left, middle, right] = [bins[peak - 1], bins[peak], bins[peak + 1]];
  const denominator = left - 2 * middle + right;
  const shift = denominator === 0 ? 0 : (0.5 * (left - right)) / denominator;
  return ((peak + shift) * analyser.context.sampleRate) / analyser.fftSize;
}

/**
 * Frequency of a sine from its upward zero crossings (for offline engine output).
 * @param {Float32Array} samples
 * @param {number} sampleRate
 */
export function zeroCrossingFrequency(samples, sampleRate) {
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i - 1] < 0 && samples[i] >= 0) {
      const crossing = i - 1 + -samples[i - 1] / (samples[i] - samples[i - 1]);
      if (first < 0) first = crossing;
      last = crossing;
      count++;
    }
  }
  return count > 1 ? ((count - 1) * sampleRate) / (last - first) : 0;
}
