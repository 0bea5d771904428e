/**
 * The admin pages' actions: change a role, suspend or reactivate an account (after a
 * confirmation), pause and resume queues, retry and cancel jobs — each through the JSON API
 * under /api/v1/admin — and refresh the queue counts every few seconds.
 *
 * The pages are complete without this script (server-rendered by soundforge/web/pages_admin.py);
 * it only adds the buttons' behaviour, so every action's result is shown by updating the row
 * it came from rather than by reloading the page.
 */

import { api } from './api.js';
import { describe, toast } from './app.js';

const REFRESH_MS = 5000;

const dialog = /** @type {HTMLDialogElement | null} */ (document.getElementById('confirm-dialog'));

/**
 * @param {string} text
 * @param {'ok' | 'error'} [kind]
 */
function say(text, kind = 'ok') {
  toast(text, { kind: kind === 'ok' ? 'success' : 'error' });
}

/** @param {unknown} error */
function sayError(error) {
  say(describe(error), 'error');
}

/**
 * Asks in the page's <dialog>; resolves true when confirmed. Exported for the actors console
 * (actors-actions.js), which asks in the same layout's dialog.
 * @param {string} text
 * @param {string} confirmLabel
 * @returns {Promise<boolean>}
 */
export function confirmAction(text, confirmLabel) {
  if (!dialog) return Promise.resolve(window.confirm(text));
  /** @type {HTMLElement} */ (dialog.querySelector('#confirm-text')).textContent = text;
  /** @type {HTMLElement} */ (dialog.querySelector('#confirm-ok')).textContent = confirmLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

// -- users -----------------------------------------------------------------------------------

/**
 * @param {HTMLElement} row
 * @param {{ role?: string, status?: string }} user
 */
function showUser(row, user) {
  if (user.status) {
    row.dataset.status = user.status;
    const cell = row.querySelector('[data-field="status"]');
    if (cell) {
      cell.replaceChildren(pill(user.status, user.status === 'suspended' ? 'warn' : 'ok'));
    }
    const suspend = /** @type {HTMLElement | null} */ (row.querySelector('[data-action="suspend"]'));
    const reactivate = /** @type {HTMLElement | null} */ (row.querySelector('[data-action="reactivate"]'));
    if (suspend) suspend.hidden = user.status === 'suspended';
    if (reactivate) reactivate.hidden = user.status !== 'suspended';
  }
  if (user.role) {
    const select = /** @type {HTMLSelectElement | null} */ (row.querySelector('.role-select'));
    if (select) {
      select.value = user.role;
      select.dataset.current = user.role;
    }
  }
}

/**
 * @param {string} text
 * @param {'ok' | 'warn' | 'bad'} kind
 */
function pill(text, kind) {
  const span = document.createElement('span');
  span.className = `pill pill--${kind}`;
  span.textContent = text;
  return span;
}

/**
 * @param {HTMLElement} row
 * @param {{ role?: string, status?: string }} change
 */
async function patchUser(row, change) {
  const id = row.dataset.userId;
  const user = await api(`/api/v1/admin/users/${encodeURIComponent(id ?? '')}`, { method: 'PATCH', body: change });
  showUser(row, { role: user?.role ?? change.role, status: user?.status ?? change.status });
  return user;
}

function bindUsers() {
  const table = document.getElementById('users-table');
  if (!table) return;
  table.addEventListener('change', async (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.classList.contains('role-select')) return;
    const row = /** @type {HTMLElement} */ (select.closest('tr'));
    const previous = select.dataset.current ?? 'user';
    const role = select.value;
    const email = row.dataset.email ?? 'this account';
    const question = role === 'admin'
      ? `Make ${email} an administrator? They will see every user and the audit log.`
      : `Make ${email} a plain user? They lose access to these pages.`;
    if (!(await confirmAction(question, role === 'admin' ? 'Make admin' : 'Make user'))) {
      select.value = previous;
      return;
    }
    select.disabled = true;
    try {
      await patchUser(row, { role });
      say(`${email} is now ${role === 'admin' ? 'an administrator' : 'a user'}.`);
    } catch (error) {
      select.value = previous;
      sayError(error);
    } finally {
      select.disabled = false;
    }
  });
  table.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
    if (!(button instanceof HTMLButtonElement)) return;
    const row = /** @type {HTMLElement} */ (button.closest('tr'));
    const email = row.dataset.email ?? 'this account';
    const suspend = button.dataset.action === 'suspend';
    const question = suspend
      ? `Suspend ${email}? They are signed out everywhere and can neither sign in nor use their API tokens until reactivated.`
      : `Reactivate ${email}? They can sign in and use their API tokens again.`;
    if (!(await confirmAction(question, suspend ? 'Suspend' : 'Reactivate'))) return;
    button.disabled = true;
    try {
      await patchUser(row, { status: suspend ? 'suspended' : 'active' });
      say(suspend ? `${email} is suspended.` : `${email} is active again.`);
    } catch (error) {
      sayError(error);
    } finally {
      button.disabled = false;
    }
  });
}

