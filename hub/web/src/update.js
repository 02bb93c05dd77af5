// Software update in the UI (docs/hub.md, "Software update"): the device page's
// Updates tab (offer an artifact, optionally asking for consent on the device;
// live progress; accept, decline or cancel; the outcome with the installer's
// output; the device's earlier updates) and the fleet page (#/updates: one
// artifact to a chosen set of devices, and how many are at each state).
// It talks to the update service's JSON routes only.
import { call, Unauthorized } from './api.js';
import { h } from './dom.js';

const FINAL = new Set(['success', 'failure', 'rejected', 'cancelled']);
const FAST_MS = 1000;
const SLOW_MS = 5000;

const enc = encodeURIComponent;
const updatesApi = {
  artifacts: () => call('GET', '/api/updates/artifacts'),
  list: (device) => call('GET', `/api/devices/${enc(device)}/updates`),
  offer: (device, body) => call('POST', `/api/devices/${enc(device)}/updates`, body),
  consent: (id, accept) => call('POST', `/api/updates/${enc(id)}/consent`, { accept }),
  cancel: (id) => call('POST', `/api/updates/${enc(id)}/cancel`),
  devices: () => call('GET', '/api/devices'),
  campaigns: () => call('GET', '/api/update-campaigns'),
  campaign: (id) => call('GET', `/api/update-campaigns/${enc(id)}`),
  createCampaign: (body) => call('POST', '/api/update-campaigns', body),
};

const time = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
const size = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const stateBadge = (state, testid) => h('span', { class: `badge update-state state-${state}`, 'data-testid': testid }, state);

function fail(e, where) {
  if (e instanceof Unauthorized) {
    location.hash = '#/login';
    return;
  }
  where.textContent = e.message;
}

// The offer form: artifact, version, consent. `onOffer(body)` does the POST.
function offerForm(testPrefix, onOffer, extra = null) {
  const select = h('select', { 'data-testid': `${testPrefix}-artifact` });
  const version = h('input', { type: 'text', placeholder: 'version (default: the file name)', 'data-testid': `${testPrefix}-version` });
  const consent = h('input', { type: 'checkbox', 'data-testid': `${testPrefix}-consent` });
  const button = h('button', { class: 'primary', 'data-testid': `${testPrefix}-offer` }, 'Offer update');
  const error = h('p', { class: 'error', 'data-testid': `${testPrefix}-error` });
  const signing = h('span', { class: 'muted' });
  async function loadArtifacts() {
    try {
      const list = await updatesApi.artifacts();
      if (!list.enabled) {
        signing.textContent = 'The hub has no artifact folder ([update] artifact-dir).';
        button.disabled = true;
        return;
      }
      signing.textContent = list.signing ? `signed with ${list.signing}` : 'unsigned';
      const chosen = select.value;
      select.replaceChildren(...list.artifacts.map((a) => h('option', { value: a.name, disabled: !a.sha256 },
        `${a.name} (${size(a.size)}${a.sha256 ? `, sha256 ${a.sha256.slice(0, 12)}…` : ', hashing…'})`)));
      if (chosen) select.value = chosen;
      if (list.artifacts.some((a) => !a.sha256)) setTimeout(loadArtifacts, 500);
    } catch (e) {
      fail(e, error);
    }
  }
  button.addEventListener('click', async () => {
    error.textContent = '';
    if (!select.value) {
      error.textContent = 'Choose an artifact.';
      return;
    }
    const body = { artifact: select.value, consent: consent.checked };
    if (version.value.trim()) body.version = version.value.trim();
    button.disabled = true;
    try {
      await onOffer(body);
    } catch (e) {
      fail(e, error);
    } finally {
      button.disabled = false;
    }
  });
  loadArtifacts();
  return h('div', { class: 'update-offer' },
    h('label', {}, 'Artifact ', select), h('label', {}, 'Version ', version),
    h('label', {}, consent, ' ask for consent on the device'), extra, button, signing, error);
}

