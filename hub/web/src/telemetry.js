// The device page's Telemetry view (docs/hub.md, "Monitoring"): the device's
// version and inventory, the latest value of every stream, a uPlot chart per
// numeric field over a chosen range (downsampled by the hub), the alerts and the
// online/offline history. New records arrive live: the view polls the hub for
// records after the last cursor it has seen and folds them in.
import uPlot from 'uplot';
import { api } from './api.js';
import { h } from './dom.js';

const POLL_MS = 1000;
const RANGES = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60e3 },
  { id: '1h', label: 'Last hour', ms: 3600e3 },
  { id: '6h', label: 'Last 6 hours', ms: 6 * 3600e3 },
  { id: '24h', label: 'Last 24 hours', ms: 24 * 3600e3 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 24 * 3600e3 },
];
const CHART_POINTS = 300;

const time = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
const show = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));

// Open alerts per device, for the device list: {id: count}.
export async function openAlertCounts() {
  try {
    return await api.openAlerts();
  } catch {
    return {};
  }
}

export function alertBadge(count) {
  if (!count) return h('span', { class: 'muted', 'data-testid': 'open-alerts' }, '—');
  return h('span', { class: 'badge alert', 'data-testid': 'open-alerts' },
    `${count} open alert${count === 1 ? '' : 's'}`);
}

