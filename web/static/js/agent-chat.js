/**
 * The agent chat panel (web/templates/partials/agent_chat.html): pick an agent, ask, and
 * read the reply as it streams from `POST /api/v1/agents/<agent>/chat`.
 *
 * With a `trackId` the panel offers every agent and the chat is about that track (the
 * agents get its analysis, stems and cues); without one it offers the library-wide agents
 * (the mix planner). Tool activity shows as it happens; proposed cue points and loops get
 * Confirm and Dismiss buttons (nothing is written before Confirm); planners' plans are drawn
 * as lists. When no AI model is configured the panel says how to add one, and the server's
 * own `no_provider` answer says the same in the conversation.
 *
 * "Earlier chats" lists the user's stored conversations (about this track on a track page,
 * all of them otherwise; the newest first, refreshed after each answer): picking one draws
 * it again (agent-history.js) and the next question continues it. "New chat" starts afresh.
 *
 * A confirmed proposal is announced as an `agent:proposal-confirmed` event on the container
 * (detail: the proposal), so the track page can redraw its cues.
 *
 *     import { mountAgentChat } from '/static/js/agent-chat.js';
 *     mountAgentChat(document.querySelector('[data-agent-chat]'), { trackId });
 */

import { api } from './api.js';
import { describe } from './app.js';
import { conversationItems, historyLabel } from './agent-history.js';
import { doneLine, el, message, planView, proposalCard, toolLine, updateTool } from './agent-render.js';
import { postEvents } from './agent-stream.js';

/**
 * @typedef {{ name: string, title: string, description: string, needs_track: boolean,
 *   structured: boolean }} AgentInfo
 */

/**
 * Mount the chat panel in `container` (the partial's `[data-agent-chat]` section).
 * @param {HTMLElement} container
 * @param {{ trackId?: string | null }} [options]
 * @returns {Promise<{ ask: (text: string) => Promise<void>, open: (id: string) => Promise<void> }>}
 */
export async function mountAgentChat(container, { trackId = null } = {}) {
  if (container.dataset.mounted === 'true') return container.agentChat;
  container.dataset.mounted = 'true';
  const part = (name) => container.querySelector(`[data-part="${name}"]`);
  const select = /** @type {HTMLSelectElement} */ (part('agent'));
  const about = part('about');
  const notice = part('notice');
  const log = part('log');
  const form = /** @type {HTMLFormElement} */ (part('form'));
  const send = /** @type {HTMLButtonElement} */ (part('send'));
  const earlier = /** @type {HTMLSelectElement} */ (part('history'));
  /** @type {Map<string, AgentInfo>} */
  const agents = new Map();
  let conversationId = null;
  let busy = false;

  const scroll = () => { log.scrollTop = log.scrollHeight; };
  const describeAgent = () => { about.textContent = agents.get(select.value)?.description ?? ''; };

  try {
    const listing = await api('agents');
    for (const agent of listing.agents) {
      if (agent.needs_track && !trackId) continue;
      agents.set(agent.name, agent);
      const option = el('option', '', agent.title);
      option.value = agent.name;
      select.append(option);
    }
    if (!listing.model_configured) {
      notice.hidden = false;
      notice.textContent = `No AI model is available yet: ${listing.how_to_configure}`;
    }
  } catch (error) {
    notice.hidden = false;
    notice.textContent = describe(error);
  }
  describeAgent();
  select.addEventListener('change', () => { describeAgent(); conversationId = null; earlier.value = ''; });
  part('new').addEventListener('click', () => {
    conversationId = null;
    earlier.value = '';
    log.replaceChildren();
  });

  const decide = (proposal, convId) => async (action) => {
    const done = await api(`agents/conversations/${convId}/${action}`, {
      method: 'POST', body: { proposal_id: proposal.id },
    });
    if (action === 'confirm') {
      container.dispatchEvent(new CustomEvent('agent:proposal-confirmed', { detail: done, bubbles: true }));
    }
  };

  /** Fill "Earlier chats" (kept hidden while there are none), keeping the current pick. */
  async function listEarlier() {
    const query = new URLSearchParams({ limit: '30', ...(trackId ? { track_id: trackId } : {}) });
    let found;
    try {
      found = await api(`agents/conversations?${query}`);
    } catch {
      return;  // the list is a convenience: the chat works without it
    }
    const options = [el('option', '', 'Earlier chats…')];
    options[0].value = '';
    for (const summary of found) {
      if (!agents.has(summary.agent)) continue;
      const option = el('option', '', historyLabel(summary, agents));
      option.value = summary.id;
      options.push(option);
    }
    earlier.replaceChildren(...options);
    earlier.value = conversationId ?? '';
    earlier.hidden = options.length === 1;
  }

  /** Draw a stored conversation and continue it with the next question. */
  async function open(id) {
    if (busy) return;
    if (!id) { conversationId = null; log.replaceChildren(); return; }
    busy = true;
    try {
      const conversation = await api(`agents/conversations/${id}`);
      select.value = conversation.agent;
      describeAgent();
      conversationId = conversation.id;
      log.replaceChildren(...conversationItems(conversation, decide));
      scroll();
    } catch (error) {
      const { item } = message('error', describe(error));
      log.replaceChildren(item);
    } finally {
      busy = false;
    }
  }
  earlier.addEventListener('change', () => open(earlier.value));

  async function ask(text) {
    if (busy || !text.trim()) return;
    busy = true;
    send.disabled = true;
    const agent = select.value;
    log.append(message('user', text).item);
    const { item, body } = message('assistant');
    item.setAttribute('aria-busy', 'true');
    log.append(item);
    scroll();
    /** @type {Map<string, HTMLElement>} */
    const tools = new Map();
    const request = { message: text, ...(conversationId ? { conversation_id: conversationId } : {}),
      ...(trackId && !conversationId ? { track_id: trackId } : {}) };
    try {
      for await (const { type, data } of postEvents(`agents/${agent}/chat`, request)) {
        if (type === 'conversation') {
          conversationId = data.conversation_id;
        } else if (type === 'text') {
          body.textContent += data.text;
        } else if (type === 'tool') {
          const line = tools.get(data.id);
          if (line) updateTool(line, data.name, data.status);
          else { const made = toolLine(data.name, data.status); tools.set(data.id, made); item.insertBefore(made, body); }
        } else if (type === 'proposal') {
          item.append(proposalCard(data.proposal, decide(data.proposal, data.conversation_id)));
        } else if (type === 'structured') {
          const view = planView(data.agent, data.plan);
          if (view) item.append(view);
        } else if (type === 'done') {
          item.append(doneLine(data));
          listEarlier();
        } else if (type === 'error') {
          item.classList.add('agent-msg--error');
          item.dataset.errorKind = data.kind;
          body.textContent = data.message;
        }
        scroll();
      }
    } catch (error) {
      item.classList.add('agent-msg--error');
      body.textContent = describe(error);
    } finally {
      item.removeAttribute('aria-busy');
      busy = false;
      send.disabled = false;
      scroll();
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const field = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem('message'));
    const text = field.value;
    field.value = '';
    ask(text);
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && event.target instanceof HTMLTextAreaElement) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  await listEarlier();
  const handle = { ask, open };
  container.agentChat = handle;
  return handle;
}
