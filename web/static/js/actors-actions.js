/**
 * The operator's actions on the actors console (/admin/actors): restart, stop and kill the
 * chosen process (POST /api/v1/admin/actors/...), pause and resume a queue, cancel one of its
 * executing jobs (the admin queues and jobs API).
 *
 * What they mirror: restart is supervisor:terminate_child + restart_child (a supervisor's
 * whole subtree goes with it), stop is terminate_child alone (the child stays stopped, its
 * spec kept), kill is exit(Pid, kill), to which the supervisor reacts as to any crash. Each
 * asks first in the layout's <dialog> (admin.js's confirmation); the server writes every
 * action to the audit log. The result (which process, its pid before and after) or the
 * server's error sentence goes to the page's status line, and the page then asks for a
 * snapshot at once rather than wait for the next one.
 *
 *     const actions = new ActorActions({ tree, inspect, say, refresh: load });
 *     button.addEventListener('click', () => actions.handle(button));
 */

import { confirmAction } from './admin.js';
import { api } from './api.js';
import { describe } from './app.js';
import { sentence } from './actors-format.js';
import { labelOf } from './actors-process.js';

/** @typedef {import('./actors-process.js').ProcessInfo} ProcessInfo */
/** @typedef {'restart' | 'stop' | 'kill'} Action */

const ACTION_LABELS = { restart: 'Restart', stop: 'Stop', kill: 'Kill' };

export class ActorActions {
  #tree;
  #inspect;
  #say;
  #refresh;

  /**
   * @param {{ tree: import('./actors-tree.js').ActorsTree,
   *   inspect: import('./actors-inspect.js').InspectPanel,
   *   say: (text: string, kind?: 'ok' | 'error') => void,
   *   refresh: () => unknown }} page
   *   the tree (which process is chosen), the panel (its buttons), the status line, and
   *   what asks for a new snapshot
   */
  constructor({ tree, inspect, say, refresh }) {
    this.#tree = tree;
    this.#inspect = inspect;
    this.#say = say;
    this.#refresh = refresh;
  }

  /**
   * Runs the action that `button` stands for (after asking).
   * @param {HTMLButtonElement} button
   * @returns {boolean} false when it is not an action's button
   */
  handle(button) {
    if (button.dataset.queueAction) this.#queueAction(button);
    else if (button.dataset.cancelJob) this.#cancelJob(button);
    else if (button.dataset.act) this.#act(button);
    else return false;
    return true;
  }

  /** Restart, stop or kill the chosen process. @param {HTMLButtonElement} button */
  async #act(button) {
    const row = this.#tree.selectedRow();
    const info = row?.info;
    const action = /** @type {Action} */ (button.dataset.act);
    if (!row || !info) return;
    // The pid names this very process; a stopped child only has its id.
    const target = info.pid && !row.goneAt ? info.pid : info.child_id;
    if (!target) return;
    if (!(await confirmAction(question(action, info), ACTION_LABELS[action]))) return;
    const buttons = this.#inspect.actionButtons();
    for (const b of buttons) {
      b.dataset.busy = 'true';
      b.disabled = true;
    }
    try {
      const result = await api(`/api/v1/admin/actors/${action}`, { method: 'POST', body: { target } });
      this.#say(outcome(action, labelOf(info), result));
      this.#refresh();
    } catch (error) {
      this.#say(describe(error), 'error');
    } finally {
      for (const b of buttons) delete b.dataset.busy;
      const current = this.#tree.selectedRow();
      if (current?.info) this.#inspect.showActions(current);
    }
  }

  /** Pause or resume a producer's queue, on every node. @param {HTMLButtonElement} button */
  async #queueAction(button) {
    const name = button.dataset.queue ?? '';
    const pause = button.dataset.queueAction === 'pause';
    const text = pause
      ? `Pause the ${name} queue on every node? Jobs running now finish; no new ones start until it is resumed.`
      : `Resume the ${name} queue on every node? Its producers start claiming jobs again.`;
    if (!(await confirmAction(text, pause ? 'Pause queue' : 'Resume queue'))) return;
    button.disabled = true;
    try {
      await api(`/api/v1/admin/queues/${encodeURIComponent(name)}/${pause ? 'pause' : 'resume'}`, { method: 'POST' });
      this.#say(pause
        ? `The ${name} queue is paused: running jobs finish, no new ones start.`
        : `The ${name} queue runs again.`);
      this.#refresh();
    } catch (error) {
      this.#say(describe(error), 'error');
    } finally {
      button.disabled = false;
    }
  }

  /** Cancel an executing job: it stops and is not tried again. @param {HTMLButtonElement} button */
  async #cancelJob(button) {
    const id = button.dataset.cancelJob ?? '';
    const text = `Cancel job #${id} (${button.dataset.worker ?? 'a job'})? It stops now and is not tried again.`;
    if (!(await confirmAction(text, 'Cancel job'))) return;
    button.disabled = true;
    try {
      await api(`/api/v1/admin/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      this.#say(`Job #${id} is cancelled.`);
      button.closest('li')?.setAttribute('data-done', 'true');
      this.#inspect.forgetJobs();
      this.#refresh();
    } catch (error) {
      button.disabled = false;
      this.#say(describe(error), 'error');
    }
  }
}

/** What the confirmation asks. @param {Action} action @param {ProcessInfo} info */
function question(action, info) {
  const who = `${labelOf(info)}${info.pid ? ` (${info.pid})` : ''}`;
  const subtree = (info.children?.length ?? 0) > 0 ? ' Everything under it goes with it.' : '';
  if (action === 'restart') {
    return info.pid
      ? `Restart ${who}? Its supervisor stops it and starts it again.${subtree ? ' A supervisor restarts its whole subtree, in order.' : ''}`
      : `Start ${who} again? Its supervisor starts it from its child spec.`;
  }
  if (action === 'stop') {
    return `Stop ${who}? Its supervisor terminates it and does not restart it: it stays stopped until you restart it here.${subtree}`;
  }
  return `Kill ${who}? It gets the untrappable kill signal; its supervisor reacts as to any crash (a restart that counts against its intensity).${subtree}`;
}

/**
 * The result in the tree's words: the server's message names the target as sent (a pid,
 * for a running process), so the page says which process it was and what became of it.
 * @param {Action} action
 * @param {string} label
 * @param {{ before?: string | null, after?: string | null, message?: string } | null} result
 */
function outcome(action, label, result) {
  const before = result?.before;
  const after = result?.after;
  if (action === 'kill' && before) return `${label} (${before}) was killed; its supervisor reacts.`;
  if (action === 'stop' && before) return `${label} (${before}) was stopped; it stays stopped until restarted.`;
  if (action === 'restart' && after) {
    return before ? `${label} was restarted: ${before} is now ${after}.` : `${label} was started again as ${after}.`;
  }
  return sentence(result?.message ?? `${ACTION_LABELS[action]}: done`);
}
