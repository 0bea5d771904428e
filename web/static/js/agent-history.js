/**
 * Earlier conversations in the chat panel: the "Earlier chats" picker's labels, and a stored
 * conversation (`GET /api/v1/agents/conversations/<id>`) drawn the way the panel drew it
 * live — the user's questions, then one assistant bubble per turn with its tool lines, the
 * proposals (Confirm and Dismiss while still pending) and the answer, a planner's plan
 * included.
 *
 * A stored turn is an `assistant` message (text and tool calls), a `tool` message (tool
 * results and proposals) per tool round, and a last `assistant` message; a structured
 * agent's last message holds its JSON (`{"reply", "plan"}`).
 */

import { doneLine, message, planView, proposalCard, toolLine, updateTool } from './agent-render.js';

/** `Where are the drops? — Cue planner · 27 Nov, 14:05` */
export function historyLabel(summary, agents) {
  const title = summary.title || 'Untitled chat';
  const agent = agents.get(summary.agent)?.title ?? summary.agent;
  const when = new Date(summary.updated_at).toLocaleString(undefined, {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
  return `${title} — ${agent} · ${when}`;
}

/** A structured agent's stored JSON as `{ reply, plan }`, or null when it is plain text. */
function structured(text) {
  if (!text.trimStart().startsWith('{')) return null;
  try {
    const value = JSON.parse(text);
    return typeof value?.reply === 'string' ? value : null;
  } catch {
    return null;
  }
}

/**
 * The conversation's bubbles, in order.
 * @param {{ id: string, agent: string, messages: any[] }} conversation
 * @param {(proposal: any, conversationId: string) => (action: 'confirm' | 'dismiss') => Promise<void>} decide
 * @returns {HTMLElement[]}
 */
export function conversationItems(conversation, decide) {
  const items = [];
  /** @type {{ item: HTMLElement, body: HTMLElement } | null} */
  let turn = null;
  /** @type {Map<string, { line: HTMLElement, name: string }>} */
  let tools = new Map();
  let last = null;
  const finish = () => {
    if (turn && last?.provider) turn.item.append(doneLine(last));
    turn = null;
    last = null;
  };
  for (const stored of conversation.messages) {
    const texts = stored.content.filter((b) => b.type === 'text').map((b) => b.text);
    if (stored.role === 'user') {
      finish();
      items.push(message('user', texts.join('')).item);
      continue;
    }
    if (!turn) {
      turn = message('assistant');
      tools = new Map();
      items.push(turn.item);
    }
    if (stored.role === 'assistant') {
      last = stored;
      for (const block of stored.content) {
        if (block.type !== 'tool_use') continue;
        const line = toolLine(block.name, 'done');
        tools.set(block.id, { line, name: block.name });
        turn.item.insertBefore(line, turn.body);
      }
      const text = texts.join('');
      const answer = structured(text);
      if (answer) {
        turn.body.textContent += answer.reply;
        const view = planView(conversation.agent, answer.plan);
        if (view) turn.item.append(view);
      } else {
        turn.body.textContent += text;
      }
    } else {  // a tool round: results (errors mark their line) and proposals
      for (const block of stored.content) {
        if (block.type === 'tool_result' && block.is_error) {
          const tool = tools.get(block.tool_use_id);
          if (tool) updateTool(tool.line, tool.name, 'error');
        } else if (block.type === 'proposal') {
          turn.item.append(proposalCard(block, decide(block, conversation.id)));
        }
      }
    }
  }
  finish();
  return items;
}
