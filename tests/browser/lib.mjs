// Shared by the browser tests: the stack run.sh started (FG_* environment), portal requests
// signed as the portal signs them, Debian's Chromium through playwright-core, and the checks
// every page visited must pass (axe-core, no horizontal scroll on a phone).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

function env(name) {
    const v = process.env[name];
    if (v === undefined || v === '') {
        throw new Error(`${name} is not set: run the tests through tests/browser/run.sh`);
    }
    return v;
}

export const GATEWAY = env('FG_GATEWAY_URL');
export const BANKSIM = env('FG_BANKSIM_URL');
const CLIENT_ID = env('FG_CLIENT_ID');
const CLIENT_SECRET = env('FG_CLIENT_SECRET');
const SHOTS = process.env.FG_SHOTS_DIR ?? '';
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const DESKTOP = { name: 'desktop', width: 1280, height: 800 };
export const PHONE = { name: 'phone', width: 375, height: 812 };

// The visible label of each channel on the checkout page (Vietnamese, the default locale).
export const PROVIDERS = [
    { code: 'sandbox', label: 'Sandbox (ngân hàng thử nghiệm)' },
    { code: 'vnpay', label: 'VNPAY (thẻ ATM / QR ngân hàng)' },
    { code: 'momo', label: 'Ví MoMo' },
    { code: 'zalopay', label: 'ZaloPay' },
];

// The portal's signature: v1=HMAC-SHA256(secret, METHOD \n path?query \n timestamp \n
// hex SHA-256 of the body).
function signature(method, pathAndQuery, timestamp, body) {
    const bodyHash = crypto.createHash('sha256').update(body).digest('hex');
    const msg = `${method}\n${pathAndQuery}\n${timestamp}\n${bodyHash}`;
    return 'v1=' + crypto.createHmac('sha256', CLIENT_SECRET).update(msg).digest('hex');
}

let seq = 0;

