// The device page's Config view (docs/hub.md, "Config"): the desired config the
// hub holds for the device, its version and whether the device applied it
// (pending / applied / error with the device's reason), a JSON editor that checks
// the document before it is pushed, what the device last reported, and the
// history of pushed versions with who pushed them. It stays live by polling
// GET /api/devices/{id}/config (and the history) every second while shown.
import { api } from './api.js';
import { h } from './dom.js';

const POLL_MS = 1000;
// The hub's bounds (hub/services/config_json.hpp): checked here first so that the
// operator hears about a problem before anything is sent.
const MAX_DEPTH = 16;
const MAX_KEY_BYTES = 256;
const MAX_BODY_BYTES = 16384;

const time = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
const pretty = (doc) => JSON.stringify(doc, null, 2);

function depthOf(value) {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const item of Object.values(value)) deepest = Math.max(deepest, depthOf(item));
  return deepest + 1;
}

// The editor's text as a document to push, or the sentence saying why not.
export function checkDocument(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${e.message}` };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { error: 'The config must be a JSON object: {"key": value, …}' };
  }
  const encoder = new TextEncoder();
  for (const [key, value] of Object.entries(doc)) {
    if (encoder.encode(key).length > MAX_KEY_BYTES) {
      return { error: `Key "${key.slice(0, 32)}…" is longer than ${MAX_KEY_BYTES} bytes.` };
    }
    if (value === null) {
      return { error: `"${key}" is null: to delete a key, leave it out of the document.` };
    }
    if (depthOf(value) > MAX_DEPTH) {
      return { error: `"${key}" is nested deeper than ${MAX_DEPTH} levels.` };
    }
  }
  const size = encoder.encode(JSON.stringify({ values: doc, replace: true, expect_version: 0 })).length;
  if (size > MAX_BODY_BYTES) {
    return { error: `The config is ${size} bytes as JSON, over the hub's limit of ${MAX_BODY_BYTES}.` };
  }
  return { doc };
}

function stateBadge(state) {
  const label = state === 'none' ? 'never pushed' : state;
  return h('span', { class: `badge config-${state}`, 'data-testid': 'config-state', 'data-state': state }, label);
}

// Renders the view into `host`; returns its teardown.
export function configView(id, host) {
  let disposed = false;
  let timer = null;
  let shown = null; // the last GET /config answer
  let dirty = false; // the editor holds the operator's edits: polling leaves it alone

  const summary = h('div', { class: 'config-summary', 'data-testid': 'config-summary' });
  const editor = h('textarea', {
    class: 'config-editor', spellcheck: 'false', rows: 16, 'data-testid': 'config-editor',
    'aria-label': 'Config document (JSON)',
  });
  const check = h('p', { class: 'muted', 'data-testid': 'config-check', role: 'status' });
  const pushBtn = h('button', { class: 'primary', 'data-testid': 'config-push' }, 'Push to device');
  const revertBtn = h('button', { 'data-testid': 'config-revert' }, 'Discard edits');
  const pushError = h('p', { class: 'error', role: 'alert', 'data-testid': 'config-push-error' });
  const reported = h('pre', { class: 'config-reported', 'data-testid': 'config-reported' });
  const reportedHead = h('p', { class: 'muted', 'data-testid': 'config-reported-version' });
  const historyBody = h('tbody');
  const error = h('p', { class: 'error', role: 'alert' });

  host.replaceChildren(h('div', { class: 'config', 'data-testid': 'config' },
    error,
    h('h2', {}, 'Desired config'), summary,
    h('div', { class: 'config-edit' },
      editor, check,
      h('div', { class: 'term-toolbar' }, pushError, h('span', { class: 'spacer' }), revertBtn, pushBtn)),
    h('h2', {}, 'Reported by the device'), reportedHead, reported,
    h('h2', {}, 'History'),
    h('table', { class: 'devices', 'data-testid': 'config-history' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Version'), h('th', {}, 'State'), h('th', {}, 'Pushed by'),
        h('th', {}, 'Pushed at'), h('th', {}, 'Mode'), h('th', { class: 'wide' }, 'Reason'), h('th', {}, ''))),
      historyBody)));

  function validate() {
    const result = checkDocument(editor.value);
    check.textContent = result.error || 'Valid JSON object: ready to push.';
    check.className = result.error ? 'error' : 'muted';
    pushBtn.disabled = Boolean(result.error);
    return result;
  }

  function load(doc) {
    editor.value = pretty(doc);
    dirty = false;
    validate();
  }

  function renderSummary(c) {
    const parts = [stateBadge(c.state),
      h('span', { 'data-testid': 'config-version' }, `version ${c.version}`)];
    if (c.pushed_by) parts.push(h('span', {}, `pushed by ${c.pushed_by}, ${time(c.pushed_at)}`));
    if (c.state === 'pending') {
      parts.push(h('span', { class: 'muted' }, c.online ? 'sent; waiting for the device'
        : 'the device is offline: it gets this when it connects'));
    }
    if (c.state === 'applied' && c.answered_at) parts.push(h('span', {}, `applied ${time(c.answered_at)}`));
    if (c.reason) parts.push(h('span', { class: 'error', 'data-testid': 'config-reason' }, c.reason));
    summary.replaceChildren(...parts);
    if (c.reported) {
      reportedHead.textContent = `The device holds version ${c.reported.version} (reported ${time(c.reported.at)}).`;
      reported.textContent = pretty(c.reported.values);
    } else {
      reportedHead.textContent = 'The device has not reported its config yet.';
      reported.textContent = '';
    }
  }

  function renderHistory(rows) {
    historyBody.replaceChildren(...rows.map((v) =>
      h('tr', { 'data-testid': 'config-history-row', 'data-version': v.version },
        h('td', {}, v.version),
        h('td', {}, stateBadge(v.state)),
        h('td', { 'data-testid': 'config-history-by' }, v.pushed_by),
        h('td', {}, time(v.pushed_at)),
        h('td', {}, v.mode),
        h('td', { class: 'wide' }, v.reason || ''),
        h('td', {}, h('button', { class: 'link', onclick: () => load(v.document) }, 'Load into editor')))));
  }

  async function refresh() {
    try {
      const [c, rows] = await Promise.all([api.config(id), api.configHistory(id)]);
      if (disposed) return;
      error.textContent = '';
      const first = shown === null;
      shown = c;
      renderSummary(c);
      renderHistory(rows);
      if (first || !dirty) load(c.document);
    } catch (e) {
      if (!disposed) error.textContent = e.message || String(e);
    }
  }

  editor.addEventListener('input', () => {
    dirty = true;
    pushError.textContent = '';
    validate();
  });
  revertBtn.addEventListener('click', () => shown && load(shown.document));
  pushBtn.addEventListener('click', async () => {
    const { doc, error: invalid } = validate();
    if (invalid) return;
    pushBtn.disabled = true;
    pushError.textContent = '';
    try {
      // The editor holds the whole document: a replace, refused (409) if someone
      // pushed since this view loaded its version.
      const res = await api.pushConfig(id, { values: doc, replace: true,
        expect_version: shown ? shown.version : 0 });
      shown = { ...(shown || {}), ...res };
      dirty = false;
      await refresh();
    } catch (e) {
      pushError.textContent = e.status === 409 ? `${e.message}` : e.message || String(e);
    } finally {
      validate();
    }
  });

  refresh();
  timer = setInterval(refresh, POLL_MS);
  return () => {
    disposed = true;
    clearInterval(timer);
  };
}
