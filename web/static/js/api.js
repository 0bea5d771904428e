/**
 * The JSON API from the pages: one `api()` call per request, errors as `ApiError`s that carry
 * the server's own sentence, and `upload()` for files with progress.
 *
 * Requests go with the session cookie; every unsafe one also sends the CSRF token (the
 * `sf_csrf` cookie, which only pages of this site can read; the `csrf-token` meta tag when
 * the cookie is missing), as `soundforge.web.auth.check_csrf` requires.
 *
 *     import { api, ApiError, upload } from '/static/js/api.js';
 *     const page = await api('/api/v1/tracks?q=daft');        // or api('tracks?q=daft')
 *     await api('/api/v1/jobs/42/retry', { method: 'POST' });
 *     try { await api('imports', { method: 'POST', body: { url } }); }
 *     catch (error) { if (error instanceof ApiError) toast(error.message); }
 *     const outcome = await upload(input.files, { onProgress: ({ fraction }) => ... });
 */

const PREFIX = '/api/v1/';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** An API call that failed: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message  the server's sentence, fit to show as is
   * @param {{ retryAfter?: number | null, code?: string | null }} [extra]
   */
  constructor(status, message, { retryAfter = null, code = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    /** Seconds to wait before trying again (429, 503), when the server said. */
    this.retryAfter = retryAfter;
    this.code = code;
  }
}

/** This browser's CSRF token. */
export function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === 'sf_csrf') return decodeURIComponent(value.join('='));
  }
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
}

/** `'tracks'` → `/api/v1/tracks`; a path starting with `/` is used as it is. */
function resolve(path) {
  return path.startsWith('/') ? path : PREFIX + path;
}

/**
 * Call the API and return its decoded JSON (null for 204).
 * @param {string} path
 * @param {{ method?: string, body?: unknown, form?: FormData, signal?: AbortSignal,
 *           headers?: Record<string, string> }} [options]
 *   `body` is sent as JSON; `form` as multipart (give one or the other).
 * @returns {Promise<any>}
 * @throws {ApiError} with the server's sentence; an AbortError when `signal` aborts.
 */
export async function api(path, { method = 'GET', body, form, signal, headers = {} } = {}) {
  method = method.toUpperCase();
  const init = {
    method,
    signal,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...headers },
  };
  if (!SAFE.has(method)) init.headers['X-CSRF-Token'] = csrfToken();
  if (form !== undefined) {
    init.body = form;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(resolve(path), init);
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(0, 'The server cannot be reached; check your connection and try again.');
  }
  return decode(response.status, response.headers.get('Content-Type'),
    await response.text(), response.headers.get('Retry-After'));
}

/** The value of a response, or the ApiError it stands for. */
function decode(status, contentType, text, retryAfter) {
  let data = null;
  if (text && (contentType ?? '').includes('json')) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (status >= 200 && status < 300) return status === 204 ? null : data ?? text;
  const error = data?.error;
  const message = error?.message ?? (status === 413
    ? 'The upload is larger than this server accepts.'
    : `The request failed (HTTP ${status}); try again.`);
  const wait = Number.parseFloat(retryAfter ?? '');
  throw new ApiError(status, message, {
    retryAfter: Number.isFinite(wait) ? wait : null,
    code: error?.code ?? null,
  });
}

/**
 * Upload audio files to POST /api/v1/uploads (multipart, field "file" per file).
 * Uses XMLHttpRequest because fetch() cannot report upload progress.
 * @param {Iterable<File>} files
 * @param {{ onProgress?: (p: { loaded: number, total: number, fraction: number }) => void,
 *           signal?: AbortSignal }} [options]
 * @returns {Promise<{ source: string, created: string[],
 *                     duplicates: { title: string, existing_id: string, reason: string }[] }>}
 */
export function upload(files, { onProgress, signal } = {}) {
  const form = new FormData();
  for (const file of files) form.append('file', file, file.name);
  return new Promise((resolvePromise, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', resolve('uploads'));
    xhr.responseType = 'text';
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.upload.addEventListener('progress', (event) => {
      if (!onProgress || !event.lengthComputable) return;
      onProgress({ loaded: event.loaded, total: event.total, fraction: event.loaded / event.total });
    });
    xhr.addEventListener('load', () => {
      try {
        resolvePromise(decode(xhr.status, xhr.getResponseHeader('Content-Type'), xhr.responseText,
          xhr.getResponseHeader('Retry-After')));
      } catch (error) {
        reject(error);
      }
    });
    xhr.addEventListener('error', () => reject(
      new ApiError(0, 'The upload could not reach the server; check your connection and try again.')));
    xhr.addEventListener('abort', () => reject(new DOMException('The upload was cancelled.', 'AbortError')));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}
