/**
 * The actors console's DOM helpers (/admin/actors): making elements, writing to them only
 * when the value changed, and the kind and status badges that the tree and the inspect panel
 * share.
 *
 * The page redraws every second from the observer's snapshot; writing only what changed is
 * what keeps the reader's text selection, focus and scroll position through an update, and
 * keeps the browser from re-laying out an unchanged tree.
 *
 *     const pill = make('span', 'pill');
 *     showStatus(pill, 'running');   // "pill pill--ok"; a second call with it touches nothing
 */

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
export function make(tag, className = '', text = '') {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text) element.textContent = text;
  return element;
}

/** @param {string} className @param {string} [text] */
export function makeButton(className, text = '') {
  const button = /** @type {HTMLButtonElement} */ (make('button', className, text));
  button.type = 'button';
  return button;
}

/** Writes only what changed, so an update leaves selection, focus and layout alone. */
export function setText(/** @type {Node} */ element, /** @type {string} */ text) {
  if (element.textContent !== text) element.textContent = text;
}

/** @param {HTMLElement} element @param {string} name @param {string} value */
export function setData(element, name, value) {
  if (element.dataset[name] !== value) element.dataset[name] = value;
}

/** @param {Element} element @param {string} name @param {string} value */
export function setAttr(element, name, value) {
  if (element.getAttribute(name) !== value) element.setAttribute(name, value);
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
export function showKind(badge, kind) {
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

/** @param {HTMLElement} pill @param {string} status */
export function showStatus(pill, status) {
  setText(pill, status);
  const className = statusClass(status);
  if (pill.className !== className) pill.className = className;
}
