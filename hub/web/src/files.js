// The device page's Files view (docs/hub.md, "Files"): look at a path on the device
// (`stat`), download a file and upload one, with progress, over the file transfer
// protocol (proto 2, spec/sessions.md section 1) that the hub relays.
//
// Every action is its own routed session on the view's operator WebSocket: a control
// `open` {versions:[1]} on a fresh sid, the device's `accept` (which must list 2),
// the transfer, then a control `close`. Files move in 4096-byte `file_chunk`s with
// the ack windows Mender's server uses, so nothing larger than a chunk is ever one
// message and the device is never run over. Transfers need the operator role; a
// viewer sees why the controls are off (the hub refuses them anyway).
import { h } from './dom.js';
import { PROTO, encodeProtoMsg, decodeProtoMsg, encodeBody, decodeBody } from './proto.js';

const CHUNK = 4096; // FileTransferBufSize
const DOWNLOAD_ACK_EVERY = 10; // the server acks every 10 chunks (ackSlidingWindowSend)
const UPLOAD_WINDOW = 20 * CHUNK; // unacked bytes an uploader may have in flight
const READ_SLICE = 64 * CHUNK; // bytes read from the local file at a time
const REPLY_MS = 30000; // how long any single reply may take
const ACCEPT_MS = 15000;

function newSid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function bodyOf(msg) {
  try {
    return decodeBody(msg.body) || {};
  } catch {
    return {};
  }
}

// Go os.FileMode as `ls -l` shows it; the type bits are the high ones (sessions.md).
const bit = (mode, n) => Math.floor(mode / 2 ** n) % 2 === 1;
export function modeString(mode) {
  let type = '-';
  if (bit(mode, 31)) type = 'd';
  else if (bit(mode, 27)) type = 'l';
  else if (bit(mode, 26)) type = bit(mode, 21) ? 'c' : 'b';
  else if (bit(mode, 25)) type = 'p';
  else if (bit(mode, 24)) type = 's';
  else if (bit(mode, 19)) type = '?';
  const perm = mode % 512;
  const rwx = (shift, special, letter) => {
    const p = (perm >> shift) & 7;
    let x = p & 1 ? 'x' : '-';
    if (special) x = p & 1 ? letter : letter.toUpperCase();
    return `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${x}`;
  };
  return type + rwx(6, bit(mode, 23), 's') + rwx(3, bit(mode, 22), 's') + rwx(0, bit(mode, 20), 't');
}

export function kindOf(mode) {
  if (bit(mode, 31)) return 'directory';
  if (bit(mode, 27)) return 'symbolic link';
  if (bit(mode, 26)) return 'device';
  if (bit(mode, 25)) return 'named pipe';
  if (bit(mode, 24)) return 'socket';
  if (bit(mode, 19)) return 'irregular file';
  return 'regular file';
}

// Go's ModeType: dir, symlink, device, named pipe, socket, char device, irregular.
const isRegular = (mode) => ![31, 27, 26, 25, 24, 21, 19].some((n) => bit(mode, n));

