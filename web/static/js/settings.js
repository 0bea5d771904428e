/**
 * The settings page: preferences (PATCH /api/v1/settings), API tokens (created and shown
 * once, listed, revoked: /api/v1/tokens), AI providers (settings-llm.js) and the password
 * (POST /api/v1/password).
 *
 * The server renders the current state; this module only sends changes and redraws what
 * they changed. Preferences are sent whole (the server stores only what differs from the
 * defaults), each value typed by its input's `data-kind`.
 */

import { api } from './api.js';
import { describe, toast } from './app.js';
import { initProviders } from './settings-llm.js';

const prefs = document.getElementById('preferences');
const tokenForm = document.getElementById('token-form');
const tokenList = document.getElementById('token-list');
const secretBox = document.getElementById('token-secret');
const noTokens = document.getElementById('no-tokens');
const passwordForm = document.getElementById('password-form');

function said(form, text) {
  const place = form.querySelector('[data-saved]');
  if (!place) return;
  place.textContent = text;
  setTimeout(() => {
    if (place.textContent === text) place.textContent = '';
  }, 4000);
}

// -- preferences ------------------------------------------------------------------------------

function readPreferences() {
  const values = {};
  for (const input of prefs.querySelectorAll('[name][data-kind]')) {
    const kind = input.dataset.kind;
    if (kind === 'checkbox') values[input.name] = input.checked;
    else if (kind === 'int') values[input.name] = Number.parseInt(input.value, 10);
    else if (kind === 'float') values[input.name] = Number.parseFloat(input.value);
    else if (kind === 'nullable') values[input.name] = input.value.trim() || null;
    else values[input.name] = input.value;
  }
  return values;
}

function showPreferences(values) {
  for (const input of prefs.querySelectorAll('[name][data-kind]')) {
    if (!(input.name in values)) continue;
    const value = values[input.name];
    if (input.dataset.kind === 'checkbox') input.checked = Boolean(value);
    else input.value = value ?? '';
  }
}

async function savePreferences(event) {
  event?.preventDefault();
  if (!prefs.reportValidity()) return;
  const submit = prefs.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    const saved = await api('settings', { method: 'PATCH', body: readPreferences() });
    if (saved && typeof saved === 'object') showPreferences(saved);
    said(prefs, 'Saved.');
  } catch (error) {
    toast(describe(error));
  } finally {
    submit.disabled = false;
  }
}

// -- tokens -----------------------------------------------------------------------------------

function when(value) {
  if (!value) return 'never';
  const date = new Date(value);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function cell(label, ...content) {
  const td = document.createElement('td');
  if (label) td.dataset.label = label;
  td.append(...content);
  return td;
}

function tokenRow(token) {
  const row = document.createElement('tr');
  row.dataset.tokenId = token.id;
  const prefix = document.createElement('code');
  prefix.textContent = `${token.prefix}…`;
  const revoke = document.createElement('button');
  revoke.type = 'button';
  revoke.className = 'button small ghost danger';
  revoke.dataset.revoke = '';
  revoke.textContent = 'Revoke';
  row.append(cell('Name', token.name), cell('Starts with', prefix),
    cell('Created', when(token.created_at)), cell('Last used', when(token.last_used_at)),
    cell(null, revoke));
  return row;
}

async function createToken(event) {
  event.preventDefault();
  const input = tokenForm.elements.name;
  const name = input.value.trim();
  if (!name) return;
  try {
    const { token, secret } = await api('tokens', { method: 'POST', body: { name } });
    tokenList.prepend(tokenRow(token));
    noTokens.hidden = true;
    secretBox.querySelector('[data-secret]').textContent = secret;
    secretBox.hidden = false;
    input.value = '';
  } catch (error) {
    toast(describe(error));
  }
}

async function copySecret() {
  const code = secretBox.querySelector('[data-secret]');
  const button = secretBox.querySelector('[data-copy]');
  try {
    await navigator.clipboard.writeText(code.textContent);
    button.textContent = 'Copied';
  } catch {
    // No clipboard (an insecure origin, or permission refused): select it for a manual copy.
    const range = document.createRange();
    range.selectNodeContents(code);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = 'Press Ctrl+C';
  }
  setTimeout(() => {
    button.textContent = 'Copy';
  }, 3000);
}

async function revokeToken(button) {
  // Two clicks: the first arms the button, so a stray tap revokes nothing.
  if (!button.dataset.armed) {
    button.dataset.armed = 'true';
    button.textContent = 'Really revoke?';
    setTimeout(() => {
      delete button.dataset.armed;
      button.textContent = 'Revoke';
    }, 4000);
    return;
  }
  const row = button.closest('tr');
  button.disabled = true;
  try {
    await api(`tokens/${encodeURIComponent(row.dataset.tokenId)}`, { method: 'DELETE' });
    row.classList.add('revoked');
    const muted = document.createElement('span');
    muted.className = 'muted';
    muted.textContent = 'revoked';
    button.replaceWith(muted);
  } catch (error) {
    toast(describe(error));
    button.disabled = false;
  }
}

// -- password ---------------------------------------------------------------------------------

async function changePassword(event) {
  event.preventDefault();
  const { current, new: fresh, again } = passwordForm.elements;
  if (fresh.value !== again.value) {
    toast('The two new passwords differ; type the same password twice.');
    return;
  }
  try {
    await api('password', { method: 'POST', body: { current: current.value, new: fresh.value } });
    passwordForm.reset();
    said(passwordForm, 'Password changed.');
  } catch (error) {
    toast(describe(error));
  }
}

prefs.addEventListener('submit', savePreferences);
prefs.querySelector('[data-reset-defaults]').addEventListener('click', () => {
  showPreferences(JSON.parse(prefs.dataset.defaults));
  savePreferences();
});
tokenForm.addEventListener('submit', createToken);
secretBox.querySelector('[data-copy]').addEventListener('click', copySecret);
tokenList.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-revoke]');
  if (button) revokeToken(button);
});
passwordForm.addEventListener('submit', changePassword);
initProviders(document.getElementById('llm-providers'));
document.body.dataset.settingsReady = 'true';
