// Accounts, API tokens and the audit trail (admin pages; tokens for everyone).
// The hub checks every call itself: these pages only show what the role may do.
import { call } from './api.js';

const ROLES = ['viewer', 'operator', 'admin'];

const adminApi = {
  accounts: () => call('GET', '/api/accounts'),
  createAccount: (name, role, password) => call('POST', '/api/accounts', { name, role, password }),
  accountAction: (name, verb, body = {}) =>
    call('POST', `/api/accounts/${encodeURIComponent(name)}/${verb}`, body),
  tokens: (all) => call('GET', all ? '/api/tokens?all=1' : '/api/tokens'),
  createToken: (label, role, user) => call('POST', '/api/tokens', { label, role, ...(user ? { user } : {}) }),
  revokeToken: (id) => call('POST', `/api/tokens/${encodeURIComponent(id)}/revoke`),
  audit: (query) => call('GET', `/api/audit?${new URLSearchParams(query)}`),
};

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : '—';
}

function select(h, name, values, value, attrs = {}) {
  const el = h('select', { name, ...attrs }, values.map((v) => h('option', { value: v }, v)));
  el.value = value;
  return el;
}

// Accounts (admin) and tokens (own; all for an admin). Returns the page's cleanup.
export function accountsPage(main, h, session, onError) {
  const isAdmin = session.role === 'admin';
  const accountsBox = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const tokensBox = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const message = h('p', { class: 'error', role: 'alert', 'data-testid': 'admin-message' });
  const newToken = h('div', { class: 'new-token', hidden: true, 'data-testid': 'new-token' });

  async function act(what) {
    message.textContent = '';
    try {
      await what();
      await load();
    } catch (e) {
      if (!onError(e)) message.textContent = e.message;
    }
  }

  const name = h('input', { name: 'name', placeholder: 'name', required: true, 'data-testid': 'account-name' });
  const role = select(h, 'role', ROLES, 'viewer', { 'data-testid': 'account-role' });
  const password = h('input', { name: 'password', type: 'password', placeholder: 'password (8+)',
    autocomplete: 'new-password', required: true, 'data-testid': 'account-password' });
  const createForm = h('form', { class: 'inline-form', 'data-testid': 'account-create' },
    name, role, password, h('button', { type: 'submit', class: 'primary' }, 'Add account'));
  createForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(async () => {
      await adminApi.createAccount(name.value, role.value, password.value);
      createForm.reset();
    });
  });

  const label = h('input', { name: 'label', placeholder: 'label (what it is for)', 'data-testid': 'token-label' });
  const tokenRole = select(h, 'role', ROLES.slice(0, ROLES.indexOf(session.role) + 1), session.role,
    { 'data-testid': 'token-role' });
  const tokenForm = h('form', { class: 'inline-form', 'data-testid': 'token-create' },
    label, tokenRole, h('button', { type: 'submit', class: 'primary' }, 'Make a token'));
  tokenForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(async () => {
      const made = await adminApi.createToken(label.value, tokenRole.value);
      newToken.hidden = false;
      newToken.replaceChildren(
        h('p', {}, 'Your new token (shown once; copy it now):'),
        h('code', { 'data-testid': 'token-secret' }, made.token));
      tokenForm.reset();
    });
  });

  function accountRow(a) {
    const roleSel = select(h, 'role', ROLES, a.role, { disabled: a.config || a.name === session.user });
    roleSel.addEventListener('change', () => act(() => adminApi.accountAction(a.name, 'role', { role: roleSel.value })));
    const buttons = [];
    if (!a.config && a.name !== session.user) {
      buttons.push(h('button', { 'data-testid': a.disabled ? 'account-enable' : 'account-disable',
        onclick: () => act(() => adminApi.accountAction(a.name, a.disabled ? 'enable' : 'disable')) },
      a.disabled ? 'Enable' : 'Disable'));
      buttons.push(h('button', { 'data-testid': 'account-delete', onclick: () => {
        if (confirm(`Delete ${a.name} and its tokens?`)) act(() => adminApi.accountAction(a.name, 'delete'));
      } }, 'Delete'));
    }
    if (!a.config) {
      buttons.push(h('button', { onclick: () => {
        const pw = prompt(`New password for ${a.name} (8 or more characters)`);
        if (pw) act(() => adminApi.accountAction(a.name, 'password', { password: pw }));
      } }, 'Set password'));
    }
    return h('tr', { 'data-testid': 'account-row', 'data-account': a.name },
      h('td', {}, a.name, a.config ? h('span', { class: 'muted' }, ' (config file)') : null),
      h('td', {}, roleSel),
      h('td', {}, a.disabled ? h('span', { class: 'badge offline' }, 'disabled') : h('span', { class: 'badge online' }, 'active')),
      h('td', {}, when(a.created)),
      h('td', {}, h('div', { class: 'actions' }, buttons)));
  }

  function tokenRow(t) {
    return h('tr', { 'data-testid': 'token-row' },
      h('td', {}, t.label || h('span', { class: 'muted' }, '(no label)')),
      h('td', {}, t.user), h('td', {}, t.role), h('td', {}, when(t.created)),
      h('td', {}, h('div', { class: 'actions' }, h('button', { onclick: () => act(() => adminApi.revokeToken(t.id)) }, 'Revoke'))));
  }

  async function load() {
    try {
      if (isAdmin) {
        const accounts = await adminApi.accounts();
        accountsBox.replaceChildren(h('table', { class: 'devices', 'data-testid': 'account-list' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Account'), h('th', {}, 'Role'), h('th', {}, 'State'),
            h('th', {}, 'Created'), h('th', {}, ''))),
          h('tbody', {}, accounts.map(accountRow))));
      }
      const tokens = await adminApi.tokens(isAdmin);
      tokensBox.replaceChildren(tokens.length === 0 ? h('p', { class: 'muted' }, 'No API tokens.')
        : h('table', { class: 'devices', 'data-testid': 'token-list' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Label'), h('th', {}, 'Account'), h('th', {}, 'Role'),
            h('th', {}, 'Created'), h('th', {}, ''))),
          h('tbody', {}, tokens.map(tokenRow))));
    } catch (e) {
      if (!onError(e)) message.textContent = e.message;
    }
  }

  main.replaceChildren(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, isAdmin ? 'Accounts' : 'API tokens')),
    message,
    isAdmin ? [createForm, accountsBox, h('h1', {}, 'API tokens')] : null,
    tokenForm, newToken, tokensBox));
  load();
  return null;
}

