/**
 * The agents page (/agents): re-plans the deterministic mix plan when the energy flow
 * changes (`POST /api/v1/agents/mix-plan`), without a reload. The server renders the first
 * plan, and the form still works as a plain GET without this script. The chat panel mounts
 * itself (agent-chat-auto.js).
 */

import { api } from './api.js';
import { describe } from './app.js';
import { el } from './agent-render.js';
import { formatBpm } from './format.js';

const section = document.getElementById('mix-plan');
const form = section?.querySelector('[data-part="plan-form"]');
const flow = /** @type {HTMLSelectElement | null} */ (section?.querySelector('[data-part="flow"]'));
const target = section?.querySelector('[data-part="plan"]');

/** @param {any} plan  soundforge.agents.MixPlan */
function draw(plan) {
  if (!plan.tracks.length) {
    target.replaceChildren(el('p', 'empty', 'No analysed tracks yet: import a few and wait for their analysis.'));
    return;
  }
  const list = el('ol', 'plan-tracks');
  plan.tracks.forEach((track, index) => {
    const item = el('li', 'plan-track');
    item.dataset.trackId = track.track_id;
    const link = /** @type {HTMLAnchorElement} */ (el('a', 'plan-title', track.title));
    link.href = `/tracks/${track.track_id}`;
    const facts = el('span', 'plan-facts', `${formatBpm(track.bpm)} · ${track.key ?? 'key ?'} · `);
    facts.append(el('b', '', track.camelot ?? '–'));
    const meter = /** @type {HTMLMeterElement} */ (el('meter', 'plan-energy'));
    meter.min = 0; meter.max = 1; meter.value = track.energy;
    meter.title = `Energy ${Math.round(track.energy * 100)} %`;
    item.append(el('span', 'plan-pos', String(track.position)), link, facts, meter);
    const t = plan.transitions[index];
    if (t) {
      const change = t.tempo_change_pct === null ? '' : `, ${t.tempo_change_pct >= 0 ? '+' : ''}${t.tempo_change_pct.toFixed(1)} %`;
      const line = el('p', 'plan-transition');
      line.dataset.part = 'transition';
      line.append(el('span', 'plan-relation', `${t.key_relation}${change}`), ` ${t.advice}`);
      item.append(line);
    }
    list.append(item);
  });
  const parts = [list];
  if (plan.score !== null) parts.push(el('p', 'plan-score', `Plan score ${Math.round(plan.score * 100)} / 100`));
  target.replaceChildren(...parts);
}

if (form && flow && target) {
  const replan = async () => {
    target.setAttribute('aria-busy', 'true');
    try {
      draw(await api('agents/mix-plan', { method: 'POST', body: { flow: flow.value, limit: 12 } }));
      const url = new URL(window.location.href);
      url.searchParams.set('flow', flow.value);
      window.history.replaceState(null, '', url);
    } catch (error) {
      target.replaceChildren(el('p', 'error', describe(error)));
    } finally {
      target.removeAttribute('aria-busy');
    }
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); replan(); });
  flow.addEventListener('change', replan);
}
