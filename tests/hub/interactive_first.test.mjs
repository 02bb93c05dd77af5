// An operator's links are read before the fleet's bulk (hub/server/interactive_links.hpp).
//
// The hub is stopped (SIGSTOP) while an operator, the device its shell session
// goes to, and BULK other devices each send one message the hub answers at once
// (a malformed message from the operator, an unknown proto from the devices).
// The operator and its device write first. When the hub resumes, every socket is
// ready in the same pass; the operator's and the device's answers must come
// before almost all of the fleet's. Without the priority libev serves the sockets
// of a pass last-reported-first, so the two that wrote first are answered after
// the other sockets of their pass (dozens).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startHub, login, connect, connectDevice, connectOperator, devicePath, hubBin, PROTO,
} from './helpers.mjs';

const BULK = 150;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("an operator's link and its session's device are served before the fleet", async () => {
  const hub = await startHub({ devices: ['target'] });
  const peers = [];
  try {
    const tokensFile = join(hub.dir, 'tokens');
    execFileSync(hubBin, ['--config', hub.configFile, '--add-devices', String(BULK),
      '--device-prefix', 'bulk-', '--tokens-out', tokensFile], { stdio: 'pipe' });
    const tokens = readFileSync(tokensFile, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/));
    assert.equal(tokens.length, BULK);

    const target = await connectDevice(hub, 'target');
    peers.push(target);
    const bulk = [];
    for (const [id, token] of tokens) {
      const tok = token ?? id;
      const p = await connect(hub, devicePath, { Authorization: `Bearer ${tok}` });
      peers.push(p);
      bulk.push(p);
    }
    const cookie = await login(hub);
    const operator = await connectOperator(hub, cookie, 'target');
    peers.push(operator);

    // The session makes the hub send the device a shell message: from then on its
    // link is interactive too.
    operator.send({ hdr: { proto: PROTO.SHELL, typ: 'new', sid: '' } });
    await target.next({ proto: PROTO.SHELL, typ: 'new' });
    await sleep(300);

    const order = [];
    const watch = (peer, who) => peer.ws.on('message', () => order.push(who));
    watch(operator, 'operator');
    watch(target, 'target');
    bulk.forEach((p) => watch(p, 'bulk'));

    const unknown = { hdr: { proto: 0x7777, typ: 'x' } };
    process.kill(hub.proc.pid, 'SIGSTOP');
    try {
      operator.sendRaw(Buffer.from([0xc1]));
      target.send(unknown);
      await sleep(50);
      for (const p of bulk) p.send(unknown);
      await sleep(300);
    } finally {
      process.kill(hub.proc.pid, 'SIGCONT');
    }

    const deadline = Date.now() + 10000;
    while (order.length < BULK + 2 && Date.now() < deadline) await sleep(20);
    assert.equal(order.length, BULK + 2, `answers: ${order.length}`);
    const before = (who) => order.slice(0, order.indexOf(who)).filter((w) => w === 'bulk').length;
    assert.ok(before('operator') < 10, `${before('operator')} bulk answers before the operator's`);
    assert.ok(before('target') < 10, `${before('target')} bulk answers before the session device's`);
  } finally {
    for (const p of peers) p.ws.terminate();
    await hub.stop();
  }
});
