// The citizen's harder paths, in Chromium with JavaScript on and off, at desktop width and on a
// 375 x 812 phone: a decline, then paying the same payment through another provider; the Back
// button after starting an attempt; an expired and a cancelled payment; a form sent without a
// choice; verifying a receipt by its lookup code and by uploading its XML (valid and
// tampered); and bad input (a code of the wrong shape, a file that is not a receipt, an
// unknown payment id, a language we do not offer), each a clear page in the citizen's
// language with the right status. Every page visited passes checkPage (lib.mjs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
    BANKSIM, DESKTOP, GATEWAY, PHONE, PROVIDERS, checkPage, createPayment, expirePayment, launch,
    mainText, newContext, portal,
} from './lib.mjs';

const TEST_MS = 120000;
const [SANDBOX, VNPAY] = PROVIDERS;

let browser;
let tmp;

before(async () => {
    browser = await launch();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-journeys-'));
});

after(async () => {
    await browser?.close();
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});

async function withPage(viewport, js, fn) {
    const ctx = await newContext(browser, viewport, js);
    try {
        return await fn(await ctx.newPage());
    } finally {
        await ctx.close();
    }
}

// On the checkout (or return) page: choose provider, pay, land on the simulator's page.
async function choose(page, provider) {
    await page.getByLabel(provider.label, { exact: true }).check();
    await page.getByRole('button', { name: /^Thanh toán 200\.000 ₫$/ }).click();
    await page.waitForURL((u) => u.href.startsWith(BANKSIM));
}

// The return page until it shows the receipt link (the receipt is issued in the background).
async function receiptLink(page) {
    const link = page.getByRole('link', { name: 'Xem biên lai' });
    for (let i = 0; i < 40 && (await link.count()) === 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        await page.reload();
    }
    assert.ok((await link.count()) > 0, `no receipt link: ${await mainText(page)}`);
    return link;
}

// Pays a new payment through the sandbox and opens its receipt page; the receipt's id.
async function paidReceipt(page) {
    const payment = await createPayment();
    await page.goto(payment.checkout_url);
    await choose(page, SANDBOX);
    await page.getByRole('button', { name: 'Thanh toán · Pay' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/return/`));
    await (await receiptLink(page)).click();
    await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/receipts/`));
    return new URL(page.url()).pathname.split('/').pop();
}

// The receipt's signed XML, once the issuer has stored it.
async function receiptXml(id) {
    for (let i = 0; i < 80; i++) {
        const r = await fetch(`${GATEWAY}/receipts/${id}.xml`, { signal: AbortSignal.timeout(15000) });
        if (r.status === 200) {
            return r.text();
        }
        await new Promise((res) => setTimeout(res, 250));
    }
    assert.fail(`no XML for ${id}`);
    return '';
}

async function declineThenAnotherProvider(t, viewport, js) {
    await withPage(viewport, js, async (page) => {
        const shots = viewport === PHONE && js;
        const payment = await createPayment();
        await page.goto(payment.checkout_url);
        assert.equal(await page.getByRole('radio', { checked: true }).count(), 0,
            'no channel is chosen in advance');
        await choose(page, SANDBOX);
        await page.getByRole('button', { name: 'Từ chối · Decline' }).click();
        await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/return/`));
        assert.equal(await page.locator('h1').innerText(),
            'Thanh toán chưa thành công: hãy thử lại hoặc chọn ngân hàng khác');
        const text = await mainText(page);
        assert.match(text, /Thanh toán không thành công tại Sandbox \(ngân hàng thử nghiệm\)/);
        assert.doesNotMatch(text, /không thể thanh toán/);
        await checkPage(t, page, 'return (declined, pay again)', viewport, js,
            shots && 'declined-pay-again');
        // The same payment, through another provider, from the return page itself.
        await choose(page, VNPAY);
        await page.getByRole('button', { name: 'Thanh toán · Pay' }).click();
        await page.waitForURL((u) => u.href.startsWith(`${GATEWAY}/return/`));
        await receiptLink(page);
        assert.equal(await page.locator('h1').innerText(), 'Đã thanh toán');
        const paid = await portal('GET', `/v1/payments/${payment.payment_id}`);
        assert.equal(paid.json.status, 'succeeded');
        assert.equal(paid.json.channel, 'vnpay');
        assert.equal(paid.json.late, false);
    });
}

async function backButton(t, viewport, js) {
    await withPage(viewport, js, async (page) => {
        const payment = await createPayment();
        await page.goto(payment.checkout_url);
        await choose(page, SANDBOX);
        await page.goBack();
        await page.waitForURL(payment.checkout_url);
        const text = await mainText(page);
        assert.match(text, /Một lần thanh toán đang được xử lý tại Sandbox \(ngân hàng thử nghiệm\)/,
            `the Back button's page: ${text}`);
        assert.match(text, /Nếu bạn thanh toán lại, một lần thanh toán mới sẽ bắt đầu\. Nếu cả hai lần đều thành công, khoản tiền thứ hai sẽ được tự động hoàn lại\./);
        assert.equal(await page.getByRole('radio', { checked: true }).count(), 0,
            'the Back button brings back no choice');
        await checkPage(t, page, 'checkout (attempt in progress)', viewport, js,
            viewport === PHONE && js && 'attempt-in-progress');
        // Paying again is still possible: a new attempt.
        await choose(page, VNPAY);
    });
}