// Renders the view into `host`; returns its teardown.
export function telemetryView(id, host) {
  let disposed = false;
  let cursor = 0;
  let range = RANGES[1];
  let timer = null;
  const charts = new Map(); // "stream\u0000field" -> {plot, xs, ys, el}
  const latest = new Map(); // stream -> record

  const statusBox = h('div', { class: 'tele-status', 'data-testid': 'telemetry-status' });
  const inventory = h('table', { class: 'kv', 'data-testid': 'inventory' });
  const latestBody = h('tbody');
  const latestTable = h('table', { class: 'devices', 'data-testid': 'telemetry-latest' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Stream'), h('th', {}, 'Field'), h('th', {}, 'Value'),
      h('th', {}, 'Time'))), latestBody);
  const rangeSelect = h('select', { 'data-testid': 'telemetry-range' },
    RANGES.map((r) => h('option', { value: r.id, selected: r === range }, r.label)));
  const chartBox = h('div', { class: 'charts', 'data-testid': 'charts' });
  const alertBody = h('tbody');
  const alertTable = h('table', { class: 'devices', 'data-testid': 'alert-list' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Alert'), h('th', {}, 'Severity'),
      h('th', {}, 'State'), h('th', {}, 'Summary'))), alertBody);
  const openBox = h('div', { 'data-testid': 'open-alert-list' });
  const lossBox = h('ul', { class: 'plain', 'data-testid': 'loss-list' });
  const presenceBody = h('ul', { class: 'plain', 'data-testid': 'presence-list' });
  const error = h('p', { class: 'error', role: 'alert' });

  host.replaceChildren(h('div', { class: 'telemetry', 'data-testid': 'telemetry' },
    error,
    h('section', { class: 'card' }, h('h2', {}, 'Device'), statusBox, inventory),
    h('section', { class: 'card' }, h('h2', {}, 'Alerts'), openBox, alertTable, lossBox),
    h('section', { class: 'card' }, h('h2', {}, 'Latest values'), latestTable),
    h('section', { class: 'card' }, h('div', { class: 'page-head' }, h('h2', {}, 'Charts'), rangeSelect),
      chartBox),
    h('section', { class: 'card' }, h('h2', {}, 'Online / offline'), presenceBody)));

  function renderStatus(status) {
    if (!status) {
      statusBox.replaceChildren(h('p', { class: 'muted' }, 'No status from this device yet.'));
      inventory.replaceChildren();
      return;
    }
    statusBox.replaceChildren(
      h('span', {}, `version ${status.version || '—'}`),
      h('span', {}, `boot ${status.boot_id || '—'}`),
      h('span', {}, `uptime ${status.uptime_s == null ? '—' : `${Math.round(status.uptime_s / 60)} min`}`),
      h('span', {}, `reported ${time(status.at)}`));
    inventory.replaceChildren(h('tbody', {}, Object.entries(status.inventory || {}).map(([k, v]) =>
      h('tr', {}, h('th', {}, k), h('td', {}, show(v))))));
  }

  function renderLatest() {
    const rows = [];
    for (const [stream, r] of [...latest.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      for (const [field, value] of Object.entries(r.values)) {
        rows.push(h('tr', { 'data-testid': 'latest-row', 'data-stream': stream, 'data-field': field },
          h('td', {}, stream), h('td', {}, field), h('td', { 'data-testid': 'latest-value' }, show(value)),
          h('td', {}, time(r.ts))));
      }
    }
    latestBody.replaceChildren(...rows);
  }

  function alertRow(a) {
    return h('tr', { 'data-testid': 'alert-row', 'data-alert': a.id, 'data-state': a.state },
      h('td', {}, time(a.ts)), h('td', {}, a.id),
      h('td', {}, h('span', { class: `sev ${a.severity}` }, a.severity)), h('td', {}, a.state),
      h('td', {}, a.summary));
  }

  function renderOpen(open) {
    openBox.replaceChildren(open.length === 0
      ? h('p', { class: 'muted' }, 'No open alerts.')
      : h('p', {}, `Open: ${open.map((a) => `${a.id} (${a.severity})`).join(', ')}`));
  }

  function chartKey(stream, field) {
    return `${stream}\u0000${field}`;
  }

  // A chart for every numeric field of every stream seen.
  async function ensureChart(stream, field) {
    const key = chartKey(stream, field);
    if (charts.has(key)) return;
    const el = h('div', { class: 'chart', 'data-testid': 'chart', 'data-stream': stream, 'data-field': field },
      h('h3', {}, `${stream} · ${field}`));
    chartBox.append(el);
    const entry = { el, xs: [], ys: [], plot: null };
    charts.set(key, entry);
    await loadChart(stream, field, entry);
  }

  async function loadChart(stream, field, entry) {
    const to = Date.now();
    const from = to - range.ms;
    const res = await api.series(id, { stream, field, from, to, points: CHART_POINTS });
    if (disposed) return;
    entry.xs = res.points.map((p) => p[0] / 1000);
    entry.ys = res.points.map((p) => p[1]);
    entry.el.dataset.points = String(entry.xs.length);
    if (entry.plot) entry.plot.destroy();
    const width = Math.max(300, Math.min(900, (chartBox.clientWidth || 640) - 16));
    entry.plot = new uPlot({
      width,
      height: 180,
      scales: { x: { time: true, range: () => [from / 1000, Math.max(Date.now(), to) / 1000] } },
      series: [{}, { label: field, stroke: '#2f6fdf', width: 1.5, points: { show: entry.xs.length < 60 } }],
      axes: [{}, { size: 60 }],
      legend: { show: false },
    }, [entry.xs, entry.ys], entry.el);
  }

  function addPoint(stream, field, ts, value) {
    const entry = charts.get(chartKey(stream, field));
    if (!entry || !entry.plot) return;
    entry.xs.push(ts / 1000);
    entry.ys.push(value);
    entry.el.dataset.points = String(entry.xs.length);
    entry.plot.setData([entry.xs, entry.ys]);
  }

  function numericFields(record) {
    return Object.entries(record.values).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
  }

  async function fold(records) {
    let alertsChanged = false;
    for (const r of records) {
      if (r.kind === 'data') {
        const prev = latest.get(r.stream);
        if (!prev || prev.seq < r.seq) latest.set(r.stream, r);
        for (const [field, value] of numericFields(r)) {
          if (charts.has(chartKey(r.stream, field))) addPoint(r.stream, field, r.ts, value);
          else await ensureChart(r.stream, field);
        }
      } else if (r.kind === 'alert') {
        alertBody.prepend(alertRow(r));
        alertsChanged = true;
      } else if (r.kind === 'dropped') {
        lossBox.prepend(lossItem(r));
      }
    }
    renderLatest();
    if (alertsChanged) renderOpen((await api.alerts(id)).open);
  }

  function lossItem(r) {
    return h('li', { 'data-testid': 'loss' },
      `${time(r.ts)}: the device lost records ${r.range.first}–${r.range.last} (${r.range.count})`);
  }

  async function load() {
    const [overview, alerts, presence, records] = await Promise.all([
      api.telemetry(id), api.alerts(id), api.presence(id),
      api.records(id, 0)]);
    if (disposed) return;
    cursor = overview.cursor;
    renderStatus(overview.status);
    latest.clear();
    for (const r of overview.latest) latest.set(r.stream, r);
    renderLatest();
    renderOpen(overview.open_alerts);
    alertBody.replaceChildren(...alerts.history.map(alertRow));
    lossBox.replaceChildren(...records.records.filter((r) => r.kind === 'dropped').map(lossItem));
    presenceBody.replaceChildren(...presence.map((e) =>
      h('li', { 'data-testid': 'presence' }, `${time(e.at)}: ${e.event}`)));
    for (const r of overview.latest) {
      for (const [field] of numericFields(r)) await ensureChart(r.stream, field);
    }
  }

  async function poll() {
    try {
      for (;;) {
        const res = await api.records(id, cursor);
        if (disposed || res.records.length === 0) break;
        cursor = res.cursor;
        await fold(res.records);
      }
      error.textContent = '';
    } catch (e) {
      error.textContent = e.message || String(e);
    }
    if (!disposed) timer = setTimeout(poll, POLL_MS);
  }

  rangeSelect.addEventListener('change', async () => {
    range = RANGES.find((r) => r.id === rangeSelect.value) || range;
    for (const [key, entry] of charts) {
      const [stream, field] = key.split('\u0000');
      await loadChart(stream, field, entry);
    }
  });

  load().then(() => {
    if (!disposed) timer = setTimeout(poll, POLL_MS);
  }, (e) => {
    error.textContent = e.message || String(e);
  });

  return () => {
    disposed = true;
    clearTimeout(timer);
    for (const entry of charts.values()) if (entry.plot) entry.plot.destroy();
  };
}
