// The operator UI: a tiny hash router over three pages (login, device list, device).
import { api, Unauthorized } from './api.js';
import { TerminalSession } from './terminal.js';
import { telemetryView } from './telemetry.js';
import { configView } from './config.js';
import { updatesView, fleetUpdatesPage } from './update.js';
import { commandsView } from './commands.js';
import { filesView } from './files.js';
import { accountsPage, auditPage } from './admin.js';
import { deviceListView } from './devicelist.js';
import { h } from './dom.js';

const main = document.getElementById('main');
const userBox = document.getElementById('user');
let cleanup = null; // the current page's teardown
let currentUser = null;
let currentRole = null; // viewer, operator or admin (the hub checks; the UI only hides)

function ago(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

function badge(online) {
  return h('span', { class: `badge ${online ? 'online' : 'offline'}`, 'data-testid': 'device-state' },
    online ? 'online' : 'offline');
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function setUser(user, role = null) {
  currentUser = user;
  currentRole = user ? role : null;
  for (const link of document.querySelectorAll('[data-role]')) {
    link.hidden = !(currentRole === 'admin' || (currentRole && link.dataset.role !== 'admin'));
  }
  userBox.replaceChildren();
  if (user) {
    userBox.append(
      h('span', { class: 'who' }, user),
      h('button', { class: 'link', 'data-testid': 'logout', onclick: logout }, 'Log out'),
    );
  }
}

async function logout() {
  try {
    await api.logout();
  } catch {
    /* logged out anyway */
  }
  setUser(null);
  go('#/login');
}

function handleError(e, where) {
  if (e instanceof Unauthorized) {
    setUser(null);
    go('#/login');
    return;
  }
  where.replaceChildren(h('p', { class: 'error' }, e.message || String(e)));
}

// ---------------------------------------------------------------- pages

function loginPage() {
  const error = h('p', { class: 'error', role: 'alert' });
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'username' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'password' });
  const form = h('form', { class: 'card login', 'data-testid': 'login-form' },
    h('h1', {}, 'Sign in'),
    h('label', {}, 'Username', user),
    h('label', {}, 'Password', pass),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const res = await api.login(user.value, pass.value);
      setUser(res.user, res.role);
      go('#/devices');
    } catch (e) {
      error.textContent = e.status === 401 ? 'Wrong username or password.' : e.message;
    }
  });
  main.replaceChildren(h('div', { class: 'center' }, form));
  user.focus();
}