export const sizeText = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB`
  : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

const octal = (mode) => (mode % 512).toString(8).padStart(4, '0');

// One routed session: the messages for its sid, read in order with next().
export class RoutedSession {
  constructor(link, sid) {
    this.link = link;
    this.sid = sid;
    this.inbox = [];
    this.waiter = null;
    this.failure = null;
  }

  deliver(msg) {
    this.inbox.push(msg);
    this.wake();
  }

  fail(error) {
    if (!this.failure) this.failure = error;
    this.wake();
  }

  wake() {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  // The next message of this session, or a rejection when the socket goes, the hub
  // or the device refuses the session, or nothing comes for `timeoutMs`.
  async next(timeoutMs = REPLY_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.inbox.length > 0) return this.inbox.shift();
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('the device did not answer in time');
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  // A message already here, without waiting (null when none).
  poll() {
    if (this.inbox.length > 0) return this.inbox.shift();
    if (this.failure) throw this.failure;
    return null;
  }

  send(typ, props = {}, body = undefined) {
    this.link.send({ hdr: { proto: PROTO.FILE_TRANSFER, typ, sid: this.sid, props }, body });
  }

  // A file transfer reply: throws the device's `error` as an Error with its text.
  async reply(timeoutMs) {
    const msg = await this.next(timeoutMs);
    if (msg.hdr.typ === 'error') throw new Error(String(bodyOf(msg).err || 'the device refused'));
    return msg;
  }

  close() {
    this.link.sessions.delete(this.sid);
    this.link.send({ hdr: { proto: PROTO.CONTROL, typ: 'close', sid: this.sid } });
  }
}

// The view's operator WebSocket, opened when first needed and shared by its sessions.
class FileLink {
  constructor(deviceId) {
    this.deviceId = deviceId;
    this.ws = null;
    this.ready = null;
    this.sessions = new Map();
  }

  connect() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.ready) return this.ready;
    const url = `wss://${location.host}/api/management/v1/deviceconnect/devices/${encodeURIComponent(this.deviceId)}/connect`;
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    this.ready = new Promise((resolve, reject) => {
      ws.onopen = () => {
        opened = true;
        this.ready = null;
        resolve();
      };
      ws.onclose = (ev) => {
        this.ready = null;
        if (this.ws === ws) this.ws = null;
        // A refused upgrade (the device offline: 409) shows only as a close here.
        const error = new Error(opened
          ? `connection to the hub closed${ev.reason ? `: ${ev.reason}` : ''}`
          : 'the hub refused the connection: is the device online?');
        for (const s of this.sessions.values()) s.fail(error);
        this.sessions.clear();
        reject(error);
      };
    });
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') return;
      let msg;
      try {
        msg = decodeProtoMsg(new Uint8Array(ev.data));
      } catch {
        return;
      }
      this.dispatch(msg);
    };
    return this.ready;
  }

  dispatch(msg) {
    const { hdr } = msg;
    const session = this.sessions.get(hdr.sid);
    if (hdr.proto === PROTO.CONTROL) {
      if (hdr.typ === 'ping') {
        this.send({ hdr: { proto: PROTO.CONTROL, typ: 'pong', sid: hdr.sid } });
        return;
      }
      if (!hdr.sid && hdr.typ === 'error' && bodyOf(msg).close) {
        // The device went away: every session on this socket ends with it.
        const error = new Error(String(bodyOf(msg).err || 'the device went away'));
        for (const s of this.sessions.values()) s.fail(error);
        return;
      }
      if (!session) return;
      if (hdr.typ === 'accept') {
        session.deliver(msg);
      } else if (hdr.typ === 'close') {
        session.fail(new Error('the device closed the session'));
      } else if (hdr.typ === 'error') {
        // The hub (a role too low, too many sessions) or the device (the handshake).
        session.fail(new Error(String(bodyOf(msg).err || 'session refused')));
      }
      return;
    }
    if (session && hdr.proto === PROTO.FILE_TRANSFER) session.deliver(msg);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeProtoMsg(msg));
  }

  // A routed session the device accepted with file transfer among its protocols.
  async open() {
    await this.connect();
    const session = new RoutedSession(this, newSid());
    this.sessions.set(session.sid, session);
    this.send({ hdr: { proto: PROTO.CONTROL, typ: 'open', sid: session.sid }, body: encodeBody({ versions: [1] }) });
    try {
      const accept = await session.next(ACCEPT_MS);
      const protocols = bodyOf(accept).protocols;
      if (!Array.isArray(protocols) || !protocols.includes(PROTO.FILE_TRANSFER)) {
        throw new Error('file transfer is not enabled on this device');
      }
    } catch (e) {
      session.close();
      throw e;
    }
    return session;
  }

  dispose() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'page closed');
    }
  }
}

