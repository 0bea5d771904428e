/**
 * The settings page's "AI providers" section: list, add, edit, enable/disable, test and
 * delete the language-model providers (`/api/v1/llm/providers`, `/api/v1/llm/models`).
 *
 * The list is drawn from the API (the page renders an empty table), so it also shows the
 * system's and the environment's providers and each one's health. API keys are write-only:
 * the form never holds a stored key; leaving the field empty when editing keeps it.
 *
 *     import { initProviders } from './settings-llm.js';
 *     initProviders(document.getElementById('llm-providers'));
 */

import { api } from './api.js';
import { describe, toast } from './app.js';

/**
 * @typedef {{ id: string, name: string, kind: 'anthropic' | 'openai_compatible',
 *   base_url: string | null, model: string, priority: number, enabled: boolean,
 *   source: 'user' | 'system' | 'environment', has_api_key: boolean,
 *   api_key_last4: string | null, health_status: string, health_checked_at: string | null,
 *   last_error: string | null }} Provider
 */

const HEALTH_CLASS = {
  healthy: 'status-ready',
  degraded: 'status-downloading',
  unreachable: 'status-failed',
};

/** @param {string} tag @param {string} [text] @param {string} [className] */
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** @param {string | null} label @param {...(Node | string)} content */
function cell(label, ...content) {
  const td = document.createElement('td');
  if (label) td.dataset.label = label;
  td.append(...content);
  return td;
}

/** @param {string} action @param {string} text @param {string} [extra] */
function button(action, text, extra = '') {
  const b = element('button', text, `button small ghost ${extra}`.trim());
  b.type = 'button';
  b.dataset.action = action;
  return b;
}

/** @param {Provider} provider */
function healthBadge(provider) {
  const badge = element('span', provider.health_status,
    `status-badge ${HEALTH_CLASS[provider.health_status] ?? ''}`.trim());
  badge.dataset.health = provider.health_status;
  if (provider.last_error) badge.title = provider.last_error;
  return badge;
}

/**
 * @param {Provider} provider
 * @param {boolean} canManageSystem
 */
function providerRow(provider, canManageSystem) {
  const row = document.createElement('tr');
  row.dataset.providerId = provider.id;
  row.dataset.source = provider.source;
  if (!provider.enabled) row.classList.add('revoked');
  const name = element('span', provider.name);
  const owner = provider.source === 'user' ? '' : ` (${provider.source === 'system' ? 'server' : 'environment'})`;
  const endpoint = provider.base_url ?? (provider.kind === 'anthropic' ? 'api.anthropic.com' : '');
  const key = provider.has_api_key ? element('code', `…${provider.api_key_last4 ?? ''}`) : element('span', 'none', 'muted');
  const health = element('div');
  health.append(healthBadge(provider));
  if (provider.last_error) health.append(element('small', provider.last_error, 'help'));
  const editable = provider.source === 'user' || (provider.source === 'system' && canManageSystem);
  const actions = cell(null);
  if (editable) {
    actions.append(
      button('edit', 'Edit'),
      button('toggle', provider.enabled ? 'Disable' : 'Enable'),
    );
  }
  if (editable || (provider.source === 'environment' && canManageSystem)) actions.append(button('test', 'Test'));
  if (editable) actions.append(button('delete', 'Delete', 'danger'));
  row.append(cell('Name', name, owner), cell('Model', element('code', provider.model)),
    cell('Endpoint', endpoint), cell('Key', key), cell('Health', health), actions);
  return row;
}