async function expiredAndCancelled(t, viewport, js) {
    await withPage(viewport, js, async (page) => {
        const expired = await createPayment();
        expirePayment(expired.payment_id);
        let r = await page.goto(expired.checkout_url);
        assert.equal(r.status(), 200);
        assert.equal(await page.locator('h1').innerText(),
            'Đã hết hạn thanh toán: hãy tạo yêu cầu mới từ cổng dịch vụ công');
        assert.match(await page.getByRole('status').first().innerText(), /Đã hết hạn thanh toán/);
        assert.equal(await page.getByRole('radio').count(), 0);
        await checkPage(t, page, 'checkout (expired)', viewport, js,
            viewport === PHONE && js && 'expired');
        const cancelled = await createPayment();
        const c = await portal('POST', `/v1/payments/${cancelled.payment_id}/cancel`);
        assert.equal(c.status, 200);
        r = await page.goto(`${cancelled.checkout_url}?lang=en`);
        assert.equal(await page.locator('h1').innerText(),
            'This payment was cancelled: go back to the public service portal');
        await checkPage(t, page, 'checkout (cancelled)', viewport, js,
            viewport === PHONE && js && 'cancelled');
    });
}

async function noChoice(t, viewport, js) {
    await withPage(viewport, js, async (page) => {
        const payment = await createPayment();
        await page.goto(payment.checkout_url);
        const [resp] = await Promise.all([
            page.waitForResponse((res) => res.request().method() === 'POST'),
            page.getByRole('button', { name: /^Thanh toán 200\.000 ₫$/ }).click(),
        ]);
        assert.equal(resp.status(), 422);
        await page.waitForLoadState();
        const summary = page.locator('.error-summary');
        assert.match(await summary.innerText(), /Có lỗi cần sửa[\s\S]*Hãy chọn một phương thức thanh toán/);
        assert.match(await page.title(), /^Lỗi:/);
        await checkPage(t, page, 'checkout (no choice)', viewport, js,
            viewport === PHONE && js && 'no-choice');
        await summary.getByRole('link').click();
        assert.equal(await page.evaluate(() => location.hash), '#channel-0');
    });
}

async function verifyByCodeAndFile(t, viewport, js) {
    await withPage(viewport, js, async (page) => {
        const shots = viewport === PHONE && js;
        const id = await paidReceipt(page);
        const receipt = await mainText(page);
        const m = receipt.match(/\b([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4})\b/);
        assert.ok(m, `no lookup code on the receipt: ${receipt}`);
        assert.match(receipt, /Sandbox \(ngân hàng thử nghiệm\)/, 'the channel by its name');
        assert.doesNotMatch(receipt, /\bsandbox\b/);
        // By lookup code, typed as a person would.
        await page.goto(`${GATEWAY}/verify`);
        await checkPage(t, page, 'verify (form)', viewport, js, shots && 'verify-form');
        await page.getByLabel('Mã tra cứu').fill(m[1].toLowerCase());
        await page.getByRole('button', { name: 'Tra cứu' }).click();
        await page.waitForURL((u) => u.searchParams.has('code'));
        let text = await mainText(page);
        assert.match(text, /Biên lai có trong hệ thống/);
        assert.match(text, /Ký số bởi/);
        assert.match(text, /Nguyễn Văn An/);
        assert.match(text, /••••••••2345/);
        assert.doesNotMatch(text, /001099012345/);
        assert.ok(text.indexOf('Ký số bởi') < text.indexOf('Thông tin kỹ thuật'),
            'signed by, before any hash');
        assert.equal(await page.locator('details').first().getAttribute('open'), null,
            'technical details closed');
        await checkPage(t, page, 'verify (by code)', viewport, js, shots && 'verify-code');
        // By uploading the XML: valid, then tampered.
        const xml = await receiptXml(id);
        const good = path.join(tmp, `${id}-${viewport.name}-${js}.xml`);
        fs.writeFileSync(good, xml);
        await page.goto(`${GATEWAY}/verify`);
        await page.getByLabel('Tệp XML của biên lai').setInputFiles(good);
        await page.getByRole('button', { name: 'Kiểm tra tệp' }).click();
        await page.waitForLoadState();
        text = await mainText(page);
        assert.match(text, /Biên lai hợp lệ: chữ ký số và nội dung khớp/);
        assert.match(text, /••••••••2345/);
        await checkPage(t, page, 'verify (valid file)', viewport, js, shots && 'verify-valid');
        const bad = path.join(tmp, `${id}-${viewport.name}-${js}-tampered.xml`);
        fs.writeFileSync(bad, xml.replace('<TotalVnd>200000<', '<TotalVnd>900000<'));
        await page.goto(`${GATEWAY}/verify`);
        await page.getByLabel('Tệp XML của biên lai').setInputFiles(bad);
        await page.getByRole('button', { name: 'Kiểm tra tệp' }).click();
        await page.waitForLoadState();
        text = await mainText(page);
        assert.match(text, /Biên lai không hợp lệ/);
        assert.match(text, /Nội dung tệp đã bị thay đổi sau khi được ký số\./);
        await checkPage(t, page, 'verify (tampered file)', viewport, js, shots && 'verify-tampered');
    });
}