// ---------------------------------------------------------------- operations

async function withSession(link, work) {
  const session = await link.open();
  try {
    return await work(session);
  } finally {
    session.close();
  }
}

async function statOn(session, path) {
  session.send('stat', {}, encodeBody({ path }));
  for (;;) {
    const msg = await session.reply();
    if (msg.hdr.typ === 'file_info') return bodyOf(msg);
  }
}

// The file at `path` as a Blob, over an accepted session; onProgress(bytes, total)
// as chunks arrive.
export async function downloadOn(session, path, onProgress) {
  const info = await statOn(session, path);
  if (bit(info.mode, 31)) throw new Error(`'${path}' is a directory`);
  if (!isRegular(info.mode)) throw new Error(`'${path}' is not a regular file`);
  const total = Number(info.size);
  onProgress(0, total);
  session.send('get_file', {}, encodeBody({ path }));
  // Chunks are gathered into Blobs as they come, so no big array is ever copied.
  const parts = [];
  let pending = [];
  let received = 0;
  let unacked = 0;
  for (;;) {
    const msg = await session.reply();
    if (msg.hdr.typ !== 'file_chunk') continue;
    const offset = Number(msg.hdr.props.offset);
    if (offset !== received) throw new Error(`unexpected chunk offset ${offset} (expected ${received})`);
    if (msg.body.length === 0) {
      session.send('ack', { offset: received });
      break;
    }
    pending.push(msg.body);
    received += msg.body.length;
    if (pending.length >= 256) {
      parts.push(new Blob(pending));
      pending = [];
    }
    if (++unacked >= DOWNLOAD_ACK_EVERY) {
      session.send('ack', { offset: received });
      unacked = 0;
    }
    onProgress(received, Math.max(total, received));
  }
  parts.push(new Blob(pending));
  onProgress(received, received);
  return new Blob(parts, { type: 'application/octet-stream' });
}

// Uploads `file` (a File or Blob) to `path` with permission bits `mode` over an
// accepted session; onProgress(bytes sent, total). `src_path` is the local name, so
// a directory as `path` gets the file inside it (as Mender's server does).
export async function uploadOn(session, file, path, mode, onProgress) {
  const total = file.size;
  onProgress(0, total);
  session.send('put_file', {}, encodeBody({ src_path: file.name || undefined, path, mode, size: total }));
  let acked = -1;
  const take = (msg) => {
    if (msg.hdr.typ === 'ack') acked = Math.max(acked, Number(msg.hdr.props.offset));
  };
  while (acked < 0) take(await session.reply());

  let sent = 0;
  while (sent < total) {
    const slice = new Uint8Array(await file.slice(sent, Math.min(total, sent + READ_SLICE)).arrayBuffer());
    for (let at = 0; at < slice.length; at += CHUNK) {
      const chunk = slice.subarray(at, Math.min(slice.length, at + CHUNK));
      // The device acks by echoing a chunk's header, so `acked` is that chunk's
      // start: never more than UPLOAD_WINDOW bytes beyond it.
      for (let m = session.poll(); m; m = session.poll()) {
        if (m.hdr.typ === 'error') throw new Error(String(bodyOf(m).err || 'the device refused'));
        take(m);
      }
      while (sent + chunk.length - acked > UPLOAD_WINDOW) take(await session.reply());
      session.send('file_chunk', { offset: sent }, chunk);
      sent += chunk.length;
      onProgress(sent, total);
    }
  }
  session.send('file_chunk', { offset: total });
  // The final ack (offset = size) comes once the file is in place.
  while (acked < total || total === 0) {
    const msg = await session.reply();
    take(msg);
    if (total === 0 && msg.hdr.typ === 'ack') break;
  }
  onProgress(total, total);
}

// ---------------------------------------------------------------- view

