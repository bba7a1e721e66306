// Browser test of GET /dashboard: the real cidrot-server (CIDROT_SERVER_BIN) on a free 127.0.0.1
// port with a temporary SQLite store, driven by headless Chromium through playwright-core.
//
//   node dashboard.test.mjs                         the test (exit 1 on the first failure)
//   node dashboard.test.mjs --screenshot out.png    demo data (examples/demo_numbers.csv) + traffic, then a screenshot
//   node dashboard.test.mjs --bench 100000          import N numbers, time page load and polls
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SERVER_BIN = process.env.CIDROT_SERVER_BIN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = randomBytes(24).toString('hex');
const HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';

function log(...a) { console.log('[dashboard-test]', ...a); }

async function startServer(dir) {
  const env = {
    PATH: process.env.PATH, ADMIN_TOKEN: TOKEN, CIDROT_STORE: 'sqlite://' + join(dir, 'cidrot.db'),
    CIDROT_LISTEN: '127.0.0.1:0', CIDROT_TIME_ZONE: 'UTC', LOG_LEVEL: 'WARNING', CIDROT_THREADS: '4',
  };
  // cwd = the temp dir, so no .env of the checkout is read.
  const proc = spawn(SERVER_BIN, [], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (d) => process.stderr.write('[server] ' + d));
  const port = await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('server did not start: ' + out)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(t); res(Number(m[1])); }
    });
    proc.on('exit', (code) => rej(new Error('server exited ' + code + ': ' + out)));
  });
  return { proc, port, base: `http://127.0.0.1:${port}` };
}