// A new payment of 200 000 VND for a criminal record extract; its JSON (checkout_url, ...).
export async function createPayment() {
    seq += 1;
    const ref = `BR-${process.pid}-${Date.now()}-${seq}`;
    const body = JSON.stringify({
        order_ref: ref,
        agency_code: 'STP-HN',
        payer: { name: 'Nguyễn Văn An', id_number: '001099012345', email: 'an@example.vn' },
        items: [{ fee_code: 'LLTP', amount_vnd: 200000 }],
        amount_vnd: 200000,
        return_url: `https://portal.example.vn/hs/${ref}`,
        expires_in_s: 900,
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const r = await fetch(`${GATEWAY}/v1/payments`, {
        method: 'POST',
        body,
        headers: {
            'Content-Type': 'application/json',
            'X-Feegate-Client': CLIENT_ID,
            'X-Feegate-Timestamp': ts,
            'X-Feegate-Signature': signature('POST', '/v1/payments', ts, body),
            'Idempotency-Key': ref,
        },
        signal: AbortSignal.timeout(15000),
    });
    const text = await r.text();
    assert.equal(r.status, 201, `create answered ${r.status}: ${text}`);
    const j = JSON.parse(text);
    assert.ok(j.checkout_url?.startsWith(GATEWAY), `checkout_url ${j.checkout_url}`);
    return j;
}

// A signed portal request (JSON body or none); its status and parsed JSON.
export async function portal(method, pathAndQuery, bodyObj) {
    const body = bodyObj === undefined ? '' : JSON.stringify(bodyObj);
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = {
        'X-Feegate-Client': CLIENT_ID,
        'X-Feegate-Timestamp': ts,
        'X-Feegate-Signature': signature(method, pathAndQuery, ts, body),
    };
    if (body !== '') {
        headers['Content-Type'] = 'application/json';
    }
    if (method === 'POST') {
        // Every call that moves money carries a key (docs/api.md, "Idempotency").
        headers['Idempotency-Key'] = `browser-${crypto.randomUUID()}`;
    }
    const r = await fetch(`${GATEWAY}${pathAndQuery}`, {
        method, body: body === '' ? undefined : body, headers, signal: AbortSignal.timeout(15000),
    });
    const text = await r.text();
    return { status: r.status, json: text === '' ? null : JSON.parse(text) };
}

// Moves a payment's deadline into the past, as time would (psql on the admin DSN run.sh
// exported); the gateway's expiry sweep records it within a second, and the pages show it
// as expired at once.
export function expirePayment(id) {
    assert.match(id, /^pay_[0-9a-f]{32}$/);
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', env('FEEGATE_ADMIN_DSN'), '-c',
        `UPDATE feegate.payments SET expires_at = now() - interval '1 second' WHERE id = '${id}'`],
    { timeout: 30000, stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function launch() {
    return chromium.launch({
        executablePath: env('FG_CHROMIUM'),
        // Root in a container has no user namespace for Chromium's sandbox.
        chromiumSandbox: false,
        args: ['--disable-dev-shm-usage'],
        timeout: 60000,
    });
}

export async function newContext(browser, viewport, javaScriptEnabled) {
    const ctx = await browser.newContext({
        viewport: { width: viewport.width, height: viewport.height },
        isMobile: viewport === PHONE,
        hasTouch: viewport === PHONE,
        javaScriptEnabled,
        locale: 'vi-VN',
    });
    ctx.setDefaultTimeout(20000);
    ctx.setDefaultNavigationTimeout(20000);
    return ctx;
}

// The violations of impact critical or serious, as short lines (rule, impact, first targets).
async function axeViolations(page, js) {
    // axe.run waits on timers, which never fire while the page's JavaScript is off: then the
    // DOM that page rendered is served, at its URL, to a page of a JavaScript-on context of the
    // same viewport, and checked there (the gateway's and simulator's pages carry no script,
    // so both render the same DOM).
    let target = page;
    let helper = null;
    if (!js) {
        const html = await page.content();
        const url = page.url();
        const size = page.viewportSize();
        helper = await page.context().browser().newContext({ viewport: size, locale: 'vi-VN' });
        target = await helper.newPage();
        await target.route('**/*', (route) => (route.request().url() === url.split('#')[0]
            ? route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html })
            : route.abort()));
        await target.goto(url);
    }
    let result;
    try {
        // Through the DevTools protocol, not a <script> tag: the pages' CSP forbids scripts,
        // and the check must not weaken it.
        await target.evaluate(AXE_SOURCE);
        result = await target.evaluate(() =>
            // eslint-disable-next-line no-undef
            axe.run(document, { resultTypes: ['violations'] }));
    } finally {
        await helper?.close();
    }
    return result.violations
        .filter((v) => v.impact === 'critical' || v.impact === 'serious')
        .map((v) => `${v.id} (${v.impact}): ${v.help} at ` +
            v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '));
}

// The known defects of the pages visited (the gateway's, and the simulator's that stands in for
// the bank's), by "check:page" (check axe or scroll): that single assertion is then a todo
// carrying the description, until the page is fixed. None today.
export const KNOWN = {};

const axeDone = new Set();

// The checks of one page visited, as subtests of t so that each can carry its own todo:
// axe-core (no critical or serious violation), and on the phone no horizontal scroll. A
// screenshot of the page at 375 px goes to FG_SHOTS_DIR under shot (when given). js: whether
// the page's JavaScript is on.
export async function checkPage(t, page, name, viewport, js, shot) {
    // axe-core once per page kind, viewport and JavaScript setting: the other visits render the
    // same template with other data (a few seconds each on a busy machine).
    const key = `${name}|${viewport.name}|${js}`;
    if (!axeDone.has(key)) {
        axeDone.add(key);
        await t.test(`axe: ${name}`, { todo: KNOWN[`axe:${name}`] }, async () => {
            const v = await axeViolations(page, js);
            assert.deepEqual(v, [], `axe-core on ${name} (${page.url()})`);
        });
    }
    if (viewport !== PHONE) {
        return;
    }
    await t.test(`no horizontal scroll at 375 px: ${name}`, { todo: KNOWN[`scroll:${name}`] },
        async () => {
            const [sw, cw] = await page.evaluate(() => [
                document.documentElement.scrollWidth, document.documentElement.clientWidth]);
            assert.ok(sw <= cw, `${name}: scrollWidth ${sw} > clientWidth ${cw} (${page.url()})`);
        });
    if (shot && SHOTS !== '') {
        await page.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true });
    }
}

// The visible text of the page's main content (or the body when it has no <main>).
export async function mainText(page) {
    const main = page.locator('main');
    return (await main.count()) > 0 ? main.innerText() : page.locator('body').innerText();
}
