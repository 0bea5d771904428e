/**
 * The supervision tree as data, as the actors console (/admin/actors) reads it: what kind of
 * process an entry of the observer's snapshot is, what it is called, and the key of its row.
 *
 * A row's key is the process's path of child ids from the top, never its pid: a pid changes
 * on every restart (as in Erlang, a restarted child is a new process), its path does not, so
 * the page can tell "restarted" from "a new process appeared". Nothing here touches the page.
 *
 *     for (const { key, parentKey, depth, info } of flatten(snapshot.tree, '', 0, [])) ...
 *     // key: "Root/Queues/notifier", "Root/PortSupervisor/port:sleeper", "Root/http*"...
 */

import { DASH, formatBytes, formatPercent } from './actors-format.js';

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
 * One process in display order, with where it sits.
 * @typedef {{ key: string, parentKey: string, depth: number, info: ProcessInfo }} Entry
 */

/** @param {unknown} value @returns {value is Record<string, any>} */
export function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A queue producer's format_status (as soundforge.actors.observer recognises one). */
export function isProducer(/** @type {any} */ summary) {
  return isObject(summary) && 'queue' in summary && 'limit' in summary && Array.isArray(summary.running);
}

/** A folded entry: the request or socket processes under one parent, counted. */
export function isFolded(/** @type {ProcessInfo} */ info) {
  return info.pid == null && / open$/.test(info.status);
}

/**
 * Processes that come and go in normal work: the folded request and socket processes, and
 * tasks (a producer's fetch, a job). A new pid under the same key is no restart for them,
 * and when they leave the tree nothing crashed.
 */
export function isTransient(/** @type {ProcessInfo} */ info) {
  return isFolded(info) || (info.kind === 'task' && !info.child_id);
}

/** What a process is called in the tree. */
export function labelOf(/** @type {ProcessInfo} */ info) {
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
 * @param {Entry[]} out
 * @returns {Entry[]}
 */
export function flatten(nodes, parentKey, depth, out) {
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
export function detailsOf(/** @type {ProcessInfo} */ info) {
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
