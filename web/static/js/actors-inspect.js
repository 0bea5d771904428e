/**
 * The actors console's inspect panel (/admin/actors): everything about the chosen process —
 * what it is, its state (format_status), links, monitors and crash reports, and for a queue's
 * producer the queue and the jobs it runs now — like observer's process window in Erlang,
 * but kept current in place rather than opened once per process.
 *
 * It is drawn from the snapshot the tree holds (refreshed every second); only what the
 * snapshot lacks is fetched: the crash reports (GET /api/v1/admin/actors/process) again only
 * when the process's pid, restarts or crash count change, and a producer's executing jobs
 * (GET /api/v1/admin/jobs) when its running set changes. Each part is redrawn only when what
 * it shows changed, so an open traceback or a text selection survives the updates.
 *
 *     const panel = new InspectPanel(tree);
 *     panel.render();      // after each snapshot, and after a new selection
 *     panel.reset();       // a new selection: draw every part afresh
 */

import { api } from './api.js';
import { describe } from './app.js';
import { DASH, formatBytes, formatPercent, formatRate, formatUptime, formatWhen } from './actors-format.js';
import { make, makeButton, setData, setText, showKind, showStatus } from './actors-dom.js';
import { isFolded, isObject, isProducer, labelOf } from './actors-process.js';

/** @typedef {import('./actors-process.js').ProcessInfo} ProcessInfo */
/** @typedef {import('./actors-tree.js').Row} Row */
/** @typedef {import('./actors-tree.js').ActorsTree} ActorsTree */
/** @typedef {{ term: string, text: string, pid?: string }} Fact */
/** @typedef {{ at: number, child_id: string | null, pid: string, reason: string, traceback: string }} CrashReport */
/** @typedef {'crashes' | 'jobs' | 'summary' | 'links' | 'monitors' | 'facts'} Part */

/** @param {string} id */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** The panel's elements (web/templates/admin/actors.html). */
function findElements() {
  return {
    panel: byId('inspect'),
    empty: byId('inspect-empty'),
    body: byId('inspect-body'),
    kind: byId('inspect-kind'),
    label: byId('inspect-label'),
    pid: byId('inspect-pid'),
    status: byId('inspect-status'),
    actions: byId('inspect-actions'),
    actionsNote: byId('inspect-actions-note'),
    facts: byId('inspect-facts'),
    queue: byId('inspect-queue'),
    queueTitle: byId('inspect-queue-title'),
    queueState: byId('inspect-queue-state'),
    jobs: byId('inspect-jobs'),
    summary: byId('inspect-summary'),
    links: byId('inspect-links'),
    monitors: byId('inspect-monitors'),
    monitoredBy: byId('inspect-monitored-by'),
    crashes: byId('inspect-crashes'),
  };
}

export class InspectPanel {
  #el = findElements();
  #tree;
  /** Below this width the panel sits under the tree, out of sight. */
  #narrow = window.matchMedia('(max-width: 1099px)');
  /**
   * What the panel's parts were last drawn or fetched for (null: not yet, for this selection).
   * @type {Record<Part, string | null>}
   */
  #shown = { crashes: null, jobs: null, summary: null, links: null, monitors: null, facts: null };
  /** @type {AbortController | null} */
  #crashRequest = null;
  /** @type {AbortController | null} */
  #jobsRequest = null;
  /** Tracebacks the user opened or closed, by report. @type {Map<string, boolean>} */
  #openReports = new Map();

  /** @param {ActorsTree} tree the rows it shows, and which one is chosen */
  constructor(tree) {
    this.#tree = tree;
  }

