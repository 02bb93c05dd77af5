// The Files tab's transfer logic (hub/web/src/files.js) against a scripted device,
// message by message: the ack windows of sessions.md section 1 in both directions
// (a device that acks late must make the uploader wait; the downloader acks every
// ten chunks and after EOF with its byte count), int64 offsets on the wire,
// byte-identical reassembly, and the device's errors surfacing as the operation's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeProtoMsg, decodeProtoMsg, encodeBody, decodeBody, PROTO } from '../../hub/web/src/proto.js';
import { RoutedSession, downloadOn, uploadOn, modeString, kindOf } from '../../hub/web/src/files.js';

const CHUNK = 4096;
const WINDOW = 20 * CHUNK;
const quick = { timeout: 10000 }; // a stalled transfer fails fast, not after 30 s
const OFFSET_INT64 = Buffer.from('a66f6666736574d3', 'hex'); // "offset" then 0xd3

// A link that puts every message through the real codec and hands it to `device`.
function rig(device) {
  const link = {
    sessions: new Map(),
    wire: [],
    send(msg) {
      const bytes = Buffer.from(encodeProtoMsg(msg));
      link.wire.push(bytes);
      const back = decodeProtoMsg(bytes);
      device(back, (reply) => session.deliver(reply));
    },
  };
  const session = new RoutedSession(link, 's1');
  link.sessions.set('s1', session);
  return { link, session };
}

const ft = (typ, props = {}, body = undefined) => ({
  hdr: { proto: PROTO.FILE_TRANSFER, typ, sid: 's1', props },
  body: body === undefined ? new Uint8Array(0) : body,
});

test('mode bits read as ls does', () => {
  assert.equal(modeString(0o644), '-rw-r--r--');
  assert.equal(modeString(2 ** 31 + 0o755), 'drwxr-xr-x');
  assert.equal(modeString(2 ** 31 + 2 ** 20 + 0o777), 'drwxrwxrwt');
  assert.equal(modeString(2 ** 23 + 0o755), '-rwsr-xr-x');
  assert.equal(modeString(2 ** 22 + 0o640), '-rw-r-S---');
  assert.equal(modeString(2 ** 27 + 0o777), 'lrwxrwxrwx');
  assert.equal(modeString(2 ** 26 + 2 ** 21 + 0o620), 'crw--w----');
  assert.equal(kindOf(2 ** 31 + 0o755), 'directory');
  assert.equal(kindOf(0o600), 'regular file');
  assert.equal(kindOf(2 ** 25 + 0o600), 'named pipe');
});

test('an upload waits for the device acks and never runs more than 20 chunks ahead', quick, async () => {
  const bytes = randomBytes(50 * CHUNK + 123);
  const received = [];
  let request = null;
  let ackedStart = 0;
  let worst = 0;
  let lateAcks = 0;
  let since = 0;
  let timer = null;
  const { link, session } = rig((msg, reply) => {
    if (msg.hdr.typ === 'put_file') {
      request = decodeBody(msg.body);
      reply(ft('ack', { offset: 0 }));
      return;
    }
    assert.equal(msg.hdr.typ, 'file_chunk');
    const { offset } = msg.hdr.props;
    assert.equal(offset, received.reduce((n, b) => n + b.length, 0), 'chunk offset = bytes sent so far');
    if (msg.body.length === 0) {
      clearTimeout(timer);
      setTimeout(() => reply(ft('ack', { offset })), 5); // after the rename
      return;
    }
    assert.ok(msg.body.length <= CHUNK);
    received.push(Buffer.from(msg.body));
    worst = Math.max(worst, offset + msg.body.length - ackedStart);
    // A slow device: it acks (echoing the last chunk's header) only once the
    // uploader has stopped sending for a moment, and never more often than every 10.
    if (++since < 10) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      since = 0;
      lateAcks += 1;
      ackedStart = offset;
      reply(ft('ack', { offset }));
    }, 5);
  });
  const file = new File([bytes], 'local.bin');
  const progress = [];
  await uploadOn(session, file, '/data/up.bin', 0o640, (done, total) => progress.push([done, total]));
  assert.ok(Buffer.concat(received).equals(bytes));
  assert.deepEqual(request, { src_path: 'local.bin', path: '/data/up.bin', mode: 0o640, size: bytes.length });
  assert.ok(worst <= WINDOW, `${worst} bytes beyond the last ack`);
  assert.ok(lateAcks >= 2, `the uploader should have waited for acks (${lateAcks})`);
  assert.deepEqual(progress.at(-1), [bytes.length, bytes.length]);
  // Every chunk's offset was an int64 on the wire, the EOF chunk had no body.
  const chunks = link.wire.slice(1);
  assert.equal(chunks.length, 52);
  for (const w of chunks) assert.ok(w.includes(OFFSET_INT64), w.toString('hex'));
  assert.equal(decodeProtoMsg(chunks.at(-1)).body.length, 0);
});

