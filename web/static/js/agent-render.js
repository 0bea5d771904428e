/**
 * What the chat panel draws: messages, tool activity, proposals with Confirm and Dismiss,
 * planners' structured plans, and the footer of a finished turn. Plain DOM, no innerHTML
 * with data (model text is text, never markup).
 */

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `61500` → `1:01.5` */
export function clock(ms) {
  const tenths = Math.round(ms / 100);
  const minutes = Math.floor(tenths / 600);
  const seconds = Math.floor((tenths % 600) / 10);
  return `${minutes}:${String(seconds).padStart(2, '0')}.${tenths % 10}`;
}

const TOOL_WORDS = {
  get_track: 'Reading the track',
  get_analysis_section: 'Reading the analysis',
  search_library: 'Searching your library',
  plan_mix: 'Planning the mix',
  propose_cues: 'Proposing cue points',
  propose_loops: 'Proposing loops',
};

/**
 * A message bubble; `role` is "user", "assistant" or "error".
 * @returns {{ item: HTMLElement, body: HTMLElement }}
 */
export function message(role, text = '') {
  const item = el('li', `agent-msg agent-msg--${role}`);
  item.dataset.role = role;
  const body = el('div', 'agent-msg-body', text);
  item.append(body);
  return { item, body };
}

/** A line saying what a tool is doing (updated in place from running to done). */
export function toolLine(name, status) {
  const line = el('p', 'agent-tool');
  updateTool(line, name, status);
  return line;
}

export function updateTool(line, name, status) {
  const words = TOOL_WORDS[name] ?? `Using ${name}`;
  line.dataset.status = status;
  line.textContent = status === 'running' ? `${words}…` : status === 'error' ? `${words}: failed` : `${words} ✓`;
}

/**
 * A proposal card with its items and Confirm / Dismiss buttons.
 * @param {{ id: string, kind: string, status: string, note: string | null,
 *   cues: any[], loops: any[] }} proposal
 * @param {(action: 'confirm' | 'dismiss') => Promise<void>} act
 */
export function proposalCard(proposal, act) {
  const card = el('div', 'agent-proposal');
  card.dataset.proposalId = proposal.id;
  card.dataset.status = proposal.status;
  const what = proposal.kind === 'cues' ? 'cue points' : 'loops';
  card.append(el('p', 'agent-proposal-title', `Proposed ${what}`));
  if (proposal.note) card.append(el('p', 'agent-proposal-note', proposal.note));
  const list = el('ul', 'agent-proposal-items');
  for (const cue of proposal.cues) {
    const pad = cue.kind === 'hot' ? `Hot cue ${cue.hot_index + 1}` : 'Memory cue';
    list.append(el('li', '', `${pad} at ${clock(cue.position_ms)}${cue.label ? ` — ${cue.label}` : ''}`));
  }
  for (const loop of proposal.loops) {
    const bars = loop.bars ? `${loop.bars} bars, ` : '';
    const stem = loop.stem ? ` (${loop.stem})` : '';
    list.append(el('li', '', `${bars}${clock(loop.start_ms)}–${clock(loop.end_ms)}${stem}${loop.label ? ` — ${loop.label}` : ''}`));
  }
  card.append(list);
  const actions = el('div', 'agent-proposal-actions');
  const confirm = el('button', 'button primary small', 'Confirm');
  const dismiss = el('button', 'button ghost small', 'Dismiss');
  confirm.type = dismiss.type = 'button';
  confirm.dataset.action = 'confirm';
  dismiss.dataset.action = 'dismiss';
  const status = el('span', 'agent-proposal-status');
  status.setAttribute('role', 'status');
  actions.append(confirm, dismiss, status);
  card.append(actions);
  const settle = (state) => {
    card.dataset.status = state;
    confirm.hidden = dismiss.hidden = state !== 'pending';
    status.textContent = state === 'confirmed' ? 'Saved to the track.' : state === 'dismissed' ? 'Dismissed.' : '';
  };
  settle(proposal.status);
  for (const button of [confirm, dismiss]) {
    button.addEventListener('click', async () => {
      confirm.disabled = dismiss.disabled = true;
      try {
        await act(/** @type {'confirm' | 'dismiss'} */ (button.dataset.action));
        settle(button.dataset.action === 'confirm' ? 'confirmed' : 'dismissed');
      } catch (error) {
        status.textContent = error?.message ?? 'That did not work; try again.';
      } finally {
        confirm.disabled = dismiss.disabled = false;
      }
    });
  }
  return card;
}

/** A planner's structured plan: a set list or practice steps. */
export function planView(agent, plan) {
  if (!plan) return null;
  const box = el('div', 'agent-plan');
  if (agent === 'mix_planner') {
    box.append(el('p', 'agent-plan-title', `Set plan (${plan.flow})`));
    const list = el('ol', 'agent-plan-list');
    for (const entry of plan.tracks) {
      const item = el('li', '', entry.title);
      item.dataset.trackId = entry.track_id;
      if (entry.transition) item.append(el('span', 'agent-plan-note', ` — ${entry.transition}`));
      list.append(item);
    }
    box.append(list);
  } else {
    box.append(el('p', 'agent-plan-title', plan.goal));
    const list = el('ol', 'agent-plan-list');
    for (const step of plan.steps) {
      const stems = step.stems ? `, ${step.stems}` : '';
      list.append(el('li', '', `${step.focus}: ${clock(step.start_ms)}–${clock(step.end_ms)} at ${step.tempo_pct} %, ${step.repeats}×${stems}`));
    }
    box.append(list);
  }
  return box;
}

/** The footer of a finished turn: who answered and the tokens used. */
export function doneLine(done) {
  return el('p', 'agent-meta', `${done.provider} · ${done.model} · ${done.input_tokens + done.output_tokens} tokens`);
}
