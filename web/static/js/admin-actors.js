/**
 * The actors console (/admin/actors): the node's supervision tree, live, an inspect panel,
 * and the operator's actions — Erlang's observer in the page.
 *
 * The first paint comes from GET /api/v1/admin/actors; after that the `admin:actors` topic
 * on the page's one WebSocket (live.js) brings the observer's snapshot every second
 * (soundforge/actors/observer.py). Each snapshot is applied in place: one table row per
 * process, keyed by its path of child ids from the top (pids change on every restart, a
 * path does not), so expanded and collapsed branches, the selection, focus and the scroll
 * position all survive the update. A row whose pid or restart count just changed is marked
 * for a few seconds ("restarted", "stopped"...), a supervisor whose crash reports grew is
 * marked "child crashed", and a process that left the tree stays greyed out for a moment
 * before its row goes, so a crash and its restart are hard to miss.
 *
 * Selecting a row fills the inspect panel from the snapshot (kept current every second)
 * and fetches the crash reports (GET /api/v1/admin/actors/process) again only when the
 * process's pid, restarts or crash count change. Restart, stop and kill (POST
 * /api/v1/admin/actors/...), pausing and resuming a queue and cancelling one of its
 * executing jobs (the admin queues and jobs API) each ask in the layout's <dialog> first;
 * the server writes every action to the audit log. The result (which process, its pid before
 * and after) or the server's error sentence is shown in the page's status line.
 */

import { api } from './api.js';
import { describe } from './app.js';
import { live } from './live.js';

const TOPIC = 'admin:actors';
const SNAPSHOT_URL = '/api/v1/admin/actors';
/** How long a row whose pid or restarts just changed stays marked. */
const CHANGED_MS = 10_000;
/** How long a process that left the tree stays in it, greyed out. */
const GONE_MS = 5_000;
/** No snapshot for this long: the note says so, and the page asks for one itself. */
const STALE_MS = 4_000;
const COLLAPSED_KEY = 'sf-admin-actors-collapsed';
const DASH = '–';

const table = /** @type {HTMLTableElement | null} */ (document.getElementById('actors-table'));
const tbody = /** @type {HTMLTableSectionElement} */ (document.getElementById('actors-rows'));
const note = /** @type {HTMLElement} */ (document.getElementById('actors-note'));
const statusLine = /** @type {HTMLElement} */ (document.getElementById('actors-status'));
const dialog = /** @type {HTMLDialogElement | null} */ (document.getElementById('confirm-dialog'));
const panel = /** @type {HTMLElement} */ (document.getElementById('inspect'));
const narrow = window.matchMedia('(max-width: 1099px)');

/** @param {string} id */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

