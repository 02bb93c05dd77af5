// The Files tab in a real browser (Debian's chromium, headless, through
// playwright-core) against a real tether-hub and a real tetherd whose
// [filetransfer] root is a temp dir: an upload of several chunks lands on disk
// byte-identical with the mode asked for, `stat` shows what is there, a download
// saves byte-identical bytes, the device's refusals (outside the root, too large,
// exists) are shown, and a viewer gets no transfer controls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, openBrowser, repo, tempDir, login, request } from './helpers.mjs';
import { startGateway } from './gateway.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const DEVICE = 'gw-files';
const MAX_SIZE = 300000;

let hub;
let gateway;
let browser;
let page;
let root; // the device's filetransfer.root
let local; // the browser side's files

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  root = tempDir('tether-files-root-');
  local = tempDir('tether-files-local-');
  gateway = await startGateway(hub, DEVICE, {
    args: [`--filetransfer.root=${root}`, `--filetransfer.max-file-size=${MAX_SIZE}`,
      '--filetransfer.allow-overwrite=false'],
  });
  ({ browser, page } = await openBrowser(hub));
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', hub.password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  await page.waitForSelector('[data-testid="device-row"]');
  await page.goto(`${hub.url}/#/devices/${DEVICE}/files`);
  await page.waitForSelector('[data-testid="files-upload-form"]');
});

after(async () => {
  if (browser) await browser.close();
  if (gateway) await gateway.stop();
  if (hub) await hub.stop();
});

async function uploadFile(name, bytes, target, mode = null) {
  const file = join(local, name);
  writeFileSync(file, bytes);
  await page.setInputFiles('[data-testid="files-upload-file"]', file);
  await page.fill('[data-testid="files-upload-path"]', target);
  if (mode) await page.fill('[data-testid="files-upload-mode"]', mode);
  await page.click('[data-testid="files-upload"]');
  await page.waitForSelector('[data-testid="files-upload-status"][data-state="done"], [data-testid="files-upload-status"][data-state="error"]',
    { timeout: 30000 });
  return {
    state: await page.getAttribute('[data-testid="files-upload-status"]', 'data-state'),
    text: (await page.textContent('[data-testid="files-upload-status"]')).trim(),
  };
}

test('an upload of many chunks lands byte-identical with its mode', async () => {
  const bytes = randomBytes(200 * 1024 + 17); // 51 chunks: several ack windows
  const target = join(root, 'uploaded.bin');
  const result = await uploadFile('uploaded.bin', bytes, target, '0640');
  assert.equal(result.state, 'done', result.text);
  assert.ok(readFileSync(target).equals(bytes), 'the bytes on disk differ');
  assert.equal(statSync(target).mode & 0o777, 0o640);
  assert.equal(await page.getAttribute('[data-testid="files-upload-progress"]', 'value'), String(bytes.length));

  // An empty file is a transfer too.
  const empty = await uploadFile('empty.bin', Buffer.alloc(0), join(root, 'empty.bin'), '0600');
  assert.equal(empty.state, 'done', empty.text);
  assert.equal(readFileSync(join(root, 'empty.bin')).length, 0);
  assert.equal(statSync(join(root, 'empty.bin')).mode & 0o777, 0o600);

  // A directory as the target takes the local file's name inside it.
  mkdirSync(join(root, 'inbox'));
  const into = await uploadFile('named.txt', Buffer.from('into a directory\n'), join(root, 'inbox'));
  assert.equal(into.state, 'done', into.text);
  assert.equal(readFileSync(join(root, 'inbox', 'named.txt'), 'utf8'), 'into a directory\n');

  // stat shows the uploaded file as the device sees it.
  await page.fill('[data-testid="files-path"]', target);
  await page.click('[data-testid="files-stat"]');
  await page.waitForSelector(`[data-testid="files-info"][data-kind="regular file"]`);
  assert.equal((await page.textContent('[data-testid="files-info-mode"]')).trim(), '-rw-r----- (0640)');
  assert.match(await page.textContent('[data-testid="files-info-size"]'), new RegExp(`\\(${bytes.length} bytes\\)`));
  assert.match(await page.textContent('[data-testid="files-info-owner"]'),
    new RegExp(`uid ${process.getuid()}, gid ${process.getgid()}`));
  await page.screenshot({ path: join(artifacts, 'hub-files.png') });

  // A directory says so.
  await page.fill('[data-testid="files-path"]', root);
  await page.click('[data-testid="files-stat"]');
  await page.waitForSelector('[data-testid="files-info"][data-kind="directory"]');
  assert.match(await page.textContent('[data-testid="files-browse-status"]'), /is a directory/);
  assert.match(await page.textContent('[data-testid="files-info-mode"]'), /^drwx/);
});

