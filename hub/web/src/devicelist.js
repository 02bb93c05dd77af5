// The device list at fleet size: the hub pages, searches and filters
// (GET /api/devices?offset=&limit=&q=&online=&alerts=&version=), so the browser
// only ever holds one page, whatever the fleet's size. The current page is
// re-fetched every 5 s; typing in the search box waits for a pause first.
import { api } from './api.js';
import { openAlertCounts, alertBadge } from './telemetry.js';

const PAGE = 50;

// Renders into `host` (with the helpers of app.js); returns the teardown.
export function deviceListView(host, { h, badge, ago, handleError }) {
  const state = { offset: 0, q: '', online: '', alerts: '', version: '' };
  let timer = null;
  let searchTimer = null;
  let seq = 0; // answers to older queries are dropped
  let disposed = false;

  const search = h('input', {
    type: 'search', placeholder: 'Search id or version', 'data-testid': 'device-search',
    'aria-label': 'Search devices',
    oninput: () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { state.q = search.value.trim(); state.offset = 0; load(); }, 250);
    },
  });
  const select = (testid, label, key, options) => h('select', {
    'data-testid': testid, 'aria-label': label,
    onchange: (e) => { state[key] = e.target.value; state.offset = 0; load(); },
  }, options.map(([value, text]) => h('option', { value }, text)));
  const onlineSel = select('device-filter-online', 'Connection', 'online',
    [['', 'Any state'], ['true', 'Online'], ['false', 'Offline']]);
  const alertsSel = select('device-filter-alerts', 'Alerts', 'alerts',
    [['', 'Any alerts'], ['true', 'Open alerts'], ['false', 'No open alerts']]);
  const versionSel = select('device-filter-version', 'Version', 'version', [['', 'Any version']]);
  const count = h('span', { class: 'muted', 'data-testid': 'device-count' });
  const prev = h('button', { 'data-testid': 'device-prev', onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); } }, '‹ Prev');
  const next = h('button', { 'data-testid': 'device-next', onclick: () => { state.offset += PAGE; load(); } }, 'Next ›');
  const table = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  host.replaceChildren(
    h('div', { class: 'device-tools' }, search, onlineSel, alertsSel, versionSel,
      h('span', { class: 'pager' }, prev, count, next)),
    table);

  function setVersions(versions) {
    const keep = state.version;
    const have = [...versionSel.options].map((o) => o.value).slice(1);
    if (have.join('\n') === versions.join('\n')) return;
    versionSel.replaceChildren(h('option', { value: '' }, 'Any version'),
      ...versions.map((v) => h('option', { value: v }, v)));
    versionSel.value = versions.includes(keep) ? keep : '';
  }

  async function load() {
    const mine = ++seq;
    const params = { offset: state.offset, limit: PAGE };
    for (const k of ['q', 'online', 'alerts', 'version']) if (state[k]) params[k] = state[k];
    try {
      const [page, alerts] = await Promise.all([api.devicePage(params), openAlertCounts()]);
      if (disposed || mine !== seq) return;
      setVersions(page.versions || []);
      if (page.total > 0 && state.offset >= page.total) {
        state.offset = Math.floor((page.total - 1) / PAGE) * PAGE;
        load();
        return;
      }
      const filtered = state.q || state.online || state.alerts || state.version;
      count.textContent = page.total === 0 ? '0 devices'
        : `${page.offset + 1}–${page.offset + page.devices.length} of ${page.total}`;
      prev.disabled = page.offset === 0;
      next.disabled = page.offset + page.devices.length >= page.total;
      if (page.total === 0) {
        table.replaceChildren(h('p', { class: 'muted', 'data-testid': 'device-list-empty' }, filtered
          ? 'No device matches.'
          : 'No devices registered yet. Add one with tether-hub --add-device ID --token-file FILE.'));
        return;
      }
      table.replaceChildren(h('table', { class: 'devices', 'data-testid': 'device-list' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Device'), h('th', {}, 'State'),
          h('th', {}, 'Last seen'), h('th', {}, 'Alerts'), h('th', { class: 'wide' }, 'Version'))),
        h('tbody', {}, page.devices.map((d) =>
          h('tr', { 'data-testid': 'device-row', 'data-device': d.id },
            h('td', {}, h('a', { href: `#/devices/${encodeURIComponent(d.id)}` }, d.id)),
            h('td', {}, badge(d.online)),
            h('td', {}, d.online ? 'now' : ago(d.last_seen)),
            h('td', {}, alertBadge(alerts[d.id])),
            h('td', { class: 'wide' }, d.version || '—'))))));
    } catch (e) {
      if (!disposed) handleError(e, table);
    }
  }

  load();
  timer = setInterval(load, 5000);
  return () => {
    disposed = true;
    clearInterval(timer);
    clearTimeout(searchTimer);
  };
}
