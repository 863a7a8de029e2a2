// The finance staff's web console (docs/console.md#the-web-console) in Chromium, against a
// `feegate demo` that console.sh started: sign-in with a TOTP code computed here (RFC 6238,
// HMAC-SHA1 of the step, from the base32 secret in var/demo.env), a wrong password refused, a
// clerk asks for a write-off, the clerk's own approval refused, the approver approves it, a
// POST without the CSRF token refused, sign-out; axe-core on every page, no horizontal
// scroll at 375 px on the queue and the exception, sign-in and queue with JavaScript off.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import { DESKTOP, PHONE, checkPage, launch, mainText, newContext } from './lib.mjs';

function env(name) {
    const v = process.env[name];
    assert.ok(v, `${name} is not set: run through tests/browser/console.sh`);
    return v;
}

const C = env('FG_CONSOLE_URL');
const DAY = env('FG_DAY');
const CLERK = { user: env('FG_CLERK_USER'), password: env('FG_CLERK_PASSWORD'),
    secret: env('FG_CLERK_TOTP') };
const APPROVER = { user: env('FG_APPROVER_USER'), password: env('FG_APPROVER_PASSWORD'),
    secret: env('FG_APPROVER_TOTP') };
const TEST_MS = 120000;

function base32(s) {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let value = 0;
    const out = [];
    for (const ch of s.replace(/=+$/, '').toUpperCase()) {
        const i = abc.indexOf(ch);
        assert.ok(i >= 0, `not base32: ${s}`);
        value = (value << 5) | i;
        bits += 5;
        if (bits >= 8) {
            out.push((value >>> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return Buffer.from(out);
}

// The code of the 30 s step `ahead` steps from now (a code counts once: each sign-in of a
// member takes the next step, the database accepting the one after this one).
function totp(secret, ahead) {
    const step = BigInt(Math.floor(Date.now() / 30000) + ahead);
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(step);
    const h = crypto.createHmac('sha1', base32(secret)).update(msg).digest();
    const o = h[h.length - 1] & 0xf;
    const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
    return String(n % 1000000).padStart(6, '0');
}

let browser;
let clerkSteps = -1; // the clerk signs in twice: steps now, then now + 1

before(async () => {
    browser = await launch();
});

after(async () => {
    await browser?.close();
});

async function signIn(t, page, who, password, ahead, viewport, js) {
    await page.goto(`${C}/signin`);
    await checkPage(t, page, 'sign-in', viewport, js);
    await page.getByLabel('Tên đăng nhập').fill(who.user);
    await page.getByLabel('Mật khẩu').fill(password);
    await page.getByLabel('Mã xác thực (6 chữ số)').fill(totp(who.secret, ahead));
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
}

test('sign-in and the queue with JavaScript off; a wrong password refused', { timeout: TEST_MS },
    async (t) => {
        const ctx = await newContext(browser, DESKTOP, false);
        try {
            const page = await ctx.newPage();
            await signIn(t, page, CLERK, 'not-the-password-1', 0, DESKTOP, false);
            assert.match(await mainText(page), /Sai tên, mật khẩu hoặc mã xác thực/);
            await checkPage(t, page, 'sign-in refused', DESKTOP, false);
            assert.equal((await ctx.cookies()).filter((c) => c.name === 'fgc_session').length, 0);
            clerkSteps += 1;
            await signIn(t, page, CLERK, CLERK.password, clerkSteps, DESKTOP, false);
            await page.waitForURL(`${C}/days`);
            const cookie = (await ctx.cookies()).find((c) => c.name === 'fgc_session');
            assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/');
            await checkPage(t, page, 'days', DESKTOP, false);
            await page.getByRole('link', { name: DAY }).click();
            assert.match(await mainText(page), /Lệch số tiền/);
            await checkPage(t, page, 'queue', DESKTOP, false);
        } finally {
            await ctx.close();
        }
    });

test('a clerk asks for a write-off, cannot approve it; the approver does', { timeout: TEST_MS },
    async (t) => {
        const clerk = await newContext(browser, PHONE, true);
        const approver = await newContext(browser, DESKTOP, true);
        try {
            const page = await clerk.newPage();
            clerkSteps += 1;
            await signIn(t, page, CLERK, CLERK.password, clerkSteps, PHONE, true);
            await page.waitForURL(`${C}/days`);
            await page.goto(`${C}/days/${DAY}?category=amount_mismatch`);
            await checkPage(t, page, 'queue', PHONE, true);
            const first = page.locator('tbody a').first();
            const id = (await first.innerText()).trim();
            await first.click();
            await page.waitForURL(`${C}/exceptions/${id}`);
            assert.match(await mainText(page), /Lệch số tiền/);
            assert.doesNotMatch(await mainText(page), /amount_mismatch/);
            await checkPage(t, page, 'exception', PHONE, true);
            // A POST without the CSRF token (the browser's own cookie): 403, nothing asked.
            const bare = await page.request.post(`${C}/exceptions/${id}/resolve`,
                { form: { action: 'write_off', note: 'no token' }, maxRedirects: 0 });
            assert.equal(bare.status(), 403);
            await page.reload();
            assert.doesNotMatch(await mainText(page), /Chờ phê duyệt/);
            await page.getByLabel('Cách xử lý').selectOption('write_off');
            await page.getByLabel('Lý do').fill('lost in transit, ticket 4411');
            await page.getByRole('button', { name: 'Gửi' }).click();
            await page.waitForURL(`${C}/exceptions/${id}`);
            assert.match(await mainText(page), /Chờ phê duyệt/);
            await page.getByRole('button', { name: 'Phê duyệt' }).click();
            assert.match(await mainText(page), /Vai trò của bạn không được phép làm việc này/);
            await checkPage(t, page, 'refusal', PHONE, true);

            const ap = await approver.newPage();
            await signIn(t, ap, APPROVER, APPROVER.password, 0, DESKTOP, true);
            await ap.waitForURL(`${C}/days`);
            await checkPage(t, ap, 'days', DESKTOP, true);
            await ap.getByRole('link', { name: 'Hàng chờ duyệt' }).click();
            await checkPage(t, ap, 'approvals', DESKTOP, true);
            await ap.getByRole('link', { name: id, exact: true }).click();
            await ap.getByRole('button', { name: 'Phê duyệt' }).click();
            await ap.waitForURL(`${C}/exceptions/${id}`);
            assert.match(await mainText(ap), /Đã xử lý/);
            assert.match(await mainText(ap), new RegExp(APPROVER.user));
            await ap.getByRole('link', { name: 'Nhật ký kiểm toán' }).click();
            assert.match(await mainText(ap), /recon_approve|approve/);
            await checkPage(t, ap, 'audit log', DESKTOP, true);

            // Sign-out ends the session: the next page is the sign-in.
            await page.getByRole('button', { name: 'Đăng xuất' }).click();
            await page.waitForURL(`${C}/signin`);
            await page.goto(`${C}/days`);
            await page.waitForURL(`${C}/signin`);
        } finally {
            await clerk.close();
            await approver.close();
        }
    });