test('a download saves the same bytes', async () => {
  const bytes = randomBytes(150 * 1024 + 3);
  writeFileSync(join(root, 'download.bin'), bytes);
  await page.fill('[data-testid="files-path"]', join(root, 'download.bin'));
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 30000 }),
    page.click('[data-testid="files-download"]'),
  ]);
  assert.equal(download.suggestedFilename(), 'download.bin');
  const saved = join(local, 'saved.bin');
  await download.saveAs(saved);
  assert.ok(readFileSync(saved).equals(bytes), 'the saved bytes differ');
  await page.waitForSelector('[data-testid="files-download-status"][data-state="done"]');

  // A directory is not downloaded.
  await page.fill('[data-testid="files-path"]', root);
  await page.click('[data-testid="files-download"]');
  await page.waitForSelector('[data-testid="files-download-status"][data-state="error"]');
  assert.match(await page.textContent('[data-testid="files-download-status"]'), /is a directory/);
});

test('the device refusals are shown and leave nothing behind', async () => {
  const outside = `${root}/../outside-${process.pid}.bin`; // `..` is resolved by the device
  let result = await uploadFile('small.bin', Buffer.from('hello'), outside);
  assert.equal(result.state, 'error');
  assert.match(result.text, /outside filetransfer\.root/);
  assert.equal(existsSync(outside), false);

  result = await uploadFile('big.bin', randomBytes(MAX_SIZE + 1), join(root, 'big.bin'));
  assert.equal(result.state, 'error');
  assert.match(result.text, /exceeds filetransfer\.max-file-size/);
  assert.equal(existsSync(join(root, 'big.bin')), false);

  result = await uploadFile('again.bin', Buffer.from('again'), join(root, 'uploaded.bin'));
  assert.equal(result.state, 'error');
  assert.match(result.text, /exists/);

  // Download refusals too.
  await page.fill('[data-testid="files-path"]', '/etc/hostname');
  await page.click('[data-testid="files-download"]');
  await page.waitForSelector('[data-testid="files-download-status"][data-state="error"]');
  assert.match(await page.textContent('[data-testid="files-download-status"]'), /outside filetransfer\.root/);
});

test('a viewer sees why the transfer controls are off', async () => {
  const admin = await login(hub);
  const res = await request(hub, 'POST', '/api/accounts', {
    cookie: admin, body: { name: 'vera', role: 'viewer', password: 'vera-password' },
  });
  assert.equal(res.status, 201, res.text);
  const context = await browser.newContext();
  try {
    const viewer = await context.newPage();
    await viewer.goto(`${hub.url}/`);
    await viewer.waitForSelector('[data-testid="login-form"]');
    await viewer.fill('[data-testid="username"]', 'vera');
    await viewer.fill('[data-testid="password"]', 'vera-password');
    await viewer.click('[data-testid="login-form"] button[type="submit"]');
    await viewer.waitForSelector('[data-testid="device-row"]');
    await viewer.goto(`${hub.url}/#/devices/${DEVICE}/files`);
    await viewer.waitForSelector('[data-testid="files-notice"]');
    assert.match(await viewer.textContent('[data-testid="files-notice"]'), /operator role/);
    for (const id of ['files-stat', 'files-download', 'files-upload', 'files-upload-file']) {
      assert.equal(await viewer.isDisabled(`[data-testid="${id}"]`), true, id);
    }
  } finally {
    await context.close();
  }
});

test('with the device gone, an action says so', async () => {
  await gateway.kill();
  await page.fill('[data-testid="files-path"]', root);
  await page.click('[data-testid="files-stat"]');
  await page.waitForSelector('[data-testid="files-browse-status"][data-state="error"]');
  const said = await page.textContent('[data-testid="files-browse-status"]');
  assert.match(said, /device disconnected|device online/);
});