test('an empty upload is put_file, EOF and the final ack', quick, async () => {
  const seen = [];
  const { session } = rig((msg, reply) => {
    seen.push(msg.hdr.typ);
    if (msg.hdr.typ === 'put_file') reply(ft('ack', { offset: 0 }));
    else setTimeout(() => reply(ft('ack', { offset: 0 })), 1);
  });
  await uploadOn(session, new Blob([]), '/data/empty', 0o600, () => {});
  assert.deepEqual(seen, ['put_file', 'file_chunk']);
});

test('the device error to an upload is the upload error', quick, async () => {
  const { session } = rig((msg, reply) => {
    if (msg.hdr.typ !== 'put_file') return;
    reply({ ...ft('error'), body: encodeBody({ err: "access denied: '/etc/x' is outside filetransfer.root", msgtype: 'put_file' }) });
  });
  await assert.rejects(uploadOn(session, new Blob(['x']), '/etc/x', 0o644, () => {}), /outside filetransfer\.root/);
});

test('an error in the middle of an upload stops it', quick, async () => {
  let chunks = 0;
  const { session } = rig((msg, reply) => {
    if (msg.hdr.typ === 'put_file') reply(ft('ack', { offset: 0 }));
    else if (++chunks === 3) {
      reply({ ...ft('error'), body: encodeBody({ err: 'failed to write file chunk: file exceeds filetransfer.max-file-size (8192)', msgtype: 'file_chunk' }) });
    }
  });
  await assert.rejects(uploadOn(session, new Blob([randomBytes(40 * CHUNK)]), '/d/big', 0o644, () => {}), /exceeds/);
  assert.ok(chunks <= 21, `${chunks} chunks sent after the error`);
});

// A device that streams `bytes` as sessions.md says: at most 81920 bytes beyond the
// last ack, then waits; EOF at the end, done when the ack reaches the size.
function downloadDevice(bytes, acks) {
  let sentBytes = 0;
  let acked = 0;
  let done = false;
  return (msg, reply) => {
    const pump = () => {
      while (sentBytes < bytes.length && sentBytes - acked < 20 * CHUNK) {
        const body = bytes.subarray(sentBytes, sentBytes + CHUNK);
        reply(ft('file_chunk', { offset: sentBytes }, body));
        sentBytes += body.length;
      }
      if (sentBytes === bytes.length && !done) {
        done = true;
        reply(ft('file_chunk', { offset: bytes.length }));
      }
    };
    if (msg.hdr.typ === 'stat') {
      reply({ ...ft('file_info'), body: encodeBody({ path: decodeBody(msg.body).path, size: bytes.length, uid: 0, gid: 0, mode: 0o644, modtime: new Date() }) });
    } else if (msg.hdr.typ === 'get_file') {
      setTimeout(pump, 0);
    } else if (msg.hdr.typ === 'ack') {
      acks.push(msg.hdr.props.offset);
      acked = msg.hdr.props.offset;
      setTimeout(pump, 0);
    }
  };
}

test('a download acks every ten chunks and after EOF, and reassembles the bytes', quick, async () => {
  const bytes = randomBytes(45 * CHUNK + 7);
  const acks = [];
  const { link, session } = rig(downloadDevice(bytes, acks));
  const blob = await downloadOn(session, '/data/down.bin', () => {});
  assert.ok(Buffer.from(await blob.arrayBuffer()).equals(bytes));
  assert.deepEqual(acks, [10, 20, 30, 40].map((n) => n * CHUNK).concat([bytes.length]));
  for (const w of link.wire.filter((b) => decodeProtoMsg(b).hdr.typ === 'ack')) assert.ok(w.includes(OFFSET_INT64));
});

test('an empty file downloads as an empty blob', quick, async () => {
  const acks = [];
  const { session } = rig(downloadDevice(Buffer.alloc(0), acks));
  const blob = await downloadOn(session, '/data/empty', () => {});
  assert.equal(blob.size, 0);
  assert.deepEqual(acks, [0]);
});

test('a download refuses directories before asking for the file', quick, async () => {
  const seen = [];
  const { session } = rig((msg, reply) => {
    seen.push(msg.hdr.typ);
    reply({ ...ft('file_info'), body: encodeBody({ path: '/data', size: 4096, uid: 0, gid: 0, mode: 2 ** 31 + 0o755 }) });
  });
  await assert.rejects(downloadOn(session, '/data', () => {}), /is a directory/);
  assert.deepEqual(seen, ['stat']);
});

test('a chunk at the wrong offset fails the download', quick, async () => {
  const { session } = rig((msg, reply) => {
    if (msg.hdr.typ === 'stat') {
      reply({ ...ft('file_info'), body: encodeBody({ path: '/f', size: 10, uid: 0, gid: 0, mode: 0o644 }) });
    } else if (msg.hdr.typ === 'get_file') {
      reply(ft('file_chunk', { offset: 3 }, new Uint8Array(4)));
    }
  });
  await assert.rejects(downloadOn(session, '/f', () => {}), /unexpected chunk offset 3/);
});

test('a session the hub or device ends fails the operation', quick, async () => {
  const { session } = rig(() => {});
  const pending = downloadOn(session, '/f', () => {});
  session.fail(new Error('forbidden: file transfer needs the operator role'));
  await assert.rejects(pending, /forbidden/);
});
