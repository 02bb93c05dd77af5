// The browser's ProtoMsg codec (hub/web/src/proto.js) against the wire.md vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeProtoMsg, decodeProtoMsg, encodeBody, decodeBody, PROTO } from '../../hub/web/src/proto.js';

const hex = (u8) => Buffer.from(u8).toString('hex');
const bytes = (h) => new Uint8Array(Buffer.from(h, 'hex'));

const vectors = [
  ['shell new', { hdr: { proto: PROTO.SHELL, typ: 'new', sid: 's1', props: { user_id: 'u1' } } },
    '81a368647284a570726f746fcd0001a3747970a36e6577a3736964a27331a570726f707381a7757365725f6964a27531'],
  ['shell data', { hdr: { proto: PROTO.SHELL, typ: 'shell', sid: 's1', props: { status: 1 } }, body: 'ls\n' },
    '82a368647284a570726f746fcd0001a3747970a57368656c6ca3736964a27331a570726f707381a673746174757301a4626f6479c4036c730a'],
  ['shell ping', { hdr: { proto: PROTO.SHELL, typ: 'ping', sid: 's1', props: { timeout: 65 } } },
    '81a368647284a570726f746fcd0001a3747970a470696e67a3736964a27331a570726f707381a774696d656f757441'],
  ['control open', { hdr: { proto: PROTO.CONTROL, typ: 'open', sid: 's1' }, body: encodeBody({ versions: [1] }) },
    '82a368647283a570726f746fcdffffa3747970a46f70656ea3736964a27331a4626f6479c40c81a876657273696f6e739101'],
  ['file_chunk', { hdr: { proto: PROTO.FILE_TRANSFER, typ: 'file_chunk', sid: 's1', props: { offset: 5 } }, body: 'abc' },
    '82a368647284a570726f746fcd0002a3747970aa66696c655f6368756e6ba3736964a27331a570726f707381a66f6666736574d30000000000000005a4626f6479c403616263'],
  ['empty body', { hdr: { proto: PROTO.SHELL } }, '81a368647281a570726f746fcd0001'],
];

for (const [name, msg, want] of vectors) {
  test(`encodes the wire.md vector: ${name}`, () => {
    assert.equal(hex(encodeProtoMsg(msg)), want);
  });
  test(`decodes the wire.md vector: ${name}`, () => {
    const m = decodeProtoMsg(bytes(want));
    assert.equal(m.hdr.proto, msg.hdr.proto);
    assert.equal(m.hdr.typ, msg.hdr.typ ?? '');
    assert.equal(m.hdr.sid, msg.hdr.sid ?? '');
    assert.deepEqual(hex(encodeProtoMsg(m)), want);
  });
}

test('small proto numbers are still uint16 (0xcd)', () => {
  const out = hex(encodeProtoMsg({ hdr: { proto: PROTO.MONITORING, typ: 'ack' } }));
  assert.match(out, /a570726f746fcd0010/);
});

test('decodes the accept and error bodies of wire.md', () => {
  assert.deepEqual(decodeBody(bytes('82a776657273696f6e01a970726f746f636f6c7394cd0001cd0002cd0003cd0004')),
    { version: 1, protocols: [1, 2, 3, 4] });
  assert.deepEqual(decodeBody(bytes('82a3657272af73657373696f6e2074696d656f7574a5636c6f7365c3')),
    { err: 'session timeout', close: true });
  assert.equal(hex(encodeBody({ err: 'session timeout', close: true })),
    '82a3657272af73657373696f6e2074696d656f7574a5636c6f7365c3');
});

test('decoding is lenient: any key order, nil = absent, body as str, unknown keys', () => {
  // {body: "hi", x: 1, hdr: {sid: nil, proto: 1 (fixint), typ: "shell"}}
  const m = decodeProtoMsg(bytes('83a4626f6479a26869a17801a3686472' + '83a3736964c0a570726f746f01a3747970a57368656c6c'));
  assert.equal(m.hdr.proto, 1);
  assert.equal(m.hdr.sid, '');
  assert.equal(Buffer.from(m.body).toString(), 'hi');
});

test('refuses what is not a ProtoMsg', () => {
  assert.throws(() => decodeProtoMsg(bytes('93010203')));
  assert.throws(() => decodeProtoMsg(bytes('81a3686472' + '80')));
  assert.throws(() => decodeProtoMsg(bytes('c1')));
});