// The Updates tab of device `id`, in `host`. Returns its teardown.
export function updatesView(id, host) {
  let disposed = false;
  let timer = null;
  const current = h('div', { class: 'update-current', 'data-testid': 'update-current' },
    h('p', { class: 'muted' }, 'No update offered yet.'));
  const history = h('div', { class: 'update-history' });
  const actionError = h('p', { class: 'error', 'data-testid': 'update-action-error' });
  const form = offerForm('update', async (body) => {
    await updatesApi.offer(id, body);
    await load();
  });
  host.replaceChildren(h('div', { class: 'update-view' },
    h('h2', {}, 'Offer an update'), form,
    h('h2', {}, 'Current update'), current, actionError,
    h('h2', {}, 'Earlier updates'), history));

  async function act(what) {
    actionError.textContent = '';
    try {
      await what();
      await load();
    } catch (e) {
      fail(e, actionError);
    }
  }

  function renderCurrent(u) {
    const live = !FINAL.has(u.state);
    const percent = u.percent === null ? null : u.percent;
    const children = [
      h('div', { class: 'update-line' }, stateBadge(u.state, 'update-state'),
        h('span', {}, `${u.artifact} → version ${u.version}`),
        h('span', { class: 'muted' }, `${size(u.size)}, offered by ${u.created_by || '—'} ${time(u.created)}`)),
    ];
    if (percent !== null) {
      children.push(h('div', { class: 'update-progress' },
        h('progress', { max: 100, value: percent, 'data-testid': 'update-percent' }), ` ${percent}%`));
    }
    if (u.state === 'awaiting-consent') {
      children.push(h('div', { class: 'update-actions' },
        h('span', {}, 'The device waits for consent (from here, or locally: tetherctl update respond).'),
        h('button', { class: 'primary', 'data-testid': 'update-accept', onclick: () => act(() => updatesApi.consent(u.id, true)) }, 'Accept'),
        h('button', { 'data-testid': 'update-decline', onclick: () => act(() => updatesApi.consent(u.id, false)) }, 'Decline')));
    }
    if (live) {
      children.push(h('div', { class: 'update-actions' },
        h('button', { 'data-testid': 'update-cancel', onclick: () => act(() => updatesApi.cancel(u.id)) }, 'Cancel update')));
    }
    if (u.message) {
      children.push(h('p', {}, FINAL.has(u.state) ? 'Outcome, with the installer\'s output:' : 'Latest message:'),
        h('pre', { class: 'update-output', 'data-testid': 'update-output' }, u.message));
    }
    children.push(h('table', { class: 'devices update-events', 'data-testid': 'update-events' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'State'), h('th', {}, '%'), h('th', { class: 'wide' }, 'Message'))),
      h('tbody', {}, [...u.events].reverse().map((e) => h('tr', {},
        h('td', {}, time(e.at)), h('td', {}, e.state), h('td', {}, e.percent === null ? '' : e.percent),
        h('td', { class: 'wide' }, e.message))))));
    current.replaceChildren(...children);
    current.dataset.state = u.state;
  }

  async function load() {
    clearTimeout(timer);
    try {
      const list = await updatesApi.list(id);
      if (disposed) return;
      if (list.length) renderCurrent(list[0]);
      history.replaceChildren(list.length > 1
        ? h('table', { class: 'devices' }, h('tbody', {}, list.slice(1).map((u) => h('tr', {},
          h('td', {}, time(u.created)), h('td', {}, stateBadge(u.state)), h('td', {}, u.artifact),
          h('td', {}, u.version), h('td', { class: 'wide' }, u.message)))))
        : h('p', { class: 'muted' }, 'None.'));
      const live = list.length && !FINAL.has(list[0].state);
      timer = setTimeout(load, live ? FAST_MS : SLOW_MS);
    } catch (e) {
      fail(e, actionError);
      if (!disposed) timer = setTimeout(load, SLOW_MS);
    }
  }
  load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}

// The fleet page: one artifact to the chosen devices; campaigns and their counts.
export function fleetUpdatesPage(main) {
  let disposed = false;
  let timer = null;
  let shown = null; // the campaign whose devices are listed
  const deviceBox = h('div', { class: 'update-devices', 'data-testid': 'fleet-devices' }, h('p', { class: 'muted' }, 'Loading…'));
  const campaigns = h('div', { class: 'table-wrap', 'data-testid': 'fleet-campaigns' });
  const detail = h('div', { class: 'update-campaign', 'data-testid': 'fleet-campaign' });
  const error = h('p', { class: 'error' });
  const form = offerForm('fleet', async (body) => {
    const chosen = [...deviceBox.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
    if (!chosen.length) throw new Error('Choose at least one device.');
    const c = await updatesApi.createCampaign({ ...body, devices: chosen });
    shown = c.id;
    await load();
  }, deviceBox);
  main.replaceChildren(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Fleet updates')),
    h('h2', {}, 'Offer one artifact to several devices'), form,
    h('h2', {}, 'Campaigns'), campaigns, detail, error));

  async function loadDevices() {
    try {
      const devices = await updatesApi.devices();
      deviceBox.replaceChildren(...devices.map((d) => h('label', { class: 'update-device' },
        h('input', { type: 'checkbox', value: d.id, 'data-testid': 'fleet-device', 'data-device': d.id }),
        ` ${d.id} `, h('span', { class: 'muted' }, d.online ? 'online' : 'offline'))));
    } catch (e) {
      fail(e, error);
    }
  }
  const counts = (c) => Object.entries(c.counts).map(([state, n]) =>
    h('span', { class: 'update-count', 'data-state': state }, stateBadge(state), ` ${n}`));

  async function load() {
    clearTimeout(timer);
    try {
      const list = await updatesApi.campaigns();
      if (disposed) return;
      campaigns.replaceChildren(list.length
        ? h('table', { class: 'devices' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Created'), h('th', {}, 'Artifact'), h('th', {}, 'Version'),
            h('th', {}, 'Devices'), h('th', { class: 'wide' }, 'Counts per state'))),
          h('tbody', {}, list.map((c) => h('tr', { 'data-testid': 'fleet-campaign-row', 'data-campaign': c.id },
            h('td', {}, h('a', { href: '#/updates', onclick: (ev) => { ev.preventDefault(); shown = c.id; load(); } }, time(c.created))),
            h('td', {}, c.artifact), h('td', {}, c.version), h('td', {}, c.total),
            h('td', { class: 'wide' }, counts(c))))))
        : h('p', { class: 'muted' }, 'No campaign yet.'));
      if (shown) {
        const c = await updatesApi.campaign(shown);
        if (disposed) return;
        detail.replaceChildren(h('h2', {}, `Campaign ${c.id}: ${c.artifact} → ${c.version}`),
          h('div', { class: 'update-counts', 'data-testid': 'fleet-counts' }, counts(c)),
          h('table', { class: 'devices' }, h('tbody', {}, c.updates.map((u) => h('tr', {},
            h('td', {}, h('a', { href: `#/devices/${enc(u.device)}/updates` }, u.device)),
            h('td', {}, stateBadge(u.state)), h('td', {}, u.percent === null ? '' : `${u.percent}%`),
            h('td', { class: 'wide' }, u.message))))));
      }
    } catch (e) {
      fail(e, error);
    }
    if (!disposed) timer = setTimeout(load, 2000);
  }
  loadDevices();
  load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}