function devicesPage() {
  const body = h('div');
  main.replaceChildren(
    h('section', { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Devices')),
      body));
  return deviceListView(body, { h, badge, ago, handleError });
}

const TABS = [
  { id: 'terminal', label: 'Terminal' },
  { id: 'telemetry', label: 'Telemetry' },
  { id: 'commands', label: 'Commands' },
  { id: 'files', label: 'Files' },
  { id: 'alerts', label: 'Alerts', later: true },
  { id: 'config', label: 'Config' },
  { id: 'updates', label: 'Updates' },
];

function devicePage(id) {
  const info = h('div', { class: 'device-info' }, h('span', { class: 'muted' }, 'Loading…'));
  const status = h('span', { class: 'term-status', 'data-testid': 'terminal-status' }, 'Not connected');
  const openBtn = h('button', { class: 'primary', 'data-testid': 'terminal-open' }, 'Open terminal');
  const closeBtn = h('button', { 'data-testid': 'terminal-close', disabled: true }, 'Close session');
  const termHost = h('div', { class: 'term-host', 'data-testid': 'terminal' });
  const overlay = h('div', { class: 'term-overlay', 'data-testid': 'terminal-message' },
    h('p', {}, 'Open a terminal to start a shell on this device.'));
  const tabs = h('nav', { class: 'tabs', role: 'tablist' }, TABS.map((t) =>
    h('button', { role: 'tab', class: t.id === 'terminal' ? 'tab active' : 'tab',
      'data-tab': t.id, disabled: t.later, title: t.later ? 'Coming later' : undefined }, t.label)));
  // Telemetry lives in telemetry.js; the tab swaps the terminal panel for it.
  const telemetryHost = h('div', { class: 'telemetry-host', hidden: true });
  let telemetryCleanup = null;
  // Config lives in config.js, the same way.
  const configHost = h('div', { class: 'config-host', hidden: true });
  let configCleanup = null;
  // Updates live in update.js, the same way.
  const updatesHost = h('div', { class: 'updates-host', hidden: true });
  let updatesCleanup = null;
  // Commands live in commands.js, shown the same way.
  const commandsHost = h('div', { class: 'commands-host', hidden: true });
  let commandsCleanup = null;
  // Files live in files.js (transfers need the operator role; the view says so).
  const filesHost = h('div', { class: 'files-host', hidden: true });
  let filesCleanup = null;
  tabs.addEventListener('click', (ev) => {
    const tab = ev.target.closest('[data-tab]');
    if (!tab || tab.disabled) return;
    for (const t of tabs.children) t.classList.toggle('active', t === tab);
    const tele = tab.dataset.tab === 'telemetry';
    const conf = tab.dataset.tab === 'config';
    const upd = tab.dataset.tab === 'updates';
    telemetryHost.hidden = !tele;
    configHost.hidden = !conf;
    updatesHost.hidden = !upd;
    const cmds = tab.dataset.tab === 'commands';
    commandsHost.hidden = !cmds;
    const files = tab.dataset.tab === 'files';
    filesHost.hidden = !files;
    main.querySelector('.term-panel').hidden = tele || conf || upd || cmds || files;
    if (files && !filesCleanup) filesCleanup = filesView(id, filesHost, { role: currentRole });
    if (tele && !telemetryCleanup) telemetryCleanup = telemetryView(id, telemetryHost);
    if (conf && !configCleanup) configCleanup = configView(id, configHost);
    if (upd && !updatesCleanup) updatesCleanup = updatesView(id, updatesHost);
    if (cmds && !commandsCleanup) commandsCleanup = commandsView(id, commandsHost);
  });

  main.replaceChildren(
    h('section', { class: 'page device-page' },
      h('div', { class: 'page-head' },
        h('a', { href: '#/devices', class: 'back' }, '← Devices'),
        h('h1', { 'data-testid': 'device-title' }, id), info),
      tabs,
      h('div', { class: 'term-panel' },
        h('div', { class: 'term-toolbar' }, status, h('span', { class: 'spacer' }), closeBtn, openBtn),
        h('div', { class: 'term-frame' }, termHost, overlay)),
      telemetryHost,
      configHost,
      updatesHost,
      commandsHost,
      filesHost));

  let session = null;
  let online = false;
  let disposed = false;
  let lastMessage = '';

  function showState(state, message) {
    status.textContent = message;
    status.dataset.state = state;
    const live = state === 'open';
    closeBtn.disabled = !live;
    openBtn.textContent = live ? 'New session' : session && state !== 'connecting' ? 'Reopen terminal' : 'Open terminal';
    openBtn.disabled = state === 'connecting';
    overlay.hidden = live || state === 'connecting';
    if (!overlay.hidden) {
      lastMessage = message;
      overlay.replaceChildren(h('p', {}, message));
      if (state === 'ended' || state === 'error') {
        overlay.append(h('p', { class: 'muted' }, 'Reopen the terminal to start a new shell.'));
      }
    }
    if (state === 'error' || state === 'ended') refresh();
  }

  async function refresh() {
    try {
      const d = await api.device(id);
      if (disposed) return;
      online = d.online;
      const parts = [badge(d.online),
        h('span', {}, d.online ? 'connected now' : `last seen ${ago(d.last_seen)}`),
        h('span', {}, `version ${d.version || '—'}`)];
      if (d.status && d.status.uptime_s != null) {
        parts.push(h('span', {}, `up ${Math.round(d.status.uptime_s / 60)} min`));
      }
      info.replaceChildren(...parts);
      if ((!session || !session.live) && !online) {
        overlay.hidden = false;
        overlay.replaceChildren(h('p', {}, lastMessage || 'No terminal open.'),
          h('p', { class: 'muted' }, 'The device is offline; reopen the terminal once it is back.'));
      }
    } catch (e) {
      if (e.status === 404) info.replaceChildren(h('span', { class: 'error' }, 'No such device'));
      else handleError(e, info);
    }
  }

  openBtn.addEventListener('click', async () => {
    await refresh();
    if (!online) {
      showState('error', 'The device is offline.');
      return;
    }
    if (!session) session = new TerminalSession(id, termHost, showState);
    session.open();
  });
  closeBtn.addEventListener('click', () => session && session.stop());

  refresh();
  const timer = setInterval(refresh, 5000);
  return () => {
    disposed = true;
    clearInterval(timer);
    if (session) session.dispose();
    if (telemetryCleanup) telemetryCleanup();
    if (configCleanup) configCleanup();
    if (updatesCleanup) updatesCleanup();
    if (commandsCleanup) commandsCleanup();
    if (filesCleanup) filesCleanup();
  };
}

// ---------------------------------------------------------------- router

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const hash = location.hash || '#/devices';
  if (hash === '#/login') {
    loginPage();
    return;
  }
  if (!currentUser) {
    try {
      const s = await api.session();
      setUser(s.user, s.role);
    } catch {
      go('#/login');
      return;
    }
  }
  const onError = (e) => {
    if (e instanceof Unauthorized) handleError(e, main);
    return e instanceof Unauthorized;
  };
  if (hash === '#/accounts') {
    cleanup = accountsPage(main, h, { user: currentUser, role: currentRole }, onError);
    return;
  }
  if (hash === '#/audit') {
    cleanup = auditPage(main, h, onError);
    return;
  }
  const m = hash.match(/^#\/devices\/(.+)$/);
  const tele = hash.match(/^#\/devices\/(.+)\/telemetry$/);
  const conf = hash.match(/^#\/devices\/(.+)\/config$/);
  const upd = hash.match(/^#\/devices\/(.+)\/updates$/);
  const cmds = hash.match(/^#\/devices\/(.+)\/commands$/);
  const files = hash.match(/^#\/devices\/(.+)\/files$/);
  if (hash === '#/updates') cleanup = fleetUpdatesPage(main);
  else if (upd) {
    cleanup = devicePage(decodeURIComponent(upd[1]));
    main.querySelector('[data-tab="updates"]').click();
  } else if (cmds) {
    cleanup = devicePage(decodeURIComponent(cmds[1]));
    main.querySelector('[data-tab="commands"]').click();
  } else if (files) {
    cleanup = devicePage(decodeURIComponent(files[1]));
    main.querySelector('[data-tab="files"]').click();
  } else if (tele) {
    cleanup = devicePage(decodeURIComponent(tele[1]));
    main.querySelector('[data-tab="telemetry"]').click();
  } else if (conf) {
    cleanup = devicePage(decodeURIComponent(conf[1]));
    main.querySelector('[data-tab="config"]').click();
  } else if (m) cleanup = devicePage(decodeURIComponent(m[1]));
  else cleanup = devicesPage() || null;
}

window.addEventListener('hashchange', route);
route();