// The audit trail with filters and a JSON lines export (admin).
export function auditPage(main, h, onError) {
  const fields = {
    user: h('input', { name: 'user', placeholder: 'user', 'data-testid': 'audit-user' }),
    device: h('input', { name: 'device', placeholder: 'device', 'data-testid': 'audit-device' }),
    action: h('input', { name: 'action', placeholder: 'action (shell. for all shell events)', 'data-testid': 'audit-action' }),
    from: h('input', { name: 'from', type: 'datetime-local', title: 'from' }),
    to: h('input', { name: 'to', type: 'datetime-local', title: 'to' }),
  };
  const body = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const exportLink = h('a', { class: 'export', 'data-testid': 'audit-export', download: 'tether-audit.jsonl' }, 'Export JSON lines');
  const form = h('form', { class: 'inline-form', 'data-testid': 'audit-filters' },
    Object.values(fields), h('button', { type: 'submit', class: 'primary' }, 'Filter'), exportLink);

  function query() {
    const q = {};
    for (const k of ['user', 'device', 'action']) if (fields[k].value.trim()) q[k] = fields[k].value.trim();
    for (const k of ['from', 'to']) if (fields[k].value) q[k] = String(new Date(fields[k].value).getTime());
    return q;
  }

  async function load() {
    const q = query();
    exportLink.href = `/api/audit?${new URLSearchParams({ ...q, format: 'jsonl' })}`;
    try {
      const events = await adminApi.audit(q);
      body.replaceChildren(events.length === 0 ? h('p', { class: 'muted' }, 'Nothing recorded that matches.')
        : h('table', { class: 'devices', 'data-testid': 'audit-list' },
          h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Who'), h('th', {}, 'Action'),
            h('th', {}, 'Device'), h('th', {}, 'Outcome'), h('th', { class: 'wide' }, 'Detail'), h('th', {}, 'From'))),
          h('tbody', {}, events.map((e) => h('tr', { 'data-testid': 'audit-row', 'data-action': e.action, 'data-user': e.user },
            h('td', {}, when(e.at)), h('td', {}, e.user || '—'), h('td', {}, e.action),
            h('td', {}, e.device || '—'),
            h('td', {}, h('span', { class: `badge ${e.outcome === 'ok' ? 'online' : 'offline'}` }, e.outcome)),
            h('td', { class: 'wide' }, e.detail), h('td', {}, e.address || '—'))))));
    } catch (e) {
      if (!onError(e)) body.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load();
  });

  main.replaceChildren(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit trail')), form, body));
  load();
  const timer = setInterval(load, 5000);
  return () => clearInterval(timer);
}
