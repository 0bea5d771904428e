/**
 * The MIDI page (/studio/midi): devices, the status sentence, your mappings, presets and a
 * monitor of the last messages.
 *
 * The server renders it complete; this module polls `GET /api/v1/studio/midi` every second
 * (devices come and go, the monitor fills) and redraws what changed, deletes mappings
 * (`DELETE /api/v1/studio/midi/mappings/<id>`) and applies presets
 * (`POST /api/v1/studio/midi/presets`). MIDI learn starts on the track and DJ pages.
 */

import { api } from './api.js';
import { describe, toast } from './app.js';

const POLL_MS = 1000;

const statusLine = /** @type {HTMLElement} */ (document.getElementById('midi-status'));
const deviceList = /** @type {HTMLElement} */ (document.getElementById('midi-devices'));
const deviceSelect = /** @type {HTMLSelectElement} */ (document.getElementById('preset-device'));
const presetForm = /** @type {HTMLFormElement} */ (document.getElementById('preset-form'));
const rows = /** @type {HTMLElement} */ (document.getElementById('mapping-rows'));
const noMappings = /** @type {HTMLElement} */ (document.getElementById('no-mappings'));
const monitor = /** @type {HTMLElement} */ (document.getElementById('midi-monitor'));

/**
 * @typedef {{ id: string, device_name: string, message_type: string, channel: number,
 *             number: number, action: string, mode: string, soft_takeover: boolean }} Mapping
 * @typedef {{ name: string, feedback: boolean }} Device
 * @typedef {{ at: number, device: string, message: string }} Entry
 */

let lastDevices = '';
let lastMonitor = '';

/** @param {string} tag @param {string} [text] @param {string} [className] */
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** @param {Device[]} devices */
function drawDevices(devices) {
  const key = JSON.stringify(devices);
  if (key === lastDevices) return;
  lastDevices = key;
  deviceList.replaceChildren();
  if (devices.length === 0) deviceList.append(element('li', deviceList.dataset.empty, 'muted'));
  const chosen = deviceSelect.value;
  deviceSelect.replaceChildren();
  for (const device of devices) {
    const item = element('li');
    item.dataset.device = device.name;
    item.append(element('strong', device.name), ' ',
      element('span', device.feedback ? 'with LED feedback' : 'input only', 'muted'));
    deviceList.append(item);
    const option = element('option', device.name);
    option.setAttribute('value', device.name);
    deviceSelect.append(option);
  }
  if (devices.some((d) => d.name === chosen)) deviceSelect.value = chosen;
}

/** @param {Entry[]} recent */
function drawMonitor(recent) {
  const key = recent.length ? `${recent.length}:${recent[recent.length - 1].at}` : '';
  if (key === lastMonitor) return;
  lastMonitor = key;
  monitor.replaceChildren(...recent.slice().reverse()
    .map((entry) => element('li', `${entry.device}: ${entry.message}`)));
}

/** @param {Mapping[]} mappings */
function drawMappings(mappings) {
  rows.replaceChildren();
  for (const m of mappings) {
    const row = element('tr');
    row.dataset.id = m.id;
    const number = m.message_type === 'pitchbend' ? '' : ` ${m.number}`;
    const code = element('code', m.action);
    const drives = element('td');
    drives.append(code);
    const mode = m.mode + (m.soft_takeover && m.mode === 'absolute' ? ', soft takeover' : '');
    const remove = element('button', 'Delete', 'button ghost small');
    remove.type = 'button';
    remove.dataset.delete = m.id;
    const actions = element('td');
    actions.append(remove);
    row.append(element('td', m.device_name), element('td', `${m.message_type}${number} (ch ${m.channel + 1})`),
      drives, element('td', mode), actions);
    rows.append(row);
  }
  noMappings.hidden = mappings.length > 0;
}

async function refresh() {
  try {
    const overview = await api('studio/midi');
    statusLine.textContent = overview.midi.status;
    statusLine.dataset.available = String(overview.midi.available);
    drawDevices(overview.midi.devices);
    drawMonitor(overview.midi.recent);
    return overview;
  } catch (error) {
    statusLine.textContent = describe(error);
    return null;
  }
}

rows.addEventListener('click', async (event) => {
  const button = /** @type {HTMLElement} */ (event.target).closest('[data-delete]');
  if (!(button instanceof HTMLButtonElement)) return;
  button.disabled = true;
  try {
    await api(`studio/midi/mappings/${encodeURIComponent(button.dataset.delete ?? '')}`, { method: 'DELETE' });
    button.closest('tr')?.remove();
    noMappings.hidden = rows.children.length > 0;
    toast('Mapping deleted.', { kind: 'success' });
  } catch (error) {
    button.disabled = false;
    toast(describe(error));
  }
});

presetForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(presetForm);
  const deviceName = String(data.get('device_name') ?? '');
  if (!deviceName) {
    toast('Connect a controller first: a preset is applied to one device.');
    return;
  }
  try {
    const saved = await api('studio/midi/presets', {
      method: 'POST', body: { device_name: deviceName, preset: String(data.get('preset')) },
    });
    drawMappings(await api('studio/midi/mappings'));
    toast(`Mapped ${saved.length} controls of ${deviceName}.`, { kind: 'success' });
  } catch (error) {
    toast(describe(error));
  }
});

async function poll() {
  if (document.visibilityState === 'visible') await refresh();
  setTimeout(poll, POLL_MS);
}
setTimeout(poll, POLL_MS);