  /** Forgets what was drawn, so that the next render draws every part (a new selection). */
  reset() {
    for (const name of Object.keys(this.#shown)) this.#shown[/** @type {Part} */ (name)] = null;
  }

  /** Fetches the executing jobs again on the next render (one of them was cancelled). */
  forgetJobs() {
    this.#shown.jobs = null;
  }

  /** Brings the panel into view where it sits below the tree. */
  reveal() {
    if (this.#narrow.matches) this.#el.panel.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  /** Shows the chosen process, or says that there is none. */
  render() {
    const el = this.#el;
    const row = this.#tree.selectedRow();
    if (!row?.info) {
      el.body.hidden = true;
      el.empty.hidden = false;
      if (this.#tree.selected && this.#tree.drawn) el.empty.textContent = 'That process is no longer in the tree; choose another.';
      return;
    }
    const info = row.info;
    el.empty.hidden = true;
    el.body.hidden = false;
    showKind(el.kind, info.kind);
    setText(el.label, labelOf(info));
    setText(el.pid, info.pid ?? '');
    showStatus(el.status, row.goneAt ? 'exited' : info.status);
    this.showActions(row);
    this.#showFacts(row);
    this.#showSummary(info);
    this.#showPids(el.links, info.links ?? [], 'links', 'No links.');
    this.#showPids(el.monitors, info.monitors ?? [], 'monitors', 'It monitors no process.');
    const watchers = info.monitored_by ?? 0;
    setText(el.monitoredBy, `Monitored by ${watchers} process${watchers === 1 ? '' : 'es'}.`);
    this.#showQueue(info);
    // Not the status itself: a busy process goes from running to waiting and back all the time.
    const life = info.pid && !row.goneAt ? 'alive' : (row.goneAt ? 'exited' : info.status);
    const crashKey = `${row.key}|${info.pid}|${info.restarts ?? 0}|${info.crashes ?? 0}|${life}`;
    if (crashKey !== this.#shown.crashes) {
      this.#shown.crashes = crashKey;
      this.#fetchCrashes(row);
    }
  }

  /** The restart, stop and kill buttons. @returns {HTMLButtonElement[]} */
  actionButtons() {
    return [...this.#el.actions.querySelectorAll('button[data-act]')].map((b) => /** @type {HTMLButtonElement} */ (b));
  }

  /** What can be done to the process, and why not the rest. @param {Row} row */
  showActions(row) {
    const info = /** @type {ProcessInfo} */ (row.info);
    const running = Boolean(info.pid) && !row.goneAt;
    const supervised = Boolean(info.child_id) && !isFolded(info);
    const can = {
      restart: supervised && (running || info.status === 'stopped'),
      stop: supervised && running,
      kill: running,
    };
    for (const b of this.actionButtons()) {
      if (!b.dataset.busy) b.disabled = !can[/** @type {'restart' | 'stop' | 'kill'} */ (b.dataset.act)];
    }
    let why = '';
    if (isFolded(info)) why = 'These request and socket processes come and go with each request; they are counted, not shown one by one.';
    else if (row.goneAt) why = 'The process has exited.';
    else if (!info.pid && info.status === 'restarting') why = 'Its supervisor is restarting it.';
    else if (!info.pid) why = 'It is stopped: restart starts it again.';
    else if (!supervised) why = 'No supervisor started it from a child spec (the root, a dynamic child or a task): only kill applies, and its owner decides what happens next.';
    setText(this.#el.actionsNote, why);
    this.#el.actionsNote.hidden = !why;
  }

  // -- the process -------------------------------------------------------------------------

  #showFacts(/** @type {Row} */ row) {
    const info = /** @type {ProcessInfo} */ (row.info);
    const facts = factsOf(info);
    const shape = facts.map((f) => `${f.term}${f.pid ? '*' : ''}`).join('|');
    if (shape !== this.#shown.facts) {
      this.#shown.facts = shape;
      this.#el.facts.replaceChildren(...facts.flatMap((fact) => {
        const dd = make('dd');
        dd.dataset.fact = fact.term;
        return [make('dt', '', fact.term), dd];
      }));
    }
    for (const fact of facts) {
      const dd = /** @type {HTMLElement} */ (this.#el.facts.querySelector(`dd[data-fact="${CSS.escape(fact.term)}"]`));
      if (fact.pid) this.#showPidIn(dd, fact.pid);
      else setText(dd, fact.text);
    }
  }

  /** A pid as a button that selects its row (plain text when the tree does not show it). */
  #showPidIn(/** @type {HTMLElement} */ container, /** @type {string} */ pid) {
    const inTree = Boolean(this.#tree.rowOfPid(pid));
    const current = container.firstElementChild;
    if (current && current.textContent === pid && (current.tagName === 'BUTTON') === inTree) return;
    if (inTree) {
      const button = makeButton('pid-link', pid);
      button.dataset.pid = pid;
      button.setAttribute('aria-label', `Inspect ${pid}`);
      container.replaceChildren(button);
    } else {
      container.replaceChildren(make('code', '', pid));
    }
  }

  /**
   * @param {HTMLElement} list
   * @param {string[]} pids
   * @param {'links' | 'monitors'} which
   * @param {string} none
   */
  #showPids(list, pids, which, none) {
    const signature = pids.map((pid) => `${pid}${this.#tree.rowOfPid(pid) ? '' : '?'}`).join(',');
    if (signature === this.#shown[which]) return;
    this.#shown[which] = signature;
    if (pids.length === 0) {
      list.replaceChildren(make('li', 'muted', none));
      return;
    }
    list.replaceChildren(...pids.map((pid) => {
      const item = make('li');
      this.#showPidIn(item, pid);
      const row = this.#tree.rowOfPid(pid);
      if (row?.info) item.append(' ', make('span', 'muted', labelOf(row.info)));
      return item;
    }));
  }

  /** format_status: a definition list for a dict, the text itself otherwise. */
  #showSummary(/** @type {ProcessInfo} */ info) {
    const text = JSON.stringify(info.summary ?? null);
    if (text === this.#shown.summary) return;
    this.#shown.summary = text;
    const summary = info.summary;
    if (summary == null) {
      this.#el.summary.replaceChildren(make('p', 'muted', 'No status: the process has no state to show.'));
    } else if (isObject(summary)) {
      const dl = make('dl', 'facts');
      for (const [key, value] of Object.entries(summary)) {
        const dd = make('dd');
        if (value !== null && typeof value === 'object') dd.append(make('pre', '', JSON.stringify(value, null, 2)));
        else dd.textContent = value === null ? 'null' : String(value);
        dl.append(make('dt', '', key), dd);
      }
      this.#el.summary.replaceChildren(dl);
    } else {
      this.#el.summary.replaceChildren(make('pre', '', typeof summary === 'string' ? summary : JSON.stringify(summary, null, 2)));
    }
  }

  // -- crash reports -----------------------------------------------------------------------

  /**
   * The crash reports about the process: its own (a supervisor's: its children's), or, for a
   * child that is not running now, those its supervisor kept under its child id.
   * @param {Row} row
   */
  async #fetchCrashes(row) {
    const info = /** @type {ProcessInfo} */ (row.info);
    this.#crashRequest?.abort();
    let target = info.pid && !row.goneAt ? info.pid : null;
    /** @type {string | null} */
    let onlyChild = null;
    if (!target && info.child_id && !isFolded(info)) {
      const parent = this.#tree.get(row.parentKey)?.info?.pid;
      if (parent) {
        target = parent;
        onlyChild = info.child_id;
      }
    }
    if (!target) {
      this.#showCrashes([], isFolded(info) ? 'Folded processes have no crash reports.' : 'No crash reports to show.');
      return;
    }
    const request = new AbortController();
    this.#crashRequest = request;
    try {
      const detail = await api(`/api/v1/admin/actors/process?target=${encodeURIComponent(target)}`,
        { signal: request.signal });
      if (this.#crashRequest !== request) return;
      /** @type {CrashReport[]} */
      let reports = detail?.crash_reports ?? [];
      if (onlyChild) reports = reports.filter((report) => report.child_id === onlyChild);
      this.#showCrashes(reports, 'No crash reports.');
    } catch (error) {
      if (/** @type {any} */ (error)?.name === 'AbortError' || this.#crashRequest !== request) return;
      this.#showCrashes([], describe(error));
    }
  }

  /** @param {CrashReport[]} reports @param {string} none */
  #showCrashes(reports, none) {
    if (reports.length === 0) {
      this.#el.crashes.replaceChildren(make('li', 'muted', none));
      return;
    }
    const newestFirst = [...reports].sort((a, b) => b.at - a.at);
    this.#el.crashes.replaceChildren(...newestFirst.map((report, index) => {
      const key = `${report.at}|${report.pid}`;
      const item = make('li', 'crash');
      item.dataset.pid = report.pid;
      const head = make('p', 'crash-head');
      const time = make('time', '', formatWhen(report.at));
      time.setAttribute('datetime', new Date(report.at * 1000).toISOString());
      head.append(time, ' ', make('code', '', report.pid));
      if (report.child_id) head.append(' ', make('span', 'muted', report.child_id));
      const reason = make('p', 'crash-reason', report.reason);
      const details = /** @type {HTMLDetailsElement} */ (make('details'));
      details.open = this.#openReports.get(key) ?? index === 0;
      details.addEventListener('toggle', () => this.#openReports.set(key, details.open));
      details.append(make('summary', '', 'Traceback'), make('pre', 'traceback', report.traceback));
      item.append(head, reason, details);
      return item;
    }));
  }

  // -- a producer's queue ------------------------------------------------------------------

  /** A producer's queue: pause or resume it, and the jobs it runs now, each to cancel. */
  #showQueue(/** @type {ProcessInfo} */ info) {
    const el = this.#el;
    const summary = info.summary;
    if (!isProducer(summary)) {
      el.queue.hidden = true;
      return;
    }
    el.queue.hidden = false;
    setText(el.queueTitle, `The ${summary.queue} queue`);
    setText(el.queueState, `${summary.paused ? 'Paused' : 'Running'}: ${summary.running.length} of ${summary.limit} jobs on this node.`);
    for (const button of el.queue.querySelectorAll('button[data-queue-action]')) {
      const b = /** @type {HTMLButtonElement} */ (button);
      setData(b, 'queue', summary.queue);
      b.hidden = (b.dataset.queueAction === 'pause') === Boolean(summary.paused);
    }
    const jobsKey = `${summary.queue}|${summary.running.join(',')}|${info.counts?.executing ?? ''}`;
    if (jobsKey !== this.#shown.jobs) {
      this.#shown.jobs = jobsKey;
      this.#fetchJobs(summary.queue);
    }
  }

  /** @param {string} queue */
  async #fetchJobs(queue) {
    this.#jobsRequest?.abort();
    const request = new AbortController();
    this.#jobsRequest = request;
    try {
      const page = await api(`/api/v1/admin/jobs?state=executing&queue=${encodeURIComponent(queue)}&limit=20`,
        { signal: request.signal });
      if (this.#jobsRequest !== request) return;
      /** @type {any[]} */
      const jobs = page?.items ?? [];
      if (jobs.length === 0) {
        this.#el.jobs.replaceChildren(make('li', 'muted', 'No job of this queue is executing.'));
        return;
      }
      this.#el.jobs.replaceChildren(...jobs.map(jobItem));
    } catch (error) {
      if (/** @type {any} */ (error)?.name === 'AbortError' || this.#jobsRequest !== request) return;
      this.#el.jobs.replaceChildren(make('li', 'muted', describe(error)));
    }
  }
}

/** The process's facts, in the panel's order; a fact with a pid links to that process. */
function factsOf(/** @type {ProcessInfo} */ info) {
  const summary = isObject(info.summary) ? info.summary : {};
  /** @type {Fact[]} */
  const facts = [];
  const add = (/** @type {string} */ term, /** @type {unknown} */ value, /** @type {string=} */ pid) => {
    if (value !== undefined && value !== null && value !== '') facts.push({ term, text: String(value), pid });
  };
  add('Kind', info.kind.replaceAll('_', ' '));
  add('Behaviour', info.behaviour);
  add('Name', info.name);
  add('Child id', info.child_id);
  add('PID', info.pid);
  add('Parent', info.parent, info.parent);
  add('Status', info.status);
  add('Restarts', info.restarts ?? 0);
  add('Mailbox', info.mailbox ?? 0);
  add('Handled', `${info.handled ?? 0} messages`);
  add('Rate', `${formatRate(info.rate)} msg/s`);
  if (info.started_at) add('Started', formatWhen(info.started_at));
  if (info.pid) add('Uptime', formatUptime(info.uptime_s));
  if (info.pid) add('Traps exits', info.trap_exit ? 'yes' : 'no');
  if (info.intensity_used != null) {
    if (summary.strategy) add('Strategy', String(summary.strategy).replaceAll('_', ' '));
    add('Intensity used', summary.max_restarts != null
      ? `${info.intensity_used} of ${summary.max_restarts} restarts in ${summary.max_seconds} s`
      : info.intensity_used);
    add('Crash reports', info.crashes ?? 0);
  }
  if (info.kind === 'port' || info.os_pid != null) {
    add('OS pid', info.os_pid ?? DASH);
    add('CPU', formatPercent(info.cpu_percent));
    add('Memory (RSS)', formatBytes(info.rss_bytes));
  }
  return facts;
}

/** One executing job, with its cancel button (actors-actions.js does the cancelling). */
function jobItem(/** @type {any} */ job) {
  const item = make('li', 'job');
  item.dataset.jobId = String(job.id);
  const what = [job.label, job.user_email].filter(Boolean).join(' · ');
  item.append(
    make('span', 'job-id', `#${job.id}`), ' ', make('code', '', job.worker), ' ',
    make('span', 'muted', `attempt ${job.attempt}/${job.max_attempts} · ${Math.round((job.progress ?? 0) * 100)} %${what ? ` · ${what}` : ''}`),
  );
  const cancel = makeButton('button small danger', 'Cancel');
  cancel.dataset.cancelJob = String(job.id);
  cancel.dataset.worker = job.worker;
  cancel.setAttribute('aria-label', `Cancel job #${job.id}`);
  item.append(cancel);
  return item;
}