const inspect = {
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

/**
 * A process as the observer sends it (soundforge.runtime.introspect.ProcessInfo); fields at
 * their default are left out.
 * @typedef {{ pid: string | null, kind: string, status: string, name?: string,
 *   behaviour?: string, child_id?: string, parent?: string, mailbox?: number,
 *   handled?: number, restarts?: number, started_at?: number, uptime_s?: number,
 *   trap_exit?: boolean, links?: string[], monitored_by?: number, monitors?: string[],
 *   summary?: any, intensity_used?: number, crashes?: number, os_pid?: number,
 *   rss_bytes?: number, rate?: number, cpu_percent?: number,
 *   counts?: Record<string, number>, children?: ProcessInfo[] }} ProcessInfo
 */

/**
 * One row of the table.
 * @typedef {{ key: string, tr: HTMLTableRowElement, nameCell: HTMLElement,
 *   toggle: HTMLButtonElement, kind: HTMLElement, label: HTMLButtonElement,
 *   aside: HTMLElement, pid: HTMLElement, pill: HTMLElement, mark: HTMLElement,
 *   cells: Record<string, HTMLElement>, details: HTMLElement, detail: HTMLElement,
 *   queueButtons: HTMLElement | null, info: ProcessInfo | null, parentKey: string,
 *   last: { pid: string | null, restarts: number, os: number | null, crashes: number } | null,
 *   changedAt: number, goneAt: number }} Row
 */

/** @type {Map<string, Row>} */
const rows = new Map();
const collapsed = new Set(readCollapsed());
/** @type {string | null} */
let selected = location.hash.length > 1 ? safeDecode(location.hash.slice(1)) : null;
/** @type {{ node: string, at: number, processes: number } | null} */
let latest = null;
let receivedAt = 0;
/** @type {Promise<void> | null} */
let loading = null;
let stopped = false;

// -- formatting ------------------------------------------------------------------------------

/** @param {number | null | undefined} bytes */
function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** @param {number | null | undefined} seconds */
function formatUptime(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return DASH;
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** @param {number | null | undefined} rate */
function formatRate(rate) {
  return typeof rate === 'number' && Number.isFinite(rate) ? rate.toFixed(1) : DASH;
}

/** @param {number | null | undefined} percent */
function formatPercent(percent) {
  return typeof percent === 'number' && Number.isFinite(percent) ? `${percent.toFixed(1)} %` : DASH;
}

/** @param {number} unixSeconds */
function formatWhen(unixSeconds) {
  const when = new Date(unixSeconds * 1000);
  return `${when.toLocaleDateString()} ${when.toLocaleTimeString()}`;
}

/** The server's message as a sentence (action results come without the full stop). */
function sentence(/** @type {string} */ text) {
  const trimmed = String(text ?? '').trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** @param {string} text */
function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

// -- the tree as data ------------------------------------------------------------------------

/** @param {unknown} value @returns {value is Record<string, any>} */
function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A queue producer's format_status (as soundforge.actors.observer recognises one). */
function isProducer(/** @type {any} */ summary) {
  return isObject(summary) && 'queue' in summary && 'limit' in summary && Array.isArray(summary.running);
}

/** A folded entry: the request or socket processes under one parent, counted. */
function isFolded(/** @type {ProcessInfo} */ info) {
  return info.pid == null && / open$/.test(info.status);
}

/**
 * Processes that come and go in normal work: the folded request and socket processes, and
 * tasks (a producer's fetch, a job). A new pid under the same key is no restart for them,
 * and when they leave the tree nothing crashed.
 */
function isTransient(/** @type {ProcessInfo} */ info) {
  return isFolded(info) || (info.kind === 'task' && !info.child_id);
}

/** What a process is called in the tree. */
function labelOf(/** @type {ProcessInfo} */ info) {
  if (info.child_id) return info.child_id;
  if (info.name) return info.name;
  if (info.kind === 'port' && isObject(info.summary) && info.summary.name) return String(info.summary.name);
  return info.behaviour ?? info.kind;
}

/** Its step in a row's key: stable across restarts (never the pid, nor a folded count). */
function segmentOf(/** @type {ProcessInfo} */ info) {
  if (isFolded(info)) return `${info.kind}*`;
  if (info.child_id) return info.child_id;
  if (info.name) return info.name;
  if (info.kind === 'port' && isObject(info.summary) && info.summary.name) return `port:${info.summary.name}`;
  return info.behaviour ?? info.kind;
}

/**
 * The tree in display order, each process with its key, its parent's key and its depth.
 * Siblings with the same step (two tasks, two ports of one program) get #2, #3... in order.
 * @param {ProcessInfo[]} nodes
 * @param {string} parentKey
 * @param {number} depth
 * @param {{ key: string, parentKey: string, depth: number, info: ProcessInfo }[]} out
 */
function flatten(nodes, parentKey, depth, out) {
  const seen = new Map();
  for (const info of nodes) {
    let step = segmentOf(info);
    const n = (seen.get(step) ?? 0) + 1;
    seen.set(step, n);
    if (n > 1) step += `#${n}`;
    const key = parentKey ? `${parentKey}/${step}` : step;
    out.push({ key, parentKey, depth, info });
    flatten(info.children ?? [], key, depth + 1, out);
  }
  return out;
}

/** The kind-specific column: strategy and intensity, OS process, queue counts. */
function detailsOf(/** @type {ProcessInfo} */ info) {
  const summary = isObject(info.summary) ? info.summary : {};
  const parts = [];
  if (info.intensity_used != null) {
    if (summary.strategy) parts.push(String(summary.strategy).replaceAll('_', ' '));
    parts.push(summary.max_restarts != null
      ? `intensity ${info.intensity_used}/${summary.max_restarts} in ${summary.max_seconds} s`
      : `intensity ${info.intensity_used}`);
    if (info.crashes) parts.push(`${info.crashes} crash report${info.crashes === 1 ? '' : 's'}`);
  }
  if (info.kind === 'port' || info.os_pid != null) {
    parts.push(`OS pid ${info.os_pid ?? DASH}`, `CPU ${formatPercent(info.cpu_percent)}`,
      `RSS ${formatBytes(info.rss_bytes)}`);
  }
  if (isProducer(summary)) {
    if (summary.paused) parts.push('paused');
    parts.push(`running ${summary.running.length} of ${summary.limit}`);
    const counts = info.counts;
    if (counts) {
      parts.push(`available ${counts.available ?? 0}`, `retryable ${counts.retryable ?? 0}`,
        `scheduled ${counts.scheduled ?? 0}`);
    }
  }
  return parts.join(' · ');
}

/** @param {string} kind */
function kindClass(kind) {
  if (kind.endsWith('supervisor')) return 'supervisor';
  if (kind === 'port') return 'port';
  if (kind === 'task' || kind === 'worker') return 'task';
  if (kind === 'http' || kind === 'websocket') return 'request';
  if (kind === 'application' || kind === 'shell') return 'app';
  return 'server';
}

/** Badge words for the kinds with long names (the whole name is the badge's title). */
const SHORT_KINDS = /** @type {Record<string, string>} */ ({
  supervisor: 'sup',
  dynamic_supervisor: 'dyn sup',
  task_supervisor: 'task sup',
  gen_server: 'server',
  application: 'app',
  registry: 'reg',
  websocket: 'socket',
});

/** @param {HTMLElement} badge @param {string} kind */
function showKind(badge, kind) {
  const words = kind.replaceAll('_', ' ');
  if (badge.dataset.kind === kind) return;
  badge.dataset.kind = kind;
  badge.className = `kind kind--${kindClass(kind)}`;
  badge.title = words;
  const short = make('span', '', SHORT_KINDS[kind] ?? words);
  short.setAttribute('aria-hidden', 'true');
  badge.replaceChildren(short, make('span', 'visually-hidden', words));
}

/** @param {string} status */
function statusClass(status) {
  if (status === 'running' || status === 'waiting') return 'pill pill--ok';
  if (status === 'restarting') return 'pill pill--warn';
  if (status === 'stopped' || status === 'exited') return 'pill pill--bad';
  return 'pill';
}

// -- rows ------------------------------------------------------------------------------------

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function make(tag, className = '', text = '') {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text) element.textContent = text;
  return element;
}

/** @param {string} className @param {string} [text] */
function makeButton(className, text = '') {
  const button = /** @type {HTMLButtonElement} */ (make('button', className, text));
  button.type = 'button';
  return button;
}

/** Writes only what changed, so an update leaves selection, focus and layout alone. */
function setText(/** @type {Node} */ element, /** @type {string} */ text) {
  if (element.textContent !== text) element.textContent = text;
}

/** @param {HTMLElement} element @param {string} name @param {string} value */
function setData(element, name, value) {
  if (element.dataset[name] !== value) element.dataset[name] = value;
}

/** @param {Element} element @param {string} name @param {string} value */
function setAttr(element, name, value) {
  if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}

/** @param {string} key @returns {Row} */
function createRow(key) {
  const tr = /** @type {HTMLTableRowElement} */ (make('tr', 'actor-row'));
  tr.dataset.key = key;
  const nameCell = make('th', 'actor-name');
  nameCell.setAttribute('scope', 'row');
  const line = make('div', 'actor-line');
  const toggle = makeButton('tree-toggle');
  toggle.setAttribute('aria-expanded', 'true');
  const kind = make('span', 'kind');
  const label = makeButton('actor-label');
  const aside = make('span', 'muted actor-aside');
  line.append(toggle, kind, label, aside);
  // The kind's own line: strategy and intensity, OS process, queue counts and buttons.
  const details = make('div', 'actor-details');
  details.dataset.field = 'details';
  const detail = make('span', 'detail-text');
  details.append(detail);
  nameCell.append(line, details);
  const cells = {
    pid: make('td', 'actor-pid'),
    status: make('td', 'actor-status'),
    restarts: make('td', 'num'),
    mailbox: make('td', 'num'),
    rate: make('td', 'num'),
    uptime: make('td', 'num actor-uptime'),
  };
  for (const [name, cell] of Object.entries(cells)) cell.dataset.field = name;
  const pid = make('code');
  cells.pid.append(pid);
  const pill = make('span', 'pill');
  const mark = make('span', 'change-mark');
  mark.hidden = true;
  cells.status.append(pill, mark);
  tr.append(nameCell, ...Object.values(cells));
  return {
    key, tr, nameCell, toggle, kind, label, aside, pid, pill, mark, cells, details, detail,
    queueButtons: null, info: null, parentKey: '', last: null, changedAt: 0, goneAt: 0,
  };
}

/**
 * @param {Row} row
 * @param {{ parentKey: string, depth: number, info: ProcessInfo }} entry
 */
function updateRow(row, { parentKey, depth, info }) {
  row.info = info;
  row.parentKey = parentKey;
  const { tr } = row;
  if (row.goneAt) {
    row.goneAt = 0;
    delete tr.dataset.gone;
  }
  // A custom property through the CSSOM: allowed by the CSP, unlike a style attribute.
  if (row.nameCell.style.getPropertyValue('--depth') !== String(depth)) {
    row.nameCell.style.setProperty('--depth', String(depth));
  }
  setData(tr, 'kind', info.kind);
  setData(tr, 'status', info.status);
  setData(tr, 'pid', info.pid ?? '');
  setData(tr, 'osPid', info.os_pid == null ? '' : String(info.os_pid));
  setData(tr, 'restarts', String(info.restarts ?? 0));
  setData(tr, 'queue', isProducer(info.summary) ? String(info.summary.queue) : '');
  const label = labelOf(info);
  const hasChildren = (info.children?.length ?? 0) > 0;
  row.toggle.disabled = !hasChildren;
  setAttr(row.toggle, 'aria-label', `Children of ${label}`);
  showKind(row.kind, info.kind);
  setText(row.label, label);
  const behaviour = info.behaviour && info.behaviour !== label ? info.behaviour : '';
  setText(row.aside, behaviour);
  setAttr(row.label, 'title', behaviour ? `${label} (${behaviour})` : label);
  setText(row.pid, info.pid ?? DASH);
  showStatus(row.pill, info.status);
  setText(row.cells.restarts, String(info.restarts ?? 0));
  setText(row.cells.mailbox, String(info.mailbox ?? 0));
  setData(row.cells.mailbox, 'busy', String((info.mailbox ?? 0) >= 100));
  setText(row.cells.rate, formatRate(info.rate));
  setText(row.cells.uptime, info.pid ? formatUptime(info.uptime_s) : DASH);
  const details = detailsOf(info);
  setText(row.detail, details);
  row.details.hidden = !details && !isProducer(info.summary);
  showQueueButtons(row, info.summary);
}

/** @param {HTMLElement} pill @param {string} status */
function showStatus(pill, status) {
  setText(pill, status);
  const className = statusClass(status);
  if (pill.className !== className) pill.className = className;
}

/** A producer's row carries its queue's pause and resume buttons. */
function showQueueButtons(/** @type {Row} */ row, /** @type {any} */ summary) {
  if (!isProducer(summary)) {
    row.queueButtons?.remove();
    row.queueButtons = null;
    return;
  }
  if (!row.queueButtons) {
    const group = make('span', 'queue-buttons');
    for (const action of ['pause', 'resume']) {
      const button = makeButton('button small', action === 'pause' ? 'Pause' : 'Resume');
      button.dataset.queueAction = action;
      group.append(button);
    }
    row.details.append(group);
    row.queueButtons = group;
  }
  for (const button of row.queueButtons.querySelectorAll('button')) {
    const b = /** @type {HTMLButtonElement} */ (button);
    setData(b, 'queue', summary.queue);
    setAttr(b, 'aria-label', `${b.dataset.queueAction === 'pause' ? 'Pause' : 'Resume'} the ${summary.queue} queue`);
    b.hidden = (b.dataset.queueAction === 'pause') === Boolean(summary.paused);
  }
}

/**
 * Marks the row when its process was replaced, stopped or started, or (a supervisor) when
 * one more crash report came in, since the previous snapshot.
 * @param {Row} row
 * @param {ProcessInfo} info
 * @param {number} now
 */
function noteChange(row, info, now) {
  const current = {
    pid: info.pid ?? null,
    restarts: info.restarts ?? 0,
    os: info.os_pid ?? null,
    crashes: info.crashes ?? 0,
  };
  const last = row.last;
  row.last = current;
  if (!last || isTransient(info)) return;
  let change = '';
  if (current.restarts > last.restarts || (current.pid && last.pid && current.pid !== last.pid)) {
    change = 'restarted';
  } else if (!current.pid && last.pid) {
    change = info.status === 'restarting' ? 'restarting' : 'stopped';
  } else if (current.pid && !last.pid) {
    change = 'started';
  } else if (current.os !== last.os) {
    change = 'new OS process';
  } else if (current.crashes > last.crashes) {
    change = 'child crashed';
  }
  if (!change) return;
  row.changedAt = now;
  row.tr.dataset.changed = change;
  row.mark.textContent = change;
  row.mark.hidden = false;
  // Restart the highlight's animation, even when the previous one has not finished.
  row.tr.classList.remove('flash');
  void row.tr.offsetWidth;
  row.tr.classList.add('flash');
}

/** A process that left the tree: greyed out for a moment, then its row goes. */
function markGone(/** @type {Row} */ row, /** @type {number} */ now) {
  row.goneAt = now;
  row.tr.dataset.gone = 'true';
  showStatus(row.pill, 'exited');
  setText(row.pid, row.info?.pid ?? DASH);
  row.toggle.disabled = true;
}

/** Hides the rows under collapsed branches (parents come before their children). */
function applyVisibility() {
  /** @type {Map<string, boolean>} */
  const hiddenKeys = new Map();
  for (const tr of tbody.rows) {
    const row = rows.get(tr.dataset.key ?? '');
    if (!row) continue;
    const parent = row.parentKey;
    const hidden = parent !== '' && (collapsed.has(parent) || hiddenKeys.get(parent) === true);
    hiddenKeys.set(row.key, hidden);
    if (tr.hidden !== hidden) tr.hidden = hidden;
    setAttr(row.toggle, 'aria-expanded', String(!collapsed.has(row.key)));
    const isSelected = row.key === selected;
    tr.classList.toggle('selected', isSelected);
    if (isSelected) row.label.setAttribute('aria-current', 'true');
    else row.label.removeAttribute('aria-current');
  }
}

// -- snapshots -------------------------------------------------------------------------------

/** @param {any} snapshot an `admin.actors` snapshot */
function apply(snapshot) {
  if (!snapshot || !Array.isArray(snapshot.tree)) return;
  if (latest && snapshot.at <= latest.at) return; // a fetch that answered after a newer event
  const firstPaint = latest === null;
  latest = { node: snapshot.node, at: snapshot.at, processes: snapshot.processes };
  receivedAt = Date.now();
  const now = receivedAt;
  const present = new Set();
  /** @type {Element | null} */
  let previous = null;
  for (const entry of flatten(snapshot.tree, '', 0, [])) {
    present.add(entry.key);
    let row = rows.get(entry.key);
    if (!row) {
      row = createRow(entry.key);
      rows.set(entry.key, row);
    }
    noteChange(row, entry.info, now);
    updateRow(row, entry);
    // Move a row only when it is out of place, so that an unchanged tree touches nothing;
    // a row that just left the tree keeps its place after the row it followed.
    let wanted = previous ? previous.nextElementSibling : tbody.firstElementChild;
    while (wanted instanceof HTMLElement && wanted !== row.tr && wanted.dataset.gone) {
      wanted = wanted.nextElementSibling;
    }
    if (wanted !== row.tr) tbody.insertBefore(row.tr, wanted);
    previous = row.tr;
  }
  for (const row of [...rows.values()]) {
    if (present.has(row.key)) continue;
    if (row.info && isTransient(row.info)) {
      // A request, socket or task that ended: nothing crashed, nothing to show.
      row.tr.remove();
      rows.delete(row.key);
    } else if (!row.goneAt) {
      markGone(row, now);
    } else if (now - row.goneAt > GONE_MS) {
      row.tr.remove();
      rows.delete(row.key);
    }
  }
  expireMarks(now);
  applyVisibility();
  showNote();
  renderInspect();
  // A selection from the address (a reload, a shared link): show where it is.
  if (firstPaint && selected) rows.get(selected)?.tr.scrollIntoView({ block: 'center' });
}

/** The snapshot now, over HTTP: the first paint, and whenever the socket falls silent. */
function load() {
  if (!loading && !stopped) {
    loading = api(SNAPSHOT_URL)
      .then(apply)
      .catch((error) => {
        say(describe(error), 'error');
        if (error?.status === 401 || error?.status === 403) stopped = true;
      })
      .finally(() => {
        loading = null;
      });
  }
  return loading ?? Promise.resolve();
}

/** @param {number} now */
function expireMarks(now) {
  for (const row of rows.values()) {
    if (row.changedAt && now - row.changedAt > CHANGED_MS) {
      row.changedAt = 0;
      delete row.tr.dataset.changed;
      row.tr.classList.remove('flash');
      row.mark.hidden = true;
    }
  }
}

function showNote() {
  if (!latest) return;
  const age = Math.round((Date.now() - receivedAt) / 1000);
  const stale = Date.now() - receivedAt > STALE_MS;
  const words = `${latest.node} · ${latest.processes} processes · `;
  setText(note, words + (stale
    ? `no update for ${age} s (live updates: ${live.state})`
    : `updated ${new Date(latest.at * 1000).toLocaleTimeString()}`));
  setData(note, 'stale', String(stale));
}

function tick() {
  const now = Date.now();
  expireMarks(now);
  showNote();
  // The observer samples only while someone follows; when the socket is down, ask directly.
  if (latest && now - receivedAt > STALE_MS && !document.hidden) load();
}

// -- the status line and the confirmation ----------------------------------------------------

/**
 * @param {string} text
 * @param {'ok' | 'error'} [kind]
 */
function say(text, kind = 'ok') {
  statusLine.textContent = text;
  statusLine.dataset.kind = kind;
}

/**
 * Asks in the layout's <dialog>; resolves true when confirmed.
 * @param {string} text
 * @param {string} confirmLabel
 * @returns {Promise<boolean>}
 */
function confirmAction(text, confirmLabel) {
  if (!dialog) return Promise.resolve(window.confirm(text));
  byId('confirm-text').textContent = text;
  byId('confirm-ok').textContent = confirmLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

// -- the inspect panel -----------------------------------------------------------------------

/**
 * What the panel's parts were last drawn or fetched for (null: not yet, for this selection).
 * @type {Record<'crashes' | 'jobs' | 'summary' | 'links' | 'monitors' | 'facts', string | null>}
 */
const shown = { crashes: null, jobs: null, summary: null, links: null, monitors: null, facts: null };
/** @type {AbortController | null} */
let crashRequest = null;
/** @type {AbortController | null} */
let jobsRequest = null;
/** Tracebacks the user opened or closed, by report. @type {Map<string, boolean>} */
const openReports = new Map();

/**
 * @param {string | null} key
 * @param {{ user?: boolean }} [options]
 */
function select(key, { user = false } = {}) {
  selected = key;
  const url = key ? `#${encodeURIComponent(key)}` : `${location.pathname}${location.search}`;
  history.replaceState(null, '', url);
  for (const name of Object.keys(shown)) shown[/** @type {keyof typeof shown} */ (name)] = null;
  applyVisibility();
  renderInspect();
  if (user && narrow.matches) panel.scrollIntoView({ block: 'start', behavior: 'smooth' });
}

/** The row of the process `pid`, if the tree shows it. */
function rowOfPid(/** @type {string} */ pid) {
  for (const row of rows.values()) if (row.info?.pid === pid && !row.goneAt) return row;
  return undefined;
}

function renderInspect() {
  const row = selected ? rows.get(selected) : undefined;
  if (!row?.info) {
    inspect.body.hidden = true;
    inspect.empty.hidden = false;
    if (selected && latest) inspect.empty.textContent = 'That process is no longer in the tree; choose another.';
    return;
  }
  const info = row.info;
  inspect.empty.hidden = true;
  inspect.body.hidden = false;
  showKind(inspect.kind, info.kind);
  setText(inspect.label, labelOf(info));
  setText(inspect.pid, info.pid ?? '');
  showStatus(inspect.status, row.goneAt ? 'exited' : info.status);
  showActions(row);
  showFacts(row);
  showSummary(info);
  showPids(inspect.links, info.links ?? [], 'links', 'No links.');
  showPids(inspect.monitors, info.monitors ?? [], 'monitors', 'It monitors no process.');
  const watchers = info.monitored_by ?? 0;
  setText(inspect.monitoredBy, `Monitored by ${watchers} process${watchers === 1 ? '' : 'es'}.`);
  showQueue(info);
  // Not the status itself: a busy process goes from running to waiting and back all the time.
  const life = info.pid && !row.goneAt ? 'alive' : (row.goneAt ? 'exited' : info.status);
  const crashKey = `${row.key}|${info.pid}|${info.restarts ?? 0}|${info.crashes ?? 0}|${life}`;
  if (crashKey !== shown.crashes) {
    shown.crashes = crashKey;
    fetchCrashes(row);
  }
}

/** What can be done to the process, and why not the rest. */
function showActions(/** @type {Row} */ row) {
  const info = /** @type {ProcessInfo} */ (row.info);
  const running = Boolean(info.pid) && !row.goneAt;
  const supervised = Boolean(info.child_id) && !isFolded(info);
  const can = {
    restart: supervised && (running || info.status === 'stopped'),
    stop: supervised && running,
    kill: running,
  };
  for (const button of inspect.actions.querySelectorAll('button[data-act]')) {
    const b = /** @type {HTMLButtonElement} */ (button);
    if (!b.dataset.busy) b.disabled = !can[/** @type {'restart' | 'stop' | 'kill'} */ (b.dataset.act)];
  }
  let why = '';
  if (isFolded(info)) why = 'These request and socket processes come and go with each request; they are counted, not shown one by one.';
  else if (row.goneAt) why = 'The process has exited.';
  else if (!info.pid && info.status === 'restarting') why = 'Its supervisor is restarting it.';
  else if (!info.pid) why = 'It is stopped: restart starts it again.';
  else if (!supervised) why = 'No supervisor started it from a child spec (the root, a dynamic child or a task): only kill applies, and its owner decides what happens next.';
  setText(inspect.actionsNote, why);
  inspect.actionsNote.hidden = !why;
}

/**
 * @typedef {{ term: string, text: string, pid?: string }} Fact
 */

function showFacts(/** @type {Row} */ row) {
  const info = /** @type {ProcessInfo} */ (row.info);
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
  const shape = facts.map((f) => `${f.term}${f.pid ? '*' : ''}`).join('|');
  if (shape !== shown.facts) {
    shown.facts = shape;
    inspect.facts.replaceChildren(...facts.flatMap((fact) => {
      const dd = make('dd');
      dd.dataset.fact = fact.term;
      return [make('dt', '', fact.term), dd];
    }));
  }
  for (const fact of facts) {
    const dd = /** @type {HTMLElement} */ (inspect.facts.querySelector(`dd[data-fact="${CSS.escape(fact.term)}"]`));
    if (fact.pid) showPidIn(dd, fact.pid);
    else setText(dd, fact.text);
  }
}

/** A pid as a button that selects its row (plain text when the tree does not show it). */
function showPidIn(/** @type {HTMLElement} */ container, /** @type {string} */ pid) {
  const inTree = Boolean(rowOfPid(pid));
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
function showPids(list, pids, which, none) {
  const signature = pids.map((pid) => `${pid}${rowOfPid(pid) ? '' : '?'}`).join(',');
  if (signature === shown[which]) return;
  shown[which] = signature;
  if (pids.length === 0) {
    list.replaceChildren(make('li', 'muted', none));
    return;
  }
  list.replaceChildren(...pids.map((pid) => {
    const item = make('li');
    showPidIn(item, pid);
    const row = rowOfPid(pid);
    if (row?.info) item.append(' ', make('span', 'muted', labelOf(row.info)));
    return item;
  }));
}

/** format_status: a definition list for a dict, the text itself otherwise. */
function showSummary(/** @type {ProcessInfo} */ info) {
  const text = JSON.stringify(info.summary ?? null);
  if (text === shown.summary) return;
  shown.summary = text;
  const summary = info.summary;
  if (summary == null) {
    inspect.summary.replaceChildren(make('p', 'muted', 'No status: the process has no state to show.'));
  } else if (isObject(summary)) {
    const dl = make('dl', 'facts');
    for (const [key, value] of Object.entries(summary)) {
      const dd = make('dd');
      if (value !== null && typeof value === 'object') dd.append(make('pre', '', JSON.stringify(value, null, 2)));
      else dd.textContent = value === null ? 'null' : String(value);
      dl.append(make('dt', '', key), dd);
    }
    inspect.summary.replaceChildren(dl);
  } else {
    inspect.summary.replaceChildren(make('pre', '', typeof summary === 'string' ? summary : JSON.stringify(summary, null, 2)));
  }
}

/**
 * The crash reports about the process: its own (a supervisor's: its children's), or, for a
 * child that is not running now, those its supervisor kept under its child id.
 * @param {Row} row
 */
async function fetchCrashes(row) {
  const info = /** @type {ProcessInfo} */ (row.info);
  crashRequest?.abort();
  let target = info.pid && !row.goneAt ? info.pid : null;
  /** @type {string | null} */
  let onlyChild = null;
  if (!target && info.child_id && !isFolded(info)) {
    const parent = rows.get(row.parentKey)?.info?.pid;
    if (parent) {
      target = parent;
      onlyChild = info.child_id;
    }
  }
  if (!target) {
    showCrashes([], isFolded(info) ? 'Folded processes have no crash reports.' : 'No crash reports to show.');
    return;
  }
  const request = new AbortController();
  crashRequest = request;
  try {
    const detail = await api(`/api/v1/admin/actors/process?target=${encodeURIComponent(target)}`,
      { signal: request.signal });
    if (crashRequest !== request) return;
    /** @type {any[]} */
    let reports = detail?.crash_reports ?? [];
    if (onlyChild) reports = reports.filter((report) => report.child_id === onlyChild);
    showCrashes(reports, 'No crash reports.');
  } catch (error) {
    if (/** @type {any} */ (error)?.name === 'AbortError' || crashRequest !== request) return;
    showCrashes([], describe(error));
  }
}

/**
 * @param {{ at: number, child_id: string | null, pid: string, reason: string, traceback: string }[]} reports
 * @param {string} none
 */
function showCrashes(reports, none) {
  if (reports.length === 0) {
    inspect.crashes.replaceChildren(make('li', 'muted', none));
    return;
  }
  const newestFirst = [...reports].sort((a, b) => b.at - a.at);
  inspect.crashes.replaceChildren(...newestFirst.map((report, index) => {
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
    details.open = openReports.get(key) ?? index === 0;
    details.addEventListener('toggle', () => openReports.set(key, details.open));
    details.append(make('summary', '', 'Traceback'), make('pre', 'traceback', report.traceback));
    item.append(head, reason, details);
    return item;
  }));
}

/** A producer's queue: pause or resume it, and the jobs it runs now, each to cancel. */
function showQueue(/** @type {ProcessInfo} */ info) {
  const summary = info.summary;
  if (!isProducer(summary)) {
    inspect.queue.hidden = true;
    return;
  }
  inspect.queue.hidden = false;
  setText(inspect.queueTitle, `The ${summary.queue} queue`);
  setText(inspect.queueState, `${summary.paused ? 'Paused' : 'Running'}: ${summary.running.length} of ${summary.limit} jobs on this node.`);
  for (const button of inspect.queue.querySelectorAll('button[data-queue-action]')) {
    const b = /** @type {HTMLButtonElement} */ (button);
    setData(b, 'queue', summary.queue);
    b.hidden = (b.dataset.queueAction === 'pause') === Boolean(summary.paused);
  }
  const jobsKey = `${summary.queue}|${summary.running.join(',')}|${info.counts?.executing ?? ''}`;
  if (jobsKey !== shown.jobs) {
    shown.jobs = jobsKey;
    fetchJobs(summary.queue);
  }
}

/** @param {string} queue */
async function fetchJobs(queue) {
  jobsRequest?.abort();
  const request = new AbortController();
  jobsRequest = request;
  try {
    const page = await api(`/api/v1/admin/jobs?state=executing&queue=${encodeURIComponent(queue)}&limit=20`,
      { signal: request.signal });
    if (jobsRequest !== request) return;
    /** @type {any[]} */
    const jobs = page?.items ?? [];
    if (jobs.length === 0) {
      inspect.jobs.replaceChildren(make('li', 'muted', 'No job of this queue is executing.'));
      return;
    }
    inspect.jobs.replaceChildren(...jobs.map((job) => {
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
    }));
  } catch (error) {
    if (/** @type {any} */ (error)?.name === 'AbortError' || jobsRequest !== request) return;
    inspect.jobs.replaceChildren(make('li', 'muted', describe(error)));
  }
}

// -- actions ---------------------------------------------------------------------------------

/** @param {'restart' | 'stop' | 'kill'} action @param {ProcessInfo} info */
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

const ACTION_LABELS = { restart: 'Restart', stop: 'Stop', kill: 'Kill' };

/**
 * The result in the tree's words: the server's message names the target as sent (a pid,
 * for a running process), so the page says which process it was and what became of it.
 * @param {'restart' | 'stop' | 'kill'} action
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

async function act(/** @type {HTMLButtonElement} */ button) {
  const row = selected ? rows.get(selected) : undefined;
  const info = row?.info;
  const action = /** @type {'restart' | 'stop' | 'kill'} */ (button.dataset.act);
  if (!row || !info) return;
  // The pid names this very process; a stopped child only has its id.
  const target = info.pid && !row.goneAt ? info.pid : info.child_id;
  if (!target) return;
  if (!(await confirmAction(question(action, info), ACTION_LABELS[action]))) return;
  const buttons = [...inspect.actions.querySelectorAll('button[data-act]')].map((b) => /** @type {HTMLButtonElement} */ (b));
  for (const b of buttons) {
    b.dataset.busy = 'true';
    b.disabled = true;
  }
  try {
    const result = await api(`/api/v1/admin/actors/${action}`, { method: 'POST', body: { target } });
    say(outcome(action, labelOf(info), result));
    load();
  } catch (error) {
    say(describe(error), 'error');
  } finally {
    for (const b of buttons) delete b.dataset.busy;
    if (rows.get(selected ?? '')?.info) showActions(/** @type {Row} */ (rows.get(/** @type {string} */ (selected))));
  }
}

async function queueAction(/** @type {HTMLButtonElement} */ button) {
  const name = button.dataset.queue ?? '';
  const pause = button.dataset.queueAction === 'pause';
  const text = pause
    ? `Pause the ${name} queue on every node? Jobs running now finish; no new ones start until it is resumed.`
    : `Resume the ${name} queue on every node? Its producers start claiming jobs again.`;
  if (!(await confirmAction(text, pause ? 'Pause queue' : 'Resume queue'))) return;
  button.disabled = true;
  try {
    await api(`/api/v1/admin/queues/${encodeURIComponent(name)}/${pause ? 'pause' : 'resume'}`, { method: 'POST' });
    say(pause
      ? `The ${name} queue is paused: running jobs finish, no new ones start.`
      : `The ${name} queue runs again.`);
    load();
  } catch (error) {
    say(describe(error), 'error');
  } finally {
    button.disabled = false;
  }
}

async function cancelJob(/** @type {HTMLButtonElement} */ button) {
  const id = button.dataset.cancelJob ?? '';
  const text = `Cancel job #${id} (${button.dataset.worker ?? 'a job'})? It stops now and is not tried again.`;
  if (!(await confirmAction(text, 'Cancel job'))) return;
  button.disabled = true;
  try {
    await api(`/api/v1/admin/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
    say(`Job #${id} is cancelled.`);
    button.closest('li')?.setAttribute('data-done', 'true');
    shown.jobs = null;
    load();
  } catch (error) {
    button.disabled = false;
    say(describe(error), 'error');
  }
}

// -- wiring ----------------------------------------------------------------------------------

function saveCollapsed() {
  try {
    sessionStorage.setItem(COLLAPSED_KEY, JSON.stringify([...collapsed]));
  } catch {
    // Private browsing without storage: the branches reset on reload, nothing worse.
  }
}

/** @returns {string[]} */
function readCollapsed() {
  try {
    const value = JSON.parse(sessionStorage.getItem(COLLAPSED_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((key) => typeof key === 'string') : [];
  } catch {
    return [];
  }
}

/** The sticky status line and panel sit below the site's sticky top bar, however tall. */
function followTopBar() {
  const bar = document.querySelector('.topbar');
  const page = document.getElementById('actors');
  if (!bar || !page) return;
  const measure = () => page.style.setProperty('--topbar', `${Math.ceil(bar.getBoundingClientRect().height)}px`);
  measure();
  new ResizeObserver(measure).observe(bar);
}

function bind() {
  followTopBar();
  tbody.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const tr = target?.closest('tr[data-key]');
    if (!target || !(tr instanceof HTMLTableRowElement)) return;
    const key = tr.dataset.key ?? '';
    if (target.closest('.tree-toggle')) {
      if (collapsed.has(key)) collapsed.delete(key);
      else collapsed.add(key);
      saveCollapsed();
      applyVisibility();
      return;
    }
    if (target.closest('button:not(.actor-label), a')) return; // the row's own buttons
    if (window.getSelection()?.toString()) return; // copying a pid is not choosing a row
    select(key, { user: true });
  });
  byId('actors-expand').addEventListener('click', () => {
    collapsed.clear();
    saveCollapsed();
    applyVisibility();
  });
  byId('actors-collapse').addEventListener('click', () => {
    for (const row of rows.values()) if (!row.toggle.disabled) collapsed.add(row.key);
    saveCollapsed();
    applyVisibility();
  });
  document.getElementById('actors')?.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const button = target?.closest('button');
    if (!(button instanceof HTMLButtonElement)) return;
    if (button.dataset.queueAction) queueAction(button);
    else if (button.dataset.cancelJob) cancelJob(button);
    else if (button.dataset.act) act(button);
    else if (button.dataset.pid) {
      const row = rowOfPid(button.dataset.pid);
      if (row) select(row.key, { user: true });
    }
  });
  // The snapshots carry no topic, so they reach the page as the socket's every event.
  live.addEventListener('event', (event) => {
    const detail = /** @type {CustomEvent} */ (event).detail;
    if (detail?.type === 'admin.actors') apply(detail);
  });
  live.addEventListener('error', (event) => {
    const detail = /** @type {CustomEvent} */ (event).detail;
    if (detail?.topic === TOPIC) say(detail.message ?? 'The live tree is not available.', 'error');
  });
  live.addEventListener('status', (event) => {
    if (/** @type {CustomEvent} */ (event).detail?.reconnected) load();
    showNote();
  });
  live.subscribe(TOPIC, apply);
  window.setInterval(tick, 1000);
}

if (table) {
  bind();
  load();
}
