// A live shell on a device: one operator WebSocket to the hub, one xterm.js
// terminal, and the shell protocol (wire.md section 4) between them.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { PROTO, encodeProtoMsg, decodeProtoMsg, decodeBody } from './proto.js';

const textDecoder = new TextDecoder('utf-8', { fatal: false });

function newSid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class TerminalSession {
  // host: element the terminal fills. onState(state, message): 'connecting' |
  // 'open' | 'ended' | 'error', for the page's status line.
  constructor(deviceId, host, onState) {
    this.deviceId = deviceId;
    this.host = host;
    this.onState = onState;
    this.ws = null;
    this.sid = '';
    this.live = false;
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#10151c', foreground: '#d8dee9', cursor: '#8fbcbb' },
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.term.onData((data) => this.sendShell('shell', {}, new TextEncoder().encode(data)));
    this.term.onBinary((data) =>
      this.sendShell('shell', {}, Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)),
    );
    this.term.onResize(({ cols, rows }) => {
      if (this.live) this.sendShell('resize', { terminal_width: cols, terminal_height: rows });
    });
    this.resizeObserver = new ResizeObserver(() => this.refit());
    this.resizeObserver.observe(host);
    this.onWindowResize = () => this.refit();
    window.addEventListener('resize', this.onWindowResize);
    this.refit();
  }

  refit() {
    if (this.host.clientWidth > 0 && this.host.clientHeight > 0) {
      try {
        this.fit.fit();
      } catch {
        /* not laid out yet */
      }
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeProtoMsg(msg));
  }

  sendShell(typ, props = {}, body = undefined) {
    if (!this.sid) return;
    this.send({ hdr: { proto: PROTO.SHELL, typ, sid: this.sid, props }, body });
  }

  // Opens a new shell: on the existing socket when it is up, else on a new one.
  open() {
    this.term.reset();
    this.refit();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.startShell();
      return;
    }
    this.onState('connecting', 'Connecting…');
    const url = `wss://${location.host}/api/management/v1/deviceconnect/devices/${encodeURIComponent(this.deviceId)}/connect`;
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => this.startShell();
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') return;
      let msg;
      try {
        msg = decodeProtoMsg(new Uint8Array(ev.data));
      } catch (e) {
        console.warn('tether: undecodable message', e);
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.live || this.endedReason === undefined) {
        const why = this.endedReason || ev.reason || 'connection to the hub closed';
        this.ended(`Disconnected: ${why}`, 'error');
      }
    };
  }

  startShell() {
    this.sid = newSid();
    this.live = false;
    this.endedReason = undefined;
    this.refit();
    this.onState('connecting', 'Starting shell…');
    this.send({
      hdr: {
        proto: PROTO.SHELL,
        typ: 'new',
        sid: this.sid,
        props: { terminal_width: this.term.cols, terminal_height: this.term.rows },
      },
    });
    this.term.focus();
  }

  onMessage(msg) {
    const { hdr, body } = msg;
    if (hdr.proto === PROTO.CONTROL) {
      if (hdr.typ === 'error') {
        let err = {};
        try {
          err = decodeBody(body) || {};
        } catch {
          /* keep {} */
        }
        // A refusal of this session (a role too low) ends it too.
        const refused = hdr.sid && hdr.sid === this.sid && /^forbidden/.test(String(err.err));
        if ((err.close && (!hdr.sid || hdr.sid === this.sid)) || refused) {
          this.endedReason = String(err.err || 'error');
          this.ended(`Session closed: ${this.endedReason}`, 'error');
        } else {
          console.warn('tether: hub error', err);
        }
      }
      return;
    }
    if (hdr.proto !== PROTO.SHELL || hdr.sid !== this.sid) return;
    switch (hdr.typ) {
      case 'new':
        if ((hdr.props.status ?? 1) === 1) {
          this.live = true;
          this.onState('open', 'Connected');
          // The size may have changed while the shell was starting.
          this.sendShell('resize', { terminal_width: this.term.cols, terminal_height: this.term.rows });
        } else {
          this.endedReason = textDecoder.decode(body) || 'refused';
          this.ended(`Could not start a shell: ${this.endedReason}`, 'error');
        }
        break;
      case 'shell':
        this.term.write(body);
        break;
      case 'stop': {
        const reason = textDecoder.decode(body);
        const status = hdr.props.status ?? 1;
        const code = hdr.props.exit_code;
        this.endedReason = reason || (status === 2 ? 'error' : 'shell exited');
        let message;
        if (status === 2) message = `Session ended: ${this.endedReason}`;
        else if (code !== undefined && code !== null) message = `The shell exited (code ${code})`;
        else message = `Session ended${reason ? `: ${reason}` : ''}`;
        this.ended(message, status === 2 ? 'error' : 'ended');
        break;
      }
      default:
        break;
    }
  }

  ended(message, state) {
    this.live = false;
    this.sid = '';
    this.onState(state, message);
  }

  // Ends the shell but keeps the socket, so `open()` can start another.
  stop() {
    if (this.sid) {
      this.sendShell('stop');
      this.endedReason = 'closed by you';
      this.ended('Session closed', 'ended');
    }
  }

  dispose() {
    this.resizeObserver.disconnect();
    window.removeEventListener('resize', this.onWindowResize);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'page closed');
    }
    this.term.dispose();
  }
}
