// The device page's Commands view (docs/hub.md, "Commands"): pick one of the
// targets the device's apps registered, an action and JSON args, send; the outcome
// shows live (pending, then ok / error / timeout / busy / no-target / invalid with
// ret or err), and the history lists every request with who sent it. Sending needs
// the operator role; the hub says so (403) otherwise.
import { h } from './dom.js';
import { call } from './api.js';

const POLL_MS = 1000;

const base = (id) => `/api/devices/${encodeURIComponent(id)}`;
const time = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
const json = (v) => JSON.stringify(v);

function outcomeText(c) {
  if (c.status === 'pending') return 'waiting for the device…';
  const parts = [];
  if (c.ret !== null && c.ret !== undefined) parts.push(`ret ${json(c.ret)}`);
  if (c.err) parts.push(`err ${c.err}`);
  return parts.join(' · ') || '—';
}

function statusBadge(status) {
  const kind = status === 'ok' ? 'ok' : status === 'pending' ? 'pending' : 'bad';
  return h('span', { class: `badge cmd-${kind}`, 'data-testid': 'command-status' }, status);
}

// Renders the view into `host`; returns its teardown.
export function commandsView(id, host) {
  let disposed = false;
  let timer = null;
  let lastSent = null; // the id of the request sent from this view

  const targetSelect = h('select', { 'data-testid': 'command-target', 'aria-label': 'Target' });
  const targetsNote = h('span', { class: 'muted', 'data-testid': 'command-targets-note' }, 'Loading…');
  const action = h('input', { 'data-testid': 'command-action', placeholder: 'action, e.g. on', 'aria-label': 'Action' });
  const args = h('textarea', { 'data-testid': 'command-args', rows: 3, 'aria-label': 'Args (JSON object)' }, '{}');
  const timeout = h('input', { type: 'number', min: 1, max: 86400, 'data-testid': 'command-timeout',
    placeholder: 'device default', 'aria-label': 'Timeout (s)' });
  const sendBtn = h('button', { class: 'primary', type: 'submit', 'data-testid': 'command-send' }, 'Send');
  const error = h('p', { class: 'error', 'data-testid': 'command-error', role: 'alert' });
  const outcome = h('div', { class: 'cmd-outcome', 'data-testid': 'command-outcome', hidden: true });
  const history = h('tbody', {});

  const form = h('form', { class: 'cmd-form', 'data-testid': 'command-form' },
    h('label', {}, 'Target', targetSelect),
    h('label', {}, 'Action', action),
    h('label', { class: 'cmd-args' }, 'Args (JSON object)', args),
    h('label', {}, 'Timeout (s)', timeout),
    h('div', { class: 'cmd-actions' }, sendBtn, targetsNote),
    error);

  host.replaceChildren(h('div', { class: 'commands' },
    h('div', { class: 'card' }, h('h2', {}, 'Send a command'), form, outcome),
    h('div', { class: 'card' }, h('h2', {}, 'History'),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'devices cmd-history', 'data-testid': 'command-history' },
          h('thead', {}, h('tr', {}, ['Sent', 'By', 'Target', 'Action', 'Args', 'Status', 'Outcome']
            .map((t) => h('th', {}, t)))),
          history)))));

  function showTargets(t) {
    const chosen = targetSelect.value;
    const names = t.targets || [];
    targetSelect.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    if (names.includes(chosen)) targetSelect.value = chosen;
    targetSelect.disabled = names.length === 0;
    targetsNote.textContent = !t.online ? 'The device is offline.'
      : names.length === 0 ? 'No app on the device has registered a target.' : '';
    sendBtn.disabled = !t.online || names.length === 0;
  }

  function showOutcome(c) {
    outcome.hidden = false;
    outcome.dataset.status = c.status;
    outcome.dataset.id = c.id;
    outcome.replaceChildren(
      h('span', {}, `${c.target} ${c.action}: `), statusBadge(c.status), ' ',
      h('span', { 'data-testid': 'command-result' }, outcomeText(c)));
  }

  function showHistory(list) {
    history.replaceChildren(...list.map((c) => h('tr', { 'data-testid': 'command-row', 'data-id': c.id, 'data-status': c.status },
      h('td', {}, time(c.created)),
      h('td', { 'data-testid': 'command-user' }, c.user || '—'),
      h('td', {}, c.target || '—'),
      h('td', {}, c.action || '—'),
      h('td', { class: 'cmd-json' }, json(c.args)),
      h('td', {}, statusBadge(c.status)),
      h('td', { class: 'cmd-json', 'data-testid': 'command-row-result' }, outcomeText(c)))));
    if (list.length === 0) {
      history.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No commands sent yet.')));
    }
  }

  async function poll() {
    try {
      const [targets, list] = await Promise.all([
        call('GET', `${base(id)}/command-targets`), call('GET', `${base(id)}/commands?limit=50`)]);
      if (disposed) return;
      showTargets(targets);
      showHistory(list);
      if (lastSent) {
        const mine = list.find((c) => c.id === lastSent) ||
          await call('GET', `${base(id)}/commands/${lastSent}`);
        if (!disposed) showOutcome(mine);
      }
    } catch (e) {
      if (!disposed) targetsNote.textContent = e.message;
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    let parsedArgs;
    try {
      parsedArgs = JSON.parse(args.value.trim() || '{}');
    } catch (e) {
      error.textContent = `Args are not JSON: ${e.message}`;
      return;
    }
    if (parsedArgs === null || typeof parsedArgs !== 'object' || Array.isArray(parsedArgs)) {
      error.textContent = 'Args must be a JSON object, e.g. {"channel": 2}.';
      return;
    }
    const body = { target: targetSelect.value, action: action.value.trim(), args: parsedArgs };
    if (timeout.value) body.timeout_s = Number(timeout.value);
    sendBtn.disabled = true;
    try {
      const sent = await call('POST', `${base(id)}/commands`, body);
      lastSent = sent.id;
      showOutcome({ ...body, id: sent.id, status: 'pending' });
      await poll();
    } catch (e) {
      error.textContent = e.message;
    } finally {
      sendBtn.disabled = false;
    }
  });

  poll();
  timer = setInterval(poll, POLL_MS);
  return () => {
    disposed = true;
    clearInterval(timer);
  };
}
