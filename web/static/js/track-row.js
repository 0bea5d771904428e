/**
 * One row of the library list, drawn from a TrackSummary (GET /api/v1/tracks), and the
 * pipeline events applied to that summary.
 *
 * The markup is the same as `web/templates/partials/track_row.html`, which renders the first
 * page on the server; `stageView` and `trackView` mirror `soundforge/web/_templating.py`
 * (same states, same words), so a row looks the same whoever drew it.
 *
 *     const row = renderRow(summary);            // an <li class="track">
 *     applyEvent(summary, event);                // a track.stage / track.progress / track.status
 *     row.replaceWith(renderRow(summary));
 *     updateProgress(row, 'separate', 0.42, 'separating');   // cheap, in place
 */

export const STAGES = [['download', 'Download'], ['separate', 'Separate'], ['analyze', 'Analyse']];

const STAGE_STATES = {
  available: 'waiting',
  scheduled: 'waiting',
  executing: 'running',
  retryable: 'retrying',
  completed: 'done',
  discarded: 'failed',
  cancelled: 'cancelled',
};
const STATE_WORDS = {
  none: 'not started',
  waiting: 'queued',
  running: 'running',
  retrying: 'will retry',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};
/** A `track.stage` event's state → the job state a summary holds. */
const EVENT_JOB_STATES = {
  started: 'executing',
  completed: 'completed',
  retrying: 'retryable',
  failed: 'discarded',
  cancelled: 'cancelled',
};

export function duration(ms) {
  if (ms == null) return '–';
  let seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const ss = String(seconds).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${ss}` : `${minutes}:${ss}`;
}

export function bpm(value) {
  if (value == null || !Number.isFinite(value)) return '–';
  return Math.abs(value - Math.round(value)) < 0.05 ? value.toFixed(0) : value.toFixed(1);
}

/** The three stages of a summary as a row shows them. */
export function stageView(track) {
  const byStage = new Map((track.stages ?? []).map((s) => [s.stage, s]));
  return STAGES.map(([stage, name]) => {
    const job = byStage.get(stage);
    const state = job ? STAGE_STATES[job.state] ?? 'waiting' : 'none';
    const percent = state === 'done' ? 100 : Math.round(100 * (job?.progress ?? 0));
    return {
      stage,
      name,
      state,
      words: STATE_WORDS[state],
      percent: Math.max(0, Math.min(100, percent)),
      label: job && state === 'running' ? job.label : null,
      jobId: job?.job_id ?? null,
      error: job && state !== 'done' ? job.error : null,
      canRetry: ['failed', 'cancelled', 'retrying'].includes(state),
      canCancel: ['waiting', 'running', 'retrying'].includes(state),
    };
  });
}

export function trackView(track) {
  const stages = stageView(track);
  const problem = track.error || stages.find((s) => s.error)?.error || null;
  return {
    stages,
    problem,
    retry: stages.filter((s) => s.canRetry),
    cancel: [...stages].reverse().find((s) => s.canCancel) ?? null,
  };
}

/** Apply a pipeline event to a summary (mutating it); true when the row must be redrawn. */
export function applyEvent(track, event) {
  if (event.type === 'track.status') {
    track.status = event.status;
    track.error = event.error ?? null;
    return true;
  }
  if (event.type !== 'track.stage' && event.type !== 'track.progress') return false;
  track.stages ??= [];
  let stage = track.stages.find((s) => s.stage === event.stage);
  if (!stage) {
    stage = { stage: event.stage, job_id: event.job_id ?? null, state: 'available', attempt: 1,
      max_attempts: 1, progress: 0, label: null, error: null };
    track.stages.push(stage);
    const order = STAGES.map(([name]) => name);
    track.stages.sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage));
  }
  if (event.type === 'track.progress') {
    const redraw = stage.state !== 'executing';
    stage.state = 'executing';
    stage.progress = event.fraction;
    stage.label = event.label;
    stage.error = null;
    return redraw;
  }
  stage.state = EVENT_JOB_STATES[event.state] ?? stage.state;
  stage.job_id = event.job_id ?? stage.job_id;
  stage.attempt = event.attempt ?? stage.attempt;
  stage.error = event.error ?? null;
  if (event.state === 'completed') stage.progress = 1;
  if (event.state === 'started') {
    stage.progress = 0;
    stage.label = null;
  }
  return true;
}

/** Update one stage's bar and words in place (for progress events, many a second). */
export function updateProgress(row, stage, fraction, label) {
  const item = row.querySelector(`.stage[data-stage="${stage}"]`);
  if (!item) return;
  const percent = Math.max(0, Math.min(100, Math.round(100 * fraction)));
  item.className = 'stage state-running';
  item.querySelector('progress').value = percent;
  item.querySelector('progress').textContent = `${percent}%`;
  item.querySelector('.stage-pct').textContent = `${percent}%`;
  item.querySelector('.stage-words').textContent = label || STATE_WORDS.running;
}

/** `h('a', { class: 'x', href }, 'text', child)`: an element; attributes false/null are left out. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function button(label, attributes) {
  return h('button', { type: 'button', ...attributes }, label);
}

/** The `<li class="track">` of a summary. */
export function renderRow(track, { selected = false } = {}) {
  const view = trackView(track);
  const keyCell = h('dd', {}, track.key || '–');
  if (track.camelot) {
    keyCell.append(' ', h('span', {
      class: `camelot camelot-${track.camelot}`, title: `Camelot ${track.camelot}`,
    }, track.camelot));
  }
  const stages = h('ol', { class: 'stages', 'aria-label': 'Pipeline' }, view.stages.map((s) => h(
    'li', { class: `stage state-${s.state}`, 'data-stage': s.stage },
    h('span', { class: 'stage-name' }, s.name),
    h('progress', { max: 100, value: s.percent, 'aria-label': s.name }, `${s.percent}%`),
    h('span', { class: 'stage-pct' }, `${s.percent}%`),
    h('span', { class: 'stage-words' }, s.label || s.words),
  )));
  const problem = view.problem && h('div', { class: 'track-problem', role: 'alert' },
    h('p', { class: 'track-error' }, view.problem),
    view.retry.map((s) => button(`Retry ${s.name.toLowerCase()}`, {
      class: 'button small', 'data-action': 'retry', 'data-job-id': s.jobId,
    })));
  const title = track.title || 'Untitled';
  return h('li', { class: 'track', 'data-track-id': track.id, 'data-status': track.status },
    h('label', { class: 'track-select' }, h('input', {
      type: 'checkbox', name: 'ids', value: track.id, 'data-select': true,
      'aria-label': `Select ${title}`, checked: selected,
    })),
    h('div', { class: 'track-main' },
      h('a', { class: 'track-title', href: `/tracks/${track.id}` }, title),
      h('span', { class: 'track-artists' }, (track.artists ?? []).join(', ') || 'Unknown artist')),
    h('span', { class: `status-badge status-${track.status}` }, track.status),
    h('dl', { class: 'track-facts' },
      h('div', {}, h('dt', {}, 'BPM'), h('dd', {}, bpm(track.tempo_bpm))),
      h('div', {}, h('dt', {}, 'Key'), keyCell),
      h('div', {}, h('dt', {}, 'Length'), h('dd', {}, duration(track.duration_ms)))),
    stages,
    problem,
    h('div', { class: 'track-actions' },
      view.cancel && button('Cancel', {
        class: 'button small ghost', 'data-action': 'cancel', 'data-job-id': view.cancel.jobId,
      }),
      button('Delete', { class: 'button small ghost danger', 'data-action': 'delete' })),
  );
}
