/**
 * What every page loads (from base.html): toasts, the live-connection indicator, the sign-out
 * form and the service worker.
 *
 *     import { toast } from '/static/js/app.js';
 *     toast('The import failed: the link is not a track.');          // an error, by default
 *     toast('Saved.', { kind: 'success' });
 *     toast('Deleted 3 tracks.', { kind: 'info', action: { label: 'Undo', run: () => ... } });
 *
 * An `ApiError` that nobody caught (an unhandled promise rejection) becomes a toast too, so a
 * failed request never fails silently.
 */

import { ApiError } from './api.js';
import { live } from './live.js';

const TOAST_MS = { error: 8000, info: 5000, success: 3500 };
const LIVE_WORDS = {
  idle: 'idle',
  connecting: 'connecting…',
  open: 'live',
  reconnecting: 'reconnecting…',
  closed: 'offline',
};

/**
 * Show a message in the corner of the page.
 * @param {string} message
 * @param {{ kind?: 'error' | 'info' | 'success', timeout?: number,
 *           action?: { label: string, run: () => void } }} [options]
 *   `timeout` 0 keeps it until closed.
 * @returns {() => void} closes the toast
 */
export function toast(message, { kind = 'error', timeout, action } = {}) {
  const area = document.getElementById('toasts');
  if (!area) {
    console.warn(message);
    return () => {};
  }
  const item = document.createElement('div');
  item.className = `toast toast-${kind}`;
  item.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  const text = document.createElement('p');
  text.textContent = message;
  item.append(text);
  const close = () => {
    clearTimeout(timer);
    item.remove();
  };
  if (action) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button small';
    button.textContent = action.label;
    button.addEventListener('click', () => {
      close();
      action.run();
    });
    item.append(button);
  }
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'toast-close';
  dismiss.setAttribute('aria-label', 'Dismiss');
  dismiss.textContent = '×';
  dismiss.addEventListener('click', close);
  item.append(dismiss);
  area.append(item);
  const ms = timeout ?? TOAST_MS[kind] ?? 6000;
  const timer = ms > 0 ? setTimeout(close, ms) : 0;
  return close;
}

/** The message to show for any error a handler caught. */
export function describe(error) {
  if (error instanceof ApiError) return error.message;
  return error?.message ? `Something went wrong: ${error.message}` : 'Something went wrong.';
}

function wireLiveIndicator() {
  const indicator = document.querySelector('[data-live-status]');
  if (!indicator) return;
  const words = indicator.querySelector('[data-live-words]');
  const show = (state) => {
    indicator.dataset.state = state;
    if (words) words.textContent = LIVE_WORDS[state] ?? state;
  };
  show(live.state);
  live.addEventListener('status', (event) => show(event.detail.state));
  live.addEventListener('error', (event) => {
    const { message, topic } = event.detail ?? {};
    // A refused topic is a row that just went away (deleted elsewhere): nothing to act on.
    if (topic) console.warn(`live: ${message}`);
    else if (message) toast(message);
  });
}

function wireSignOut() {
  for (const form of document.querySelectorAll('form[data-signout]')) {
    form.addEventListener('submit', () => {
      // The socket belongs to the session that is ending; close it before the page goes.
      live.close();
      for (const button of form.querySelectorAll('button')) button.disabled = true;
    });
  }
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  } catch (error) {
    // The site works without it (no offline page, no installed app); say so in the console.
    console.warn('SoundForge: the service worker could not be registered', error);
  }
}

addEventListener('unhandledrejection', (event) => {
  if (event.reason instanceof ApiError) {
    toast(event.reason.message);
    event.preventDefault();
  }
});

wireLiveIndicator();
wireSignOut();
if (document.readyState === 'complete') registerServiceWorker();
else addEventListener('load', registerServiceWorker, { once: true });