// -- queues ----------------------------------------------------------------------------------

/**
 * @typedef {{ queue: string, limit: number | null, paused: boolean | null, counts: Record<string, number> }} QueueRow
 */

/** @param {QueueRow[]} queues */
function showQueues(queues) {
  const table = document.getElementById('queue-table');
  if (!table || !Array.isArray(queues)) return;
  for (const queue of queues) {
    const row = /** @type {HTMLElement | null} */ (table.querySelector(`tr[data-queue="${CSS.escape(queue.queue)}"]`));
    if (!row) continue;
    for (const cell of row.querySelectorAll('[data-count]')) {
      const state = /** @type {HTMLElement} */ (cell).dataset.count ?? '';
      cell.textContent = String(queue.counts?.[state] ?? 0);
    }
    const limit = row.querySelector('[data-field="limit"]');
    if (limit) limit.textContent = queue.limit == null ? '–' : String(queue.limit);
    showPaused(row, queue.paused);
  }
}

/**
 * @param {HTMLElement} row
 * @param {boolean | null | undefined} paused
 */
function showPaused(row, paused) {
  const cell = row.querySelector('[data-field="paused"]');
  if (cell) {
    if (paused == null) cell.textContent = 'not on this node';
    else cell.replaceChildren(pill(paused ? 'paused' : 'running', paused ? 'warn' : 'ok'));
  }
  const pause = /** @type {HTMLElement | null} */ (row.querySelector('[data-action="pause"]'));
  const resume = /** @type {HTMLElement | null} */ (row.querySelector('[data-action="resume"]'));
  if (pause) pause.hidden = paused === true;
  if (resume) resume.hidden = paused !== true;
}

async function refreshQueues() {
  if (document.hidden) return;
  try {
    showQueues(await api('/api/v1/admin/queues'));
    document.getElementById('refresh-note')?.classList.remove('stale');
  } catch (error) {
    // The next tick tries again; a note says the numbers may be old meanwhile.
    document.getElementById('refresh-note')?.classList.add('stale');
    if (/** @type {{ status?: number }} */ (error)?.status === 401 || /** @type {{ status?: number }} */ (error)?.status === 403) {
      sayError(error);
      return 'stop';
    }
  }
  return 'go on';
}

function bindQueues() {
  const table = document.getElementById('queue-table');
  if (!table) return;
  const timer = window.setInterval(async () => {
    if ((await refreshQueues()) === 'stop') window.clearInterval(timer);
  }, REFRESH_MS);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refreshQueues();
  });
  table.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
    if (!(button instanceof HTMLButtonElement)) return;
    const name = button.dataset.queue ?? '';
    const action = button.dataset.action === 'pause' ? 'pause' : 'resume';
    button.disabled = true;
    try {
      await api(`/api/v1/admin/queues/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
      const row = /** @type {HTMLElement} */ (button.closest('tr'));
      showPaused(row, action === 'pause');
      say(action === 'pause'
        ? `The ${name} queue is paused: running jobs finish, no new ones start.`
        : `The ${name} queue runs again.`);
      window.setTimeout(refreshQueues, 500);
    } catch (error) {
      sayError(error);
    } finally {
      button.disabled = false;
    }
  });
}

function bindJobs() {
  const table = document.getElementById('jobs-table');
  if (!table) return;
  table.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
    if (!(button instanceof HTMLButtonElement)) return;
    const id = button.dataset.jobId ?? '';
    const cancel = button.dataset.action === 'cancel';
    if (cancel && !(await confirmAction(`Cancel job #${id}? It will not be tried again.`, 'Cancel job'))) return;
    const row = /** @type {HTMLElement} */ (button.closest('tr'));
    for (const other of row.querySelectorAll('button')) /** @type {HTMLButtonElement} */ (other).disabled = true;
    try {
      const job = await api(`/api/v1/admin/jobs/${encodeURIComponent(id)}/${cancel ? 'cancel' : 'retry'}`, { method: 'POST' });
      const state = job?.state ?? (cancel ? 'cancelled' : 'available');
      row.querySelector('[data-field="state"]')?.replaceChildren(pill(state, state === 'available' ? 'ok' : 'bad'));
      row.dataset.done = 'true';
      say(cancel ? `Job #${id} is cancelled.` : `Job #${id} is queued to run again.`);
      window.setTimeout(refreshQueues, 500);
    } catch (error) {
      for (const other of row.querySelectorAll('button')) /** @type {HTMLButtonElement} */ (other).disabled = false;
      sayError(error);
    }
  });
}

bindUsers();
bindQueues();
bindJobs();
