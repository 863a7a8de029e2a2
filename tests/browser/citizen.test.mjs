// The citizen's paths that work today, in Chromium, with JavaScript on and off, at desktop
// width and on a 375 x 812 phone: create a payment through the portal API, open its checkout
// page, choose a provider by its visible label, approve (or decline) on the simulator's page,
// land on the gateway's return page, follow the receipt link, read the receipt. Every page
// visited passes checkPage (lib.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    BANKSIM, DESKTOP, GATEWAY, PHONE, PROVIDERS, checkPage, createPayment, launch, mainText,
    newContext,
} from './lib.mjs';

// One path, pages and checks included; a hang fails its test instead of waiting for run.sh's
// watchdog.
const TEST_MS = 90000;

let browser;

before(async () => {
    browser = await launch();
});

after(async () => {
    await browser?.close();
});

// The return page until it shows the payment as paid with its receipt link: the receipt is
// issued in the background, and the page says so until then (its "refresh" link or a reload).
async function waitForReceiptLink(page) {
    const link = page.getByRole('link', { name: 'Xem biên lai' });
    for (let i = 0; i < 40; i++) {
        if ((await link.count()) > 0) {
            return link;
        }
        await new Promise((r) => setTimeout(r, 250));
        await page.reload();
    }
    assert.fail(`no receipt link on ${page.url()}: ${await mainText(page)}`);
    return null;
}

// Checkout: the payment is shown, the provider chosen by its label, the form sent.
async function checkout(t, page, payment, provider, viewport, js, shots) {
    const r = await page.goto(payment.checkout_url);
    assert.equal(r.status(), 200);
    const text = await mainText(page);
    assert.match(text, /200\.000 ₫/);
    assert.match(text, new RegExp(payment.order_ref));
    await checkPage(t, page, 'checkout', viewport, js, shots && 'checkout');
    await page.getByLabel(provider.label, { exact: true }).check();
    await page.getByRole('button', { name: /^Thanh toán 200\.000 ₫$/ }).click();
    await page.waitForURL((u) => u.href.startsWith(BANKSIM));
    assert.match(await mainText(page), /200\.000 ₫/);
    await checkPage(t, page, `${provider.code} simulator`, viewport, js,
        shots && `simulator-${provider.code}`);
}

async function payAndGetReceipt(t, viewport, js, provider) {
    const ctx = await newContext(browser, viewport, js);
    try {
        const page = await ctx.newPage();
        const shots = viewport === PHONE && js;
        const payment = await createPayment();
        await checkout(t, page, payment, provider, viewport, js, shots);
        await page.getByRole('button', { name: 'Thanh toán · Pay' }).click();
        await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/return/`));
        const link = await waitForReceiptLink(page);
        assert.match(await mainText(page), /Khoản phí này đã được thanh toán/);
        await checkPage(t, page, 'return (paid)', viewport, js, shots && `return-${provider.code}`);
        await link.click();
        await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/receipts/`));
        const receipt = await mainText(page);
        assert.match(receipt, /200\.000/);
        assert.match(receipt, /Nguyễn Văn An/);
        await checkPage(t, page, 'receipt', viewport, js, shots && `receipt-${provider.code}`);
    } finally {
        await ctx.close();
    }
}

async function declineAndSeeState(t, viewport, js, provider) {
    const ctx = await newContext(browser, viewport, js);
    try {
        const page = await ctx.newPage();
        const payment = await createPayment();
        await checkout(t, page, payment, provider, viewport, js, false);
        await page.getByRole('button', { name: 'Từ chối · Decline' }).click();
        await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/return/`));
        const text = await mainText(page);
        assert.doesNotMatch(text, /đã được thanh toán/);
        assert.equal(await page.getByRole('link', { name: 'Xem biên lai' }).count(), 0);
        // A decline closes the attempt, not the payment: the page says so in its heading, names
        // the bank, and offers the channels again (ZaloPay calls back on success only: its
        // signed redirect says declined, and the page believes that much).
        assert.match(text, /Thanh toán chưa thành công: hãy thử lại hoặc chọn ngân hàng khác/,
            `declined state: ${text}`);
        assert.match(text, new RegExp(`Thanh toán không thành công tại ${provider.label.replace(/[()]/g, '.')}`));
        assert.ok(await page.getByLabel(PROVIDERS[0].label, { exact: true }).count() > 0);
        await checkPage(t, page, 'return (declined)', viewport, js,
            viewport === PHONE && js && `declined-${provider.code}`);
    } finally {
        await ctx.close();
    }
}

for (const viewport of [DESKTOP, PHONE]) {
    for (const js of [true, false]) {
        describe(`${viewport.name} ${viewport.width}x${viewport.height}, JavaScript ${js ? 'on' : 'off'}`,
            () => {
                for (const provider of PROVIDERS) {
                    test(`${provider.code}: pay, return, receipt`, { timeout: TEST_MS }, (t) =>
                        payAndGetReceipt(t, viewport, js, provider));
                    test(`${provider.code}: decline`, { timeout: TEST_MS }, (t) =>
                        declineAndSeeState(t, viewport, js, provider));
                }
                // A mistyped payment id, or a mistyped path: the people's HTML 404, in their
                // language (the portal API keeps its JSON under /v1/).
                test('a mistyped payment URL gives the 404 page', { timeout: TEST_MS }, async (t) => {
                    const ctx = await newContext(browser, viewport, js);
                    try {
                        const page = await ctx.newPage();
                        const r = await page.goto(`${GATEWAY}/pay/pay_0000000000000000000000000000000x`);
                        assert.equal(r.status(), 404);
                        assert.match(r.headers()['content-type'], /^text\/html/);
                        assert.match(await mainText(page), /Không tìm thấy trang hoặc khoản thanh toán này/);
                        await checkPage(t, page, 'not found', viewport, js,
                            viewport === PHONE && js && 'not-found');
                    } finally {
                        await ctx.close();
                    }
                });
                test('a mistyped path gives the 404 page', { timeout: TEST_MS }, async (t) => {
                    const ctx = await newContext(browser, viewport, js);
                    try {
                        const page = await ctx.newPage();
                        const r = await page.goto(`${GATEWAY}/thanh-toan`);
                        assert.equal(r.status(), 404);
                        assert.match(r.headers()['content-type'], /^text\/html/);
                        assert.equal(await page.locator('h1').innerText(), 'Không tìm thấy trang');
                        await checkPage(t, page, 'mistyped path', viewport, js,
                            viewport === PHONE && js && 'mistyped-path');
                        await page.getByRole('link', { name: 'Về trang chủ' }).click();
                        await page.waitForURL(`${GATEWAY}/`);
                        assert.doesNotMatch(await mainText(page), /docs\//);
                        await checkPage(t, page, 'home', viewport, js, viewport === PHONE && js && 'home');
                    } finally {
                        await ctx.close();
                    }
                });
            });
    }
}
