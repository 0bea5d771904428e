/**
 * Server-sent events from a POST: the agents' chat answers `text/event-stream`
 * (soundforge/web/api/agents.py), which `EventSource` cannot send a body to, so the
 * response body is read here and split into `{ type, data }` events as they arrive.
 *
 *     for await (const { type, data } of postEvents('agents/track_explainer/chat', body)) ...
 */

import { ApiError, csrfToken } from './api.js';

/**
 * POST `body` as JSON and yield the response's events in order.
 * A non-stream answer (a 404 or 422 before the turn starts) throws its ApiError.
 * @param {string} path  under /api/v1/
 * @param {unknown} body
 * @param {AbortSignal} [signal]
 * @returns {AsyncGenerator<{ type: string, data: any }>}
 */
export async function* postEvents(path, body, signal) {
  let response;
  try {
    response = await fetch(`/api/v1/${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      signal,
      headers: {
        Accept: 'text/event-stream',
        'Content-Type': 'application/json',
        'X-CSRF-Token': csrfToken(),
      },
      body: JSON.stringify(body),
    });
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'The server cannot be reached; check your connection and try again.');
  }
  const type = response.headers.get('Content-Type') ?? '';
  if (!response.ok || !type.startsWith('text/event-stream')) {
    let message = `The request failed (HTTP ${response.status}); try again.`;
    try {
      message = (await response.json())?.error?.message ?? message;
    } catch {
      // not JSON: keep the generic sentence
    }
    throw new ApiError(response.status, message);
  }
  yield* readEvents(response);
}

/**
 * The events of an event-stream response body.
 * @param {Response} response
 * @returns {AsyncGenerator<{ type: string, data: any }>}
 */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
  }
  const last = parse(buffer);
  if (last) yield last;
}

/** One event block: `event: <type>` and `data: <json>` lines. */
function parse(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (!data.length) return null;
  return { type, data: JSON.parse(data.join('\n')) };
}
