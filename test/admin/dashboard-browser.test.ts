/**
 * The web dashboard in real headless Chromium (Debian's chromium, driven
 * by playwright-core): it asks for a token, loads with it, shows a message
 * the test queued, holds and releases it by clicking, and its throughput
 * graph counts the mail the test sends. Screenshots of the views go to
 * DASHBOARD_SCREENSHOTS when that is set (the README's pictures).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

const CHROMIUM = '/usr/bin/chromium';

/** What the page functions read of the DOM (the project compiles without the DOM library; they run in the page). */
interface PageWindow {
  document: { querySelector(selector: string): { textContent: string | null } | null; documentElement: { scrollWidth: number } };
}
const skip = existsSync(CHROMIUM) ? false : 'chromium is not installed (.ci/run installs the Debian package)';
const TOKEN = 'dashboard-token-42';
const shots = process.env.DASHBOARD_SCREENSHOTS;

let sink: SmtpSink;
let daemon: RunningDaemon;
let browser: Browser;
let page: Page;
let url = '';

before(async () => {
  if (skip) return;
  sink = await startSmtpSink();
  const apiPort = await freePort();
  const closed = await freePort();
  const files = mkdtempSync(join(tmpdir(), 'postrider-dash-'));
  writeFileSync(join(files, 'tokens'), `${TOKEN}\n`);
  writeFileSync(join(files, 'transport'), `stuck.test smtp:[127.0.0.1]:${closed}\n`);
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      http_api_listen: `127.0.0.1:${apiPort}`,
      http_api_token_file: join(files, 'tokens'),
      transport_maps: `texthash:${join(files, 'transport')}`,
    },
    readyTimeoutMs: 90_000,
  });
  url = `http://127.0.0.1:${apiPort}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  await sink?.close();
});

async function shot(name: string): Promise<void> {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test('the dashboard asks for a token, refuses a wrong one, and loads with a good one', { skip }, async () => {
  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])');
  await shot('login');
  await page.fill('#token', 'wrong');
  await page.click('#login button[type=submit]');
  // Functions, not strings: the dashboard's CSP forbids eval, which a string predicate would need.
  await page.waitForFunction(() => (globalThis as unknown as PageWindow).document.querySelector('#login-error')?.textContent === 'the token was refused');
  await page.fill('#token', TOKEN);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
  await page.waitForSelector('#login', { state: 'hidden' });
  await page.waitForSelector('#actors tbody tr');
  const roles = await page.$$eval('#actors tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
  assert.ok(roles.includes('qmgr') && roles.includes('smtpd'), roles.join(','));
});

test('a queued message shows, and is held and released by clicking', { skip }, async () => {
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['w@stuck.test'], raw: 'Subject: waits\r\n\r\nx\r\n' });
  const id = r.queueId!;
  await waitFor(async () => (await daemon.cli(['queue', '--json'])).stdout.includes(`"queue_id": "${id}"`), 20_000, 'queued');
  await page.fill('#search-text', 'stuck.test');
  await page.click('#search button[type=submit]');
  await page.waitForSelector(`#messages tr[data-id="${id}"]`);
  await page.click(`#messages tr[data-id="${id}"] button[data-action="hold"]`);
  await page.waitForSelector(`#messages tr[data-id="${id}"][data-state="hold"]`);
  assert.match((await daemon.cli(['queue'])).stdout, new RegExp(`^${id}!`, 'm'));
  await shot('messages');
  await page.click(`#messages tr[data-id="${id}"] button[data-action="release"]`);
  await page.waitForSelector(`#messages tr[data-id="${id}"]:not([data-state="hold"])`);
  assert.doesNotMatch((await daemon.cli(['queue'])).stdout, new RegExp(`^${id}!`, 'm'));
});

test('the throughput graph moves while mail flows', { skip }, async () => {
  const delivered = async (): Promise<number> => {
    const t = String(await page.evaluate(() => (globalThis as unknown as PageWindow).document.querySelector('#totals')?.textContent ?? ''));
    return Number(/delivered (\d+)/.exec(t)?.[1] ?? 0);
  };
  const before = await delivered();
  for (let i = 0; i < 5; i++) await sendMail(daemon.port, { from: 'a@client.test', to: [`g${i}@remote.test`], raw: `Subject: graph ${i}\r\n\r\nx\r\n` });
  await waitFor(async () => (await delivered()) >= before + 5, 30_000, 'the graph counts the deliveries');
  await page.waitForSelector('#events li[data-type="delivered"]');
  await page.waitForSelector('#throughput canvas');
  await shot('overview');
  // A phone's width: the same views, one column.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const width = Number(await page.evaluate(() => (globalThis as unknown as PageWindow).document.documentElement.scrollWidth));
  assert.ok(width <= 420, `no sideways scrolling of the page on a phone (${width}px)`);
  await shot('phone');
});
