/**
 * The actors console's tree table (/admin/actors): one row per process, updated in place from
 * each of the observer's snapshots — the page's view of a supervision tree, as the
 * application tab of Erlang's observer shows one.
 *
 * Rows are keyed by the process's path of child ids from the top (actors-process.js), not by
 * pid, so expanded and collapsed branches, the selection, focus and the scroll position all
 * survive an update, and a restart shows as a change of the same row. A row whose pid or
 * restart count just changed is marked for a few seconds ("restarted", "stopped"...), a
 * supervisor whose crash reports grew is marked "child crashed", and a process that left the
 * tree stays greyed out for a moment before its row goes. Unlike observer, a stopped child
 * keeps its row (its supervisor still holds its spec), so it can be restarted from here.
 *
 *     const tree = new ActorsTree(tbody, 'Root/Queues');
 *     tree.update(snapshot.tree, Date.now());    // every snapshot
 *     tree.toggle('Root/Queues');                // collapse or expand a branch (kept per tab)
 */

import { DASH, formatRate, formatUptime } from './actors-format.js';
import { make, makeButton, setAttr, setData, setText, showKind, showStatus } from './actors-dom.js';
import { detailsOf, flatten, isProducer, isTransient, labelOf } from './actors-process.js';

/** How long a row whose pid or restarts just changed stays marked. */
const CHANGED_MS = 10_000;
/** How long a process that left the tree stays in it, greyed out. */
const GONE_MS = 5_000;
const COLLAPSED_KEY = 'sf-admin-actors-collapsed';

/** @typedef {import('./actors-process.js').ProcessInfo} ProcessInfo */
/** @typedef {import('./actors-process.js').Entry} Entry */

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

export class ActorsTree {
  /** @type {Map<string, Row>} */
  #rows = new Map();
  /** @type {Set<string>} the keys of the collapsed branches */
  #collapsed = new Set(readCollapsed());
  #tbody;
  #drawn = false;
  /** The chosen row's key, whether the tree shows that process or not. @type {string | null} */
  selected;

  /**
   * @param {HTMLTableSectionElement} tbody the table's body, which the tree owns
   * @param {string | null} selected the key chosen at first (from the address)
   */
  constructor(tbody, selected) {
    this.#tbody = tbody;
    this.selected = selected;
  }

  /** Whether a snapshot has been drawn yet. */
  get drawn() {
    return this.#drawn;
  }

  /** @param {string} key */
  get(key) {
    return this.#rows.get(key);
  }

  /** The chosen row, if the tree has it. */
  selectedRow() {
    return this.selected ? this.#rows.get(this.selected) : undefined;
  }

  /** The row of the process `pid`, if the tree shows it. */
  rowOfPid(/** @type {string} */ pid) {
    for (const row of this.#rows.values()) if (row.info?.pid === pid && !row.goneAt) return row;
    return undefined;
  }

  /**
   * Draws a snapshot's tree: new rows added, changed ones marked, rows moved only when out
   * of place, processes that left it greyed out and later removed.
   * @param {ProcessInfo[]} nodes the snapshot's `tree`
   * @param {number} now
   */
  update(nodes, now) {
    this.#drawn = true;
    const present = new Set();
    /** @type {Element | null} */
    let previous = null;
    for (const entry of flatten(nodes, '', 0, [])) {
      present.add(entry.key);
      let row = this.#rows.get(entry.key);
      if (!row) {
        row = createRow(entry.key);
        this.#rows.set(entry.key, row);
      }
      noteChange(row, entry.info, now);
      updateRow(row, entry);
      this.#place(row, previous);
      previous = row.tr;
    }
    for (const row of [...this.#rows.values()]) {
      if (present.has(row.key)) continue;
      if (row.info && isTransient(row.info)) {
        // A request, socket or task that ended: nothing crashed, nothing to show.
        this.#remove(row);
      } else if (!row.goneAt) {
        markGone(row, now);
      } else if (now - row.goneAt > GONE_MS) {
        this.#remove(row);
      }
    }
    this.expireMarks(now);
    this.applyVisibility();
  }

  /**
   * Moves a row only when it is out of place, so that an unchanged tree touches nothing;
   * a row that just left the tree keeps its place after the row it followed.
   * @param {Row} row
   * @param {Element | null} previous the row drawn before it
   */
  #place(row, previous) {
    let wanted = previous ? previous.nextElementSibling : this.#tbody.firstElementChild;
    while (wanted instanceof HTMLElement && wanted !== row.tr && wanted.dataset.gone) {
      wanted = wanted.nextElementSibling;
    }
    if (wanted !== row.tr) this.#tbody.insertBefore(row.tr, wanted);
  }

  /** @param {Row} row */
  #remove(row) {
    row.tr.remove();
    this.#rows.delete(row.key);
  }

  /** Unmarks the rows whose change is old news. @param {number} now */
  expireMarks(now) {
    for (const row of this.#rows.values()) {
      if (row.changedAt && now - row.changedAt > CHANGED_MS) {
        row.changedAt = 0;
        delete row.tr.dataset.changed;
        row.tr.classList.remove('flash');
        row.mark.hidden = true;
      }
    }
  }

  /** Hides the rows under collapsed branches (parents come before their children). */
  applyVisibility() {
    /** @type {Map<string, boolean>} */
    const hiddenKeys = new Map();
    for (const tr of this.#tbody.rows) {
      const row = this.#rows.get(tr.dataset.key ?? '');
      if (!row) continue;
      const parent = row.parentKey;
      const hidden = parent !== '' && (this.#collapsed.has(parent) || hiddenKeys.get(parent) === true);
      hiddenKeys.set(row.key, hidden);
      if (tr.hidden !== hidden) tr.hidden = hidden;
      setAttr(row.toggle, 'aria-expanded', String(!this.#collapsed.has(row.key)));
      const isSelected = row.key === this.selected;
      tr.classList.toggle('selected', isSelected);
      if (isSelected) row.label.setAttribute('aria-current', 'true');
      else row.label.removeAttribute('aria-current');
    }
  }

  /** Collapses the branch under `key`, or expands it again. @param {string} key */
  toggle(key) {
    if (this.#collapsed.has(key)) this.#collapsed.delete(key);
    else this.#collapsed.add(key);
    this.#branchesChanged();
  }

  expandAll() {
    this.#collapsed.clear();
    this.#branchesChanged();
  }

  collapseAll() {
    for (const row of this.#rows.values()) if (!row.toggle.disabled) this.#collapsed.add(row.key);
    this.#branchesChanged();
  }

  #branchesChanged() {
    saveCollapsed(this.#collapsed);
    this.applyVisibility();
  }
}

// -- one row ---------------------------------------------------------------------------------

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

/** @param {Row} row @param {Entry} entry */
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

// -- collapsed branches, kept for the tab ----------------------------------------------------

/** @param {Set<string>} collapsed */
function saveCollapsed(collapsed) {
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
