/**
 * Mounts every agent chat panel on the page (web/templates/partials/agent_chat.html), each
 * with the track id its partial was rendered with, so a page only includes the partial.
 */

import { mountAgentChat } from './agent-chat.js';

for (const container of document.querySelectorAll('[data-agent-chat]')) {
  mountAgentChat(/** @type {HTMLElement} */ (container), {
    trackId: /** @type {HTMLElement} */ (container).dataset.trackId || null,
  });
}
