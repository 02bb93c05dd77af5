// Several TLS records in one TCP segment: the hub reads its links with OpenSSL's
// read-ahead (one read() per socket event, hub/server/tls_read_ahead.hpp), so the
// records after the first wait inside OpenSSL, where epoll cannot see them. Each
// must still be served at once, not when the peer next sends something.
//
// The device here is a raw TLS client whose ciphertext goes through a gate: the
// three messages are encrypted one at a time (three records), held, then written
// to the socket in one write. Each message has an unknown proto, which the hub
// answers at once with a control error; all three answers must come back while
// the device sends nothing more (keepalive pings are minutes away).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { startHub, devicePath } from './helpers.mjs';
import { encodeProtoMsg, decodeProtoMsg } from '../../hub/web/src/proto.js';

// The TLS client's transport: passes bytes through, or holds what TLS writes
// until release() sends it all in one write.
class HeldSocket extends Duplex {
  constructor(port) {
    super();
    this.held = null;
    this.raw = tcpConnect({ port, host: '127.0.0.1', noDelay: true });
    this.raw.on('data', (d) => this.push(d));
    this.raw.on('end', () => this.push(null));
    this.raw.on('error', (e) => this.destroy(e));
  }
  _write(chunk, _encoding, done) {
    if (this.held) this.held.push(chunk);
    else this.raw.write(chunk);
    done();
  }
  _read() {}
  _destroy(err, done) {
    this.raw.destroy();
    done(err);
  }
  hold() { this.held = []; }
  release() {
    const all = Buffer.concat(this.held);
    this.held = null;
    this.raw.write(all);
    return all.length;
  }
}

// A masked binary WebSocket frame (client to server), payload under 64 KiB.
function clientFrame(payload) {
  const mask = randomBytes(4);
  const header = payload.length < 126
    ? Buffer.from([0x82, 0x80 | payload.length])
    : Buffer.from([0x82, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

// Unmasked server frames out of a byte stream: returns [frames, rest].
function serverFrames(buf) {
  const frames = [];
  for (;;) {
    if (buf.length < 2) break;
    let len = buf[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (buf.length < 4) break;
      len = buf.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (buf.length < 10) break;
      len = Number(buf.readBigUInt64BE(2));
      at = 10;
    }
    if (buf.length < at + len) break;
    frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(at, at + len) });
    buf = buf.subarray(at + len);
  }
  return [frames, buf];
}

const writeRecord = (socket, bytes) => new Promise((resolve, reject) => {
  socket.write(bytes, (err) => (err ? reject(err) : resolve()));
});

test('records that arrive together in one segment are all served at once', async () => {
  const hub = await startHub({ devices: ['dev1'], pingInterval: 300 });
  const gate = new HeldSocket(hub.port);
  const tls = tlsConnect({ socket: gate, servername: 'localhost', ca: hub.ca, minVersion: 'TLSv1.2' });
  try {
    await new Promise((resolve, reject) => { tls.once('secureConnect', resolve); tls.once('error', reject); });
    let received = Buffer.alloc(0);
    const upgraded = new Promise((resolve, reject) => {
      const onData = (d) => {
        received = Buffer.concat([received, d]);
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = received.subarray(0, end).toString();
        received = received.subarray(end + 4);
        tls.removeListener('data', onData);
        if (!/^HTTP\/1\.1 101/.test(head)) reject(new Error(`upgrade refused: ${head}`));
        else resolve();
      };
      tls.on('data', onData);
    });
    tls.write([
      `GET ${devicePath} HTTP/1.1`, 'Host: localhost', 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13',
      `Authorization: Bearer ${hub.tokens.dev1}`, '', ''].join('\r\n'));
    await upgraded;

    const answers = [];
    tls.on('data', (d) => {
      received = Buffer.concat([received, d]);
      const [frames, rest] = serverFrames(received);
      received = rest;
      for (const f of frames) if (f.opcode === 2) answers.push(decodeProtoMsg(new Uint8Array(f.payload)));
    });
    // Anything the hub sends on its own after the upgrade goes first.
    await new Promise((r) => setTimeout(r, 300));
    const before = answers.length;

    gate.hold();
    for (const typ of ['one', 'two', 'three']) {
      await writeRecord(tls, clientFrame(Buffer.from(encodeProtoMsg({ hdr: { proto: 0x7777, typ } }))));
    }
    const bytes = gate.release();
    assert.ok(bytes > 3 * 22, `three records, ${bytes} bytes`);

    const deadline = Date.now() + 3000;
    while (answers.length - before < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const errors = answers.slice(before).filter((m) => m.hdr.typ === 'error');
    assert.equal(errors.length, 3, `answers: ${JSON.stringify(answers.slice(before).map((m) => m.hdr))}`);
  } finally {
    tls.destroy();
    await hub.stop();
  }
});
