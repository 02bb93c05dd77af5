// The hub's JSON API (docs/hub.md). Every call sends the session cookie; a 401
// anywhere means "log in again".
export class Unauthorized extends Error {}

export async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401 && path !== '/api/login') throw new Unauthorized('not logged in');
  if (!res.ok) {
    const err = new Error((data && data.error) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

export const api = {
  login: (username, password) => call('POST', '/api/login', { username, password }),
  logout: () => call('POST', '/api/logout'),
  session: () => call('GET', '/api/session'),
  devices: () => call('GET', '/api/devices'),
  // One page of the device list, filtered by the hub (devicelist.js).
  devicePage: (params) => call('GET', `/api/devices?${new URLSearchParams(params)}`),
  device: (id) => call('GET', `/api/devices/${encodeURIComponent(id)}`),
  // Monitoring (telemetry.js).
  openAlerts: () => call('GET', '/api/telemetry/open-alerts'),
  telemetry: (id) => call('GET', `/api/devices/${encodeURIComponent(id)}/telemetry`),
  records: (id, after) =>
    call('GET', `/api/devices/${encodeURIComponent(id)}/telemetry/records?after=${after}&limit=1000`),
  series: (id, { stream, field, from, to, points }) => call('GET',
    `/api/devices/${encodeURIComponent(id)}/telemetry/series?${new URLSearchParams({ stream, field, from, to, points })}`),
  alerts: (id) => call('GET', `/api/devices/${encodeURIComponent(id)}/telemetry/alerts`),
  presence: (id) => call('GET', `/api/devices/${encodeURIComponent(id)}/telemetry/presence`),
  // Config (config.js).
  config: (id) => call('GET', `/api/devices/${encodeURIComponent(id)}/config`),
  pushConfig: (id, body) => call('POST', `/api/devices/${encodeURIComponent(id)}/config`, body),
  configHistory: (id) => call('GET', `/api/devices/${encodeURIComponent(id)}/config/history`),
};