function progressRow(testid) {
  const bar = h('progress', { max: 1, value: 0, 'data-testid': `${testid}-progress` });
  const label = h('span', { class: 'muted', 'data-testid': `${testid}-bytes` });
  const row = h('div', { class: 'files-progress', hidden: true }, bar, label);
  let shown = 0;
  return {
    row,
    // Called for every chunk; the page is redrawn at most every 100 ms (and at the
    // end), since a redraw per 4 KiB would cost more than the transfer itself.
    set(done, total) {
      const now = performance.now();
      if (done > 0 && done < total && now - shown < 100) return;
      shown = now;
      row.hidden = false;
      bar.max = Math.max(total, 1);
      bar.value = total === 0 ? 1 : done;
      label.textContent = `${sizeText(done)} of ${sizeText(total)}`;
    },
  };
}

function statusLine(testid) {
  const el = h('p', { class: 'files-status', 'data-testid': `${testid}-status`, role: 'status' });
  return {
    el,
    set(state, text) {
      el.dataset.state = state;
      el.className = state === 'error' ? 'files-status error' : 'files-status';
      el.textContent = text;
    },
  };
}

function infoTable(info) {
  const mode = Number(info.mode);
  const modtime = info.modtime instanceof Date ? info.modtime.toLocaleString() : String(info.modtime ?? '—');
  const rows = [
    ['Path', info.path, 'path'],
    ['Type', kindOf(mode), 'type'],
    ['Size', `${sizeText(Number(info.size))} (${Number(info.size)} bytes)`, 'size'],
    ['Mode', `${modeString(mode)} (${octal(mode)})`, 'mode'],
    ['Owner', `uid ${info.uid}, gid ${info.gid}`, 'owner'],
    ['Modified', modtime, 'modtime'],
  ];
  return h('table', { class: 'files-info', 'data-testid': 'files-info', 'data-kind': kindOf(mode) },
    h('tbody', {}, rows.map(([k, v, id]) => h('tr', {}, h('th', {}, k), h('td', { 'data-testid': `files-info-${id}` }, v)))));
}

const basename = (path) => path.replace(/\/+$/, '').split('/').pop() || 'download';