async function launch(dir) {
  const userDataDir = mkdtempSync(join(dir, 'chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function admin(base, method, path, body, type) {
  const res = await fetch(base + path, {
    method, body,
    headers: { Authorization: 'Bearer ' + TOKEN, ...(type ? { 'Content-Type': type } : {}) },
  });
  return { status: res.status, body: await res.json() };
}

async function nextCid(base, to, agent, campaign = 'sales') {
  const res = await fetch(`${base}/next-cid?to=${to}&campaign=${campaign}&agent=${agent}`);
  return { status: res.status, body: await res.json() };
}

const text = (page, sel) => page.locator(sel).first().textContent();
async function eventually(fn, what, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { return await fn(); } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`${what}: ${last && last.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function login(page, base, token) {
  await page.goto(base + '/dashboard');
  await page.locator('#token').fill(token);
  await page.locator('#login-button').click();
}

async function test(ctx, base) {
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => { errors.push('dialog: ' + d.message()); d.dismiss(); });

  log('wrong token is rejected');
  await login(page, base, 'not-the-token');
  await eventually(async () => assert.match(await text(page, '#login-error'), /wrong token/), 'login error shown');
  assert.equal(await page.locator('#app').isHidden(), true);
  assert.equal((await ctx.cookies()).filter((c) => c.name === 'cidrot_session').length, 0);
  assert.equal(await page.evaluate(async () => (await fetch('/api/stats')).status), 401);

  log('login sets an HttpOnly SameSite=Strict session cookie; the token is nowhere in URL or cookie');
  await login(page, base, TOKEN);
  await page.locator('#app').waitFor({ state: 'visible' });
  const cookie = (await ctx.cookies()).find((c) => c.name === 'cidrot_session');
  assert.ok(cookie, 'session cookie set');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/');
  assert.ok(cookie.expires > Date.now() / 1000, 'cookie has an expiry');
  assert.ok(!cookie.value.includes(TOKEN), 'token not in the cookie');
  assert.ok(!page.url().includes(TOKEN), 'token not in the URL');
  assert.equal(await page.evaluate(() => document.cookie.includes('cidrot_session')), false);
  assert.equal(await page.locator('#token').inputValue(), '');

  log('import a CSV through the page');
  const csv = 'caller_id,carrier,area_code,daily_limit,hourly_limit\n' +
    '2125550100,Verizon,212,100,2\n2125550101,"' + HOSTILE.replace(/"/g, '""') + '",212,100,10\n' +
    '3125550100,Telnyx,312,100,10\n3125550101,Telnyx,312,100,10\n4155550100,Bandwidth,415,100,10\n';
  await page.locator('#import-file').setInputFiles({ name: 'numbers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.locator('#import-button').click();
  await eventually(async () => assert.match(await text(page, '#import-result'), /Imported 5 new/), 'import result');

  log('the numbers appear');
  await eventually(async () => {
    assert.equal(await text(page, '#t-numbers'), '5');
    assert.equal(await page.locator('#numbers tbody tr[data-caller-id]').count(), 5);
  }, 'five numbers shown');

  log('a hostile carrier is shown as text');
  const hostileCell = page.locator('#numbers tr[data-caller-id="2125550101"] td.carrier');
  assert.equal(await hostileCell.textContent(), HOSTILE);
  assert.equal(await page.locator('#numbers tbody script, #numbers tbody img').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  log('leases through /next-cid move the counters within one poll');
  const l1 = await nextCid(base, '2125551234', 'agent-7');
  const l2 = await nextCid(base, '2125551234', 'agent-8');
  assert.equal(l1.status, 200);
  assert.equal(l2.status, 200);
  await eventually(async () => {
    assert.equal(await text(page, '#t-leased'), '2');
    const row = page.locator(`#numbers tr[data-caller-id="${l1.body.caller_id}"]`);
    assert.equal(await row.getAttribute('data-state'), 'leased');
    assert.match(await row.locator('td.leased-by').textContent(), /agent-7 · sales/);
    assert.equal(await page.locator('#leases tbody tr[data-caller-id]').count(), 2);
    assert.equal(await text(page, '#campaigns tbody td:nth-child(2)'), '2');
  }, 'counters after two leases', 3000);
  await eventually(async () => assert.notEqual(await text(page, '#t-rps'), '0.0'), 'request rate', 4000);
  assert.match(await text(page, '#t-latency'), /ms$/);

  log('release a stuck lease from the table');
  await page.locator(`#numbers tr[data-caller-id="${l1.body.caller_id}"] button[data-action="release"]`).click();
  await eventually(async () => assert.equal(await text(page, '#t-leased'), '1'), 'leased after release');

  log('disable a number');
  await page.locator('#numbers tr[data-caller-id="4155550100"] button[data-action="disable"]').click();
  await eventually(async () => {
    assert.equal(await page.locator('#numbers tr[data-caller-id="4155550100"]').getAttribute('data-state'), 'disabled');
    assert.equal(await text(page, '#t-disabled'), '1');
  }, 'number disabled');
  assert.equal((await admin(base, 'GET', '/api/numbers/4155550100')).body.active, false);

  log('coverage by area code and state');
  await eventually(async () => {
    assert.equal(await page.locator('#regions tbody tr[data-region="NY"]').count(), 1);
    assert.equal(await page.locator('#area-codes tbody tr[data-area-code="212"]').count(), 1);
    const missing = await page.locator('#uncovered span').allTextContents();
    assert.ok(missing.includes('TX') && !missing.includes('NY'), missing.join(' '));
  }, 'coverage tables');

  log('filters, sorting and paging come from the server');
  await page.locator('#f-area').fill('312');
  await eventually(async () => {
    assert.equal(await page.locator('#numbers tbody tr[data-caller-id]').count(), 2);
    assert.match(await text(page, '#page-info'), /of 2$/);
  }, 'area-code filter');
  await page.locator('#f-area').fill('');
  await page.locator('#f-limit').selectOption('25');
  await page.locator('#numbers th[data-sort="caller_id"]').click();  // now descending
  await eventually(async () => assert.equal(
    await page.locator('#numbers tbody tr[data-caller-id]').first().getAttribute('data-caller-id'), '4155550100'),
  'sorted descending');

  log('state-changing requests need the CSRF token; cross-origin login is refused');
  const noCsrf = await page.evaluate(async () => (await fetch('/api/numbers/3125550100', {
    method: 'PATCH', body: '{"active":false}', headers: { 'Content-Type': 'application/json' } })).status);
  assert.equal(noCsrf, 401);
  const badCsrf = await page.evaluate(async () => (await fetch('/api/numbers/3125550100', {
    method: 'PATCH', body: '{"active":false}', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'x' } })).status);
  assert.equal(badCsrf, 401);
  assert.equal((await admin(base, 'GET', '/api/numbers/3125550100')).body.active, true);
  const cross = await fetch(base + '/dashboard/login', { method: 'POST', body: 'token=' + TOKEN,
    headers: { Origin: 'http://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(cross.status, 403);
  assert.equal(cross.headers.get('set-cookie'), null);

  log('logout ends the session server-side');
  const stolen = (await ctx.cookies()).find((c) => c.name === 'cidrot_session').value;
  await page.locator('#logout').click();
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(async () => (await fetch('/api/stats')).status), 401);
  const replay = await fetch(base + '/api/stats', { headers: { Cookie: 'cidrot_session=' + stolen } });
  assert.equal(replay.status, 401, 'old cookie is dead after logout');

  assert.deepEqual(errors, [], 'no page errors or dialogs');
}

async function demo(ctx, base, out) {
  const csv = readFileSync(join(ROOT, 'examples/demo_numbers.csv'), 'utf8');
  const r = await admin(base, 'POST', '/api/numbers/import', csv, 'text/csv');
  assert.equal(r.status, 200);
  const dests = ['2125551234', '3125559876', '4155550123', '2135550199', '7135550142', '3055550111', '6175550188'];
  for (let i = 0; i < 140; i++) {
    const l = await nextCid(base, dests[i % dests.length], 'agent-' + (100 + (i % 23)), ['sales', 'renewals', 'support'][i % 3]);
    if (l.status === 200 && i % 4 !== 0) {
      await fetch(base + '/release', { method: 'POST', body: 'reservation_id=' + l.body.reservation_id,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    }
    if (i % 20 === 0) await new Promise((res) => setTimeout(res, 250));
  }
  const nums = (await admin(base, 'GET', '/api/numbers?area_code=305&limit=3')).body.items;
  for (const n of nums) await admin(base, 'PATCH', '/api/numbers/' + n.caller_id, '{"active":false}', 'application/json');
  const page = ctx.pages()[0] || await ctx.newPage();
  await login(page, base, TOKEN);
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('#f-state').selectOption('leased');
  await eventually(async () => assert.ok(Number(await page.evaluate(() => document.body.dataset.polls)) >= 2), 'polled', 8000);
  await page.setViewportSize({ width: 1400, height: 1750 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: out });
  log('screenshot written to', out);
}

async function bench(ctx, base, n) {
  const lines = ['caller_id,carrier,area_code,daily_limit,hourly_limit'];
  const npas = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228];
  for (let i = 0; i < n; i++) {
    const npa = npas[i % npas.length];
    lines.push(`${npa}${String(2000000 + Math.floor(i / npas.length)).padStart(7, '0')},Carrier${i % 7},${npa},300,30`);
  }
  let t = Date.now();
  const r = await admin(base, 'POST', '/api/numbers/import', lines.join('\n') + '\n', 'text/csv');
  assert.equal(r.status, 200);
  log(`imported ${r.body.inserted} numbers in ${Date.now() - t} ms`);
  for (let i = 0; i < 50; i++) await nextCid(base, '2125551234', 'a' + i);
  const page = ctx.pages()[0] || await ctx.newPage();
  await login(page, base, TOKEN);
  t = Date.now();
  await page.goto(base + '/dashboard');
  await eventually(async () => assert.equal(await page.evaluate(() => document.body.dataset.polls), '1'), 'first poll', 30000);
  log(`page load to first full render: ${Date.now() - t} ms`);
  const times = await page.evaluate(async () => {
    const out = {};
    for (const [k, url] of [['stats', '/api/stats'], ['numbers_page', '/api/numbers?sort=caller_id&order=asc&offset=0&limit=50'],
      ['numbers_deep_page', '/api/numbers?sort=last_used&order=desc&offset=90000&limit=50'],
      ['numbers_filtered', '/api/numbers?area_code=212&limited=false&sort=day_count&order=desc&limit=50'],
      ['reservations', '/api/reservations?limit=1000']]) {
      const ms = [];
      for (let i = 0; i < 5; i++) { const t0 = performance.now(); await (await fetch(url)).json(); ms.push(performance.now() - t0); }
      ms.sort((a, b) => a - b);
      out[k] = ms[2].toFixed(1);
    }
    return out;
  });
  log('median of 5 (ms):', JSON.stringify(times));
  const polls = await page.evaluate(async () => {
    const start = Number(document.body.dataset.polls);
    const t0 = performance.now();
    while (Number(document.body.dataset.polls) < start + 5) await new Promise((r) => setTimeout(r, 50));
    return ((performance.now() - t0) / 5).toFixed(0);
  });
  log(`one poll cycle (stats + numbers page + reservations + render, every 2000 ms from the start of the previous), mean of 5: ${polls} ms`);
}

async function main() {
  assert.ok(SERVER_BIN, 'set CIDROT_SERVER_BIN to the cidrot-server binary');
  const dir = mkdtempSync(join(tmpdir(), 'cidrot-dash-'));
  const srv = await startServer(dir);
  log('server on', srv.base);
  let ctx;
  let code = 0;
  try {
    ctx = await launch(dir);
    const i = process.argv.indexOf('--screenshot');
    const b = process.argv.indexOf('--bench');
    if (i > 0) await demo(ctx, srv.base, resolve(process.env.CIDROT_CALLER_DIR || '.', process.argv[i + 1]));
    else if (b > 0) await bench(ctx, srv.base, Number(process.argv[b + 1] || 100000));
    else await test(ctx, srv.base);
    log('PASS');
  } catch (e) {
    console.error('[dashboard-test] FAIL:', e && e.stack || e);
    code = 1;
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    srv.proc.kill('SIGTERM');
    await new Promise((r) => { srv.proc.once('exit', r); setTimeout(r, 5000); });
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}

main();
