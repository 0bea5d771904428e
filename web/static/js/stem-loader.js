/**
 * Downloading and decoding stems for the StemPlayer, with byte progress and plain-words errors.
 *
 * Memory matters here: four five-minute stereo stems are ~400 MB of float PCM. Downloads are
 * written into one preallocated buffer when the size is known, decodeAudioData consumes the
 * encoded bytes, and the decoded channels are handed over to the audio worklet by *transfer*
 * (the main thread keeps no copy).
 *
 *     const bytes = await downloadStem({ name: 'vocals', url }, { signal, onBytes: (n, total) => {} });
 *     const stem = await decodeStem(context, 'vocals', bytes);
 *     port.postMessage({ type: 'stem', name: stem.name, channels: stem.channels }, transferList(stem.channels));
 */

/** @typedef {{ name: string, url: string }} StemSource */
/** @typedef {{ name: string, channels: Float32Array[], frames: number }} DecodedStem */

/** A stem that could not be downloaded or decoded; the message is meant for the user. */
export class StemLoadError extends Error {
  /**
   * @param {string} stem
   * @param {string} message
   */
  constructor(stem, message) {
    super(message);
    this.name = 'StemLoadError';
    this.stem = stem;
  }
}

/**
 * Downloads one stem.
 * @param {StemSource} source
 * @param {{ signal?: AbortSignal, onBytes?: (loaded: number, total: number | null) => void }} [options]
 *   onBytes: called as bytes arrive; total is null when the server does not say
 * @returns {Promise<ArrayBuffer>}
 */
export async function downloadStem({ name, url }, { signal, onBytes = () => {} } = {}) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new StemLoadError(name, `${name} could not be downloaded: ${describe(error)}`);
  }
  if (!response.ok) {
    const status = `${response.status} ${response.statusText}`.trim();
    throw new StemLoadError(name, `${name} could not be downloaded: the server answered ${status}`);
  }
  // Content-Length counts compressed bytes when the response is encoded; then it is no total.
  const declared = response.headers.get('Content-Encoding') ? null : Number(response.headers.get('Content-Length')) || null;
  onBytes(0, declared);
  if (!response.body) {
    const bytes = await response.arrayBuffer();
    onBytes(bytes.byteLength, declared ?? bytes.byteLength);
    return bytes;
  }
  try {
    return await readAll(response.body, declared, onBytes);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new StemLoadError(name, `${name} could not be downloaded: ${describe(error)}`);
  }
}

/**
 * Decodes one stem at the context's sample rate (decodeAudioData resamples for us) and takes
 * its first two channels out of the AudioBuffer.
 * @param {BaseAudioContext} context
 * @param {string} name
 * @param {ArrayBuffer} bytes consumed (detached) by the decoder
 * @returns {Promise<DecodedStem>}
 */
export async function decodeStem(context, name, bytes) {
  let buffer;
  try {
    buffer = await context.decodeAudioData(bytes);
  } catch (error) {
    throw new StemLoadError(name, `${name} could not be decoded: ${describe(error)}`);
  }
  const channels = [];
  for (let channel = 0; channel < Math.min(2, buffer.numberOfChannels); channel++) {
    channels.push(buffer.getChannelData(channel));
  }
  return { name, channels, frames: buffer.length };
}

/**
 * The buffers to transfer with `channels`, or null when they cannot be transferred one for one
 * (shared or partial buffers): then the caller must copy.
 * @param {Float32Array[]} channels
 * @returns {ArrayBuffer[] | null}
 */
export function transferList(channels) {
  const buffers = channels.map((channel) => channel.buffer);
  const exclusive = channels.every((channel) => channel.byteOffset === 0 && channel.byteLength === channel.buffer.byteLength);
  const distinct = new Set(buffers).size === buffers.length;
  return exclusive && distinct ? /** @type {ArrayBuffer[]} */ (buffers) : null;
}

/** Sums per-stem download progress into one {loaded, total} for the whole track. */
export class LoadProgress {
  #loaded;
  #totals;
  #report;

  /**
   * @param {number} count
   * @param {(detail: { loaded: number, total: number | null }) => void} report
   */
  constructor(count, report) {
    this.#loaded = new Array(count).fill(0);
    /** @type {(number | null | undefined)[]} undefined until the stem's response arrives */
    this.#totals = new Array(count).fill(undefined);
    this.#report = report;
  }

  /**
   * @param {number} index
   * @param {number} loaded
   * @param {number | null} total
   */
  update(index, loaded, total) {
    this.#loaded[index] = loaded;
    this.#totals[index] = total;
    const known = this.#totals.every((value) => typeof value === 'number');
    const sum = (/** @type {number[]} */ values) => values.reduce((a, b) => a + b, 0);
    this.#report({ loaded: sum(this.#loaded), total: known ? sum(/** @type {number[]} */ (this.#totals)) : null });
  }
}

/**
 * @param {ReadableStream<Uint8Array>} body
 * @param {number | null} declared
 * @param {(loaded: number, total: number | null) => void} onBytes
 */
async function readAll(body, declared, onBytes) {
  // Write straight into one buffer of the announced size; grow only if the server under-announced.
  let bytes = new Uint8Array(declared ?? 1 << 20);
  let loaded = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.byteLength > bytes.byteLength) {
      const grown = new Uint8Array(Math.max(bytes.byteLength * 2, loaded + value.byteLength));
      grown.set(bytes.subarray(0, loaded));
      bytes = grown;
    }
    bytes.set(value, loaded);
    loaded += value.byteLength;
    onBytes(loaded, declared === null ? null : Math.max(declared, loaded));
  }
  return loaded === bytes.byteLength ? bytes.buffer : bytes.slice(0, loaded).buffer;
}

/** @param {unknown} error */
function describe(error) {
  const message = error instanceof Error ? error.message : String(error);
  return message || 'the browser gave no reason';
}