// Renders the view into `host`; `role` is the signed-in account's. Returns its teardown.
export function filesView(deviceId, host, { role } = {}) {
  const link = new FileLink(deviceId);
  const mayTransfer = role === 'operator' || role === 'admin';
  let objectUrl = null;
  let busy = false;

  const path = h('input', { type: 'text', 'data-testid': 'files-path', placeholder: '/path/on/the/device',
    'aria-label': 'Path on the device', spellcheck: 'false' });
  const statBtn = h('button', { type: 'submit', 'data-testid': 'files-stat' }, 'Stat');
  const downloadBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'files-download' }, 'Download');
  const info = h('div', { class: 'files-info-host' });
  const browseStatus = statusLine('files-browse');
  const downloadProgress = progressRow('files-download');
  const downloadStatus = statusLine('files-download');
  const saveHost = h('div', { class: 'files-save' });

  const chooser = h('input', { type: 'file', 'data-testid': 'files-upload-file', 'aria-label': 'Local file' });
  const target = h('input', { type: 'text', 'data-testid': 'files-upload-path', placeholder: '/path/on/the/device',
    'aria-label': 'Target path on the device', spellcheck: 'false' });
  const mode = h('input', { type: 'text', 'data-testid': 'files-upload-mode', value: '0644', pattern: '0?[0-7]{3,4}',
    size: 6, 'aria-label': 'Mode (octal)' });
  const uploadBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'files-upload' }, 'Upload');
  const uploadProgress = progressRow('files-upload');
  const uploadStatus = statusLine('files-upload');

  const browseForm = h('form', { class: 'files-form', 'data-testid': 'files-browse-form' },
    h('label', { class: 'files-wide' }, 'Path on the device', path),
    h('div', { class: 'files-actions' }, statBtn, downloadBtn));
  const uploadForm = h('form', { class: 'files-form', 'data-testid': 'files-upload-form' },
    h('label', {}, 'Local file', chooser),
    h('label', { class: 'files-wide' }, 'Target path on the device', target),
    h('label', {}, 'Mode (octal)', mode),
    h('div', { class: 'files-actions' }, uploadBtn));

  const notice = mayTransfer ? null : h('p', { class: 'muted', 'data-testid': 'files-notice' },
    'File transfer needs the operator role; your account is a viewer.');
  host.replaceChildren(h('div', { class: 'files' },
    notice,
    h('div', { class: 'card' }, h('h2', {}, 'Browse and download'), browseForm, browseStatus.el, info,
      downloadProgress.row, downloadStatus.el, saveHost),
    h('div', { class: 'card' }, h('h2', {}, 'Upload'), uploadForm, uploadProgress.row, uploadStatus.el)));

  const controls = [path, statBtn, downloadBtn, chooser, target, mode, uploadBtn];
  function setBusy(on) {
    busy = on;
    for (const c of controls) c.disabled = on || !mayTransfer;
  }
  setBusy(false);

  chooser.addEventListener('change', () => {
    const file = chooser.files[0];
    if (!file) return;
    const base = (path.value.trim() || target.value.trim()).replace(/\/[^/]*$/, '');
    if (!target.value.trim() || target.dataset.auto === 'true') {
      target.value = `${base}/${file.name}`;
      target.dataset.auto = 'true';
    }
  });
  target.addEventListener('input', () => { target.dataset.auto = 'false'; });

  browseForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const p = path.value.trim();
    if (busy || !p) return;
    setBusy(true);
    info.replaceChildren();
    browseStatus.set('working', `Looking at ${p}…`);
    try {
      const result = await withSession(link, (session) => statOn(session, p));
      info.replaceChildren(infoTable(result));
      const kind = kindOf(Number(result.mode));
      browseStatus.set('done', kind === 'directory' ? `${result.path} is a directory.` : '');
    } catch (e) {
      browseStatus.set('error', e.message);
    } finally {
      setBusy(false);
    }
  });

  downloadBtn.addEventListener('click', async () => {
    const p = path.value.trim();
    if (busy || !p) return;
    setBusy(true);
    saveHost.replaceChildren();
    downloadStatus.set('working', `Downloading ${p}…`);
    try {
      const blob = await withSession(link, (session) =>
        downloadOn(session, p, (done, total) => downloadProgress.set(done, total)));
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      const save = h('a', { href: objectUrl, download: basename(p), 'data-testid': 'files-save' },
        `Save ${basename(p)} again`);
      saveHost.replaceChildren(save);
      downloadStatus.set('done', `Downloaded ${p} (${sizeText(blob.size)}).`);
      save.click();
    } catch (e) {
      downloadStatus.set('error', `Download failed: ${e.message}`);
    } finally {
      setBusy(false);
    }
  });

  uploadForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const file = chooser.files[0];
    const p = target.value.trim();
    if (busy) return;
    if (!file) {
      uploadStatus.set('error', 'Choose a local file first.');
      return;
    }
    if (!p.startsWith('/')) {
      uploadStatus.set('error', 'The target path must be absolute.');
      return;
    }
    if (!/^0?[0-7]{3,4}$/.test(mode.value.trim())) {
      uploadStatus.set('error', 'The mode must be octal, e.g. 0644.');
      return;
    }
    setBusy(true);
    uploadStatus.set('working', `Uploading ${file.name} to ${p}…`);
    try {
      await withSession(link, (session) => uploadOn(session, file, p, parseInt(mode.value.trim(), 8) & 0o777,
        (done, total) => uploadProgress.set(done, total)));
      uploadStatus.set('done', `Uploaded ${file.name} to ${p} (${sizeText(file.size)}).`);
    } catch (e) {
      uploadStatus.set('error', `Upload failed: ${e.message}`);
    } finally {
      setBusy(false);
    }
  });

  return () => {
    link.dispose();
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}