/** @param {HTMLElement} section */
export function initProviders(section) {
  const list = /** @type {HTMLElement} */ (section.querySelector('#llm-list'));
  const empty = /** @type {HTMLElement} */ (section.querySelector('#llm-empty'));
  const form = /** @type {HTMLFormElement} */ (section.querySelector('#llm-form'));
  const models = /** @type {HTMLDataListElement} */ (section.querySelector('#llm-models'));
  const fields = form.elements;
  /** @type {Map<string, Provider>} */
  const byId = new Map();
  let canManageSystem = false;

  function said(text) {
    const place = form.querySelector('[data-saved]');
    place.textContent = text;
    setTimeout(() => {
      if (place.textContent === text) place.textContent = '';
    }, 4000);
  }

  function showKind() {
    const anthropic = fields.kind.value === 'anthropic';
    fields.base_url.required = !anthropic;
    fields.base_url.placeholder = anthropic ? "Anthropic's own endpoint" : 'http://localhost:11434/v1';
    form.querySelector('[data-url-help]').textContent = anthropic
      ? "Leave empty for Anthropic's own endpoint."
      : 'The server’s OpenAI-compatible URL, ending in /v1 (OpenAI: https://api.openai.com/v1).';
  }

  async function refresh() {
    const { providers, can_manage_system: admin } = await api('llm/providers');
    canManageSystem = admin;
    form.querySelector('[data-system-choice]').hidden = !admin || Boolean(fields.id.value);
    byId.clear();
    list.replaceChildren(...providers.map((p) => {
      byId.set(p.id, p);
      return providerRow(p, admin);
    }));
    empty.hidden = providers.length > 0;
    section.dataset.loaded = 'true';
  }

  async function loadModels() {
    const { models: known } = await api('llm/models');
    models.replaceChildren(...known.filter((m) => m.known).map((m) => {
      const option = element('option');
      option.value = m.model;
      return option;
    }));
  }

  function resetForm() {
    form.reset();
    fields.id.value = '';
    form.querySelector('[data-form-title]').textContent = 'Add a provider';
    form.querySelector('[data-submit]').textContent = 'Add provider';
    form.querySelector('[data-cancel]').hidden = true;
    form.querySelector('[data-remove-key]').hidden = true;
    form.querySelector('[data-system-choice]').hidden = !canManageSystem;
    fields.api_key.placeholder = 'sk-…';
    showKind();
  }

  /** @param {Provider} provider */
  function editProvider(provider) {
    fields.id.value = provider.id;
    fields.name.value = provider.name;
    fields.kind.value = provider.kind;
    fields.kind.disabled = true;
    fields.base_url.value = provider.base_url ?? '';
    fields.model.value = provider.model;
    fields.priority.value = String(provider.priority);
    fields.enabled.checked = provider.enabled;
    fields.api_key.value = '';
    fields.api_key.placeholder = provider.has_api_key ? `…${provider.api_key_last4} (leave empty to keep)` : 'sk-…';
    fields.remove_key.checked = false;
    form.querySelector('[data-remove-key]').hidden = !provider.has_api_key;
    form.querySelector('[data-system-choice]').hidden = true;
    form.querySelector('[data-form-title]').textContent = `Edit ${provider.name}`;
    form.querySelector('[data-submit]').textContent = 'Save changes';
    form.querySelector('[data-cancel]').hidden = false;
    showKind();
    fields.name.focus();
  }

  async function submit(event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const id = fields.id.value;
    /** @type {Record<string, unknown>} */
    const body = {
      name: fields.name.value.trim(),
      model: fields.model.value.trim(),
      base_url: fields.base_url.value.trim() || null,
      priority: Number.parseInt(fields.priority.value, 10),
      enabled: fields.enabled.checked,
    };
    const key = fields.api_key.value.trim();
    if (key) body.api_key = key;
    else if (id && fields.remove_key.checked) body.api_key = null;
    const submitButton = form.querySelector('[data-submit]');
    submitButton.disabled = true;
    try {
      if (id) {
        await api(`llm/providers/${encodeURIComponent(id)}`, { method: 'PATCH', body });
      } else {
        body.kind = fields.kind.value;
        body.system = canManageSystem && fields.system.checked;
        await api('llm/providers', { method: 'POST', body });
      }
      fields.kind.disabled = false;
      resetForm();
      said(id ? 'Saved.' : 'Provider added.');
      await refresh();
    } catch (error) {
      toast(describe(error));
    } finally {
      submitButton.disabled = false;
    }
  }

  /** @param {HTMLButtonElement} control @param {Provider} provider */
  async function act(control, provider) {
    const path = `llm/providers/${encodeURIComponent(provider.id)}`;
    const action = control.dataset.action;
    if (action === 'edit') {
      editProvider(provider);
      return;
    }
    if (action === 'delete' && !control.dataset.armed) {
      // Two clicks: the first arms the button, so a stray tap deletes nothing.
      control.dataset.armed = 'true';
      control.textContent = 'Really delete?';
      setTimeout(() => {
        delete control.dataset.armed;
        control.textContent = 'Delete';
      }, 4000);
      return;
    }
    control.disabled = true;
    try {
      if (action === 'toggle') {
        await api(path, { method: 'PATCH', body: { enabled: !provider.enabled } });
      } else if (action === 'delete') {
        await api(path, { method: 'DELETE' });
        if (fields.id.value === provider.id) resetForm();
      } else if (action === 'test') {
        control.textContent = 'Testing…';
        const result = await api(`${path}/test`, { method: 'POST' });
        toast(result.status === 'healthy'
          ? `${provider.name} answered in ${result.latency_ms} ms.`
          : `${provider.name} is ${result.status}: ${result.error}`,
        { kind: result.status === 'healthy' ? 'success' : 'error' });
      }
      await refresh();
    } catch (error) {
      toast(describe(error));
      control.disabled = false;
    }
  }

  form.addEventListener('submit', submit);
  fields.kind.addEventListener('change', showKind);
  form.querySelector('[data-cancel]').addEventListener('click', () => {
    fields.kind.disabled = false;
    resetForm();
  });
  list.addEventListener('click', (event) => {
    const control = event.target.closest('button[data-action]');
    const row = control?.closest('tr');
    const provider = row ? byId.get(row.dataset.providerId) : undefined;
    if (control && provider) act(control, provider);
  });
  showKind();
  Promise.all([refresh(), loadModels()]).catch((error) => toast(describe(error)));
}