// A page and its status for a bad input, in the citizen's language.
async function badInput(t, viewport, js) {
    await withPage(viewport, js, async (page) => {
        let r = await page.goto(`${GATEWAY}/verify?code=abc&lang=en`);
        assert.equal(r.status(), 400);
        assert.match(await page.locator('.error-summary').innerText(), /There is a problem/);
        assert.match(await mainText(page), /Enter the lookup code as printed on the receipt/);
        assert.equal(await page.getByLabel('Lookup code').inputValue(), 'abc');
        await checkPage(t, page, 'verify (wrong shape)', viewport, js,
            viewport === PHONE && js && 'verify-wrong-shape');
        r = await page.goto(`${GATEWAY}/verify?code=`);
        assert.equal(r.status(), 400);
        assert.match(await mainText(page), /Hãy nhập mã tra cứu in trên biên lai/);
        const notXml = path.join(tmp, `not-a-receipt-${viewport.name}-${js}.txt`);
        fs.writeFileSync(notXml, 'Xin chào, đây không phải là biên lai.\n');
        await page.goto(`${GATEWAY}/verify`);
        await page.getByLabel('Tệp XML của biên lai').setInputFiles(notXml);
        const [resp] = await Promise.all([
            page.waitForResponse((res) => res.request().method() === 'POST'),
            page.getByRole('button', { name: 'Kiểm tra tệp' }).click(),
        ]);
        assert.equal(resp.status(), 422);
        await page.waitForLoadState();
        assert.match(await mainText(page), /Tệp đã chọn không phải là tệp XML của biên lai/);
        await checkPage(t, page, 'verify (not a receipt)', viewport, js,
            viewport === PHONE && js && 'verify-not-receipt');
        r = await page.goto(`${GATEWAY}/pay/pay_00000000000000000000000000000000`);
        assert.equal(r.status(), 404);
        assert.match(await mainText(page), /Không tìm thấy trang hoặc khoản thanh toán này/);
        r = await page.goto(`${GATEWAY}/verify?lang=fr`);
        assert.equal(r.status(), 400);
        assert.match(await mainText(page), /Trang này chỉ có bằng tiếng Việt \(lang=vi\) và tiếng Anh/);
        await checkPage(t, page, 'language not offered', viewport, js,
            viewport === PHONE && js && 'lang-not-offered');
    });
}

for (const viewport of [DESKTOP, PHONE]) {
    for (const js of [true, false]) {
        describe(`${viewport.name} ${viewport.width}x${viewport.height}, JavaScript ${js ? 'on' : 'off'}`,
            () => {
                test('decline, then pay the same payment through another provider',
                    { timeout: TEST_MS }, (t) => declineThenAnotherProvider(t, viewport, js));
                test('the Back button after starting an attempt', { timeout: TEST_MS },
                    (t) => backButton(t, viewport, js));
                test('expired and cancelled payments', { timeout: TEST_MS },
                    (t) => expiredAndCancelled(t, viewport, js));
                test('a payment form sent without a choice', { timeout: TEST_MS },
                    (t) => noChoice(t, viewport, js));
                test('verify a receipt by its lookup code and by its XML file', { timeout: TEST_MS },
                    (t) => verifyByCodeAndFile(t, viewport, js));
                test('bad input gets a clear page with the right status', { timeout: TEST_MS },
                    (t) => badInput(t, viewport, js));
            });
    }
}
