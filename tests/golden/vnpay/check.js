// The library side of the VNPAY cross-check (see ../CMakeLists.txt): the vnpay npm package
// (lehuygiang28/vnpay), an implementation we did not write, (a) verifies and rebuilds the
// payment URLs our adapter built, byte for byte, and (b) signs IPN query strings that our
// adapter must accept (and tampered ones it must refuse). No network access.
'use strict';

const fs = require('fs');
const { VNPay } = require('vnpay');
const { buildPaymentUrlSearchParams, calculateSecureHash } = require('vnpay/utils');

const SECRET = 'VNPAYTESTSECRETKEY0123456789ABCD';
const config = {
  vnpayHost: 'https://sandbox.vnpayment.vn',
  tmnCode: 'DEMOTMN1',
  secureSecret: SECRET,
  hashAlgorithm: 'SHA512',
  enableLog: false,
};
const vnpay = new VNPay(config);
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

// (a) Our URLs: verified by the library, and identical to the URL it builds from the same
// inputs.
function checkOurs(path) {
  const urls = fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  check(urls.length >= 4, `${urls.length} urls from our adapter`);
  for (const line of urls) {
    const url = new URL(line);
    const query = Object.fromEntries(url.searchParams);
    const ref = query.vnp_TxnRef;
    check(vnpay.verifyReturnUrl(query).isVerified === true, `library verifies our url ${ref}`);
    const tampered = { ...query, vnp_Amount: String(Number(query.vnp_Amount) + 100) };
    check(vnpay.verifyReturnUrl(tampered).isVerified === false, `library refuses it tampered ${ref}`);
    const input = {
      vnp_Amount: Number(query.vnp_Amount) / 100,
      vnp_IpAddr: query.vnp_IpAddr,
      vnp_TxnRef: query.vnp_TxnRef,
      vnp_OrderInfo: query.vnp_OrderInfo,
      vnp_OrderType: query.vnp_OrderType,
      vnp_ReturnUrl: query.vnp_ReturnUrl,
      vnp_Locale: query.vnp_Locale,
      vnp_CreateDate: Number(query.vnp_CreateDate),
      vnp_ExpireDate: Number(query.vnp_ExpireDate),
    };
    if (query.vnp_BankCode !== undefined) input.vnp_BankCode = query.vnp_BankCode;
    const theirs = vnpay.buildPaymentUrl(input);
    check(theirs === line, `library builds the same url ${ref}`);
    if (theirs !== line) console.log(`  ours:   ${line}\n  theirs: ${theirs}`);
  }
}

// (b) IPN query strings signed with the library's own sorting, encoding and HMAC.
function signed(params, secret) {
  const data = buildPaymentUrlSearchParams(params).toString();
  const hash = calculateSecureHash({ secureSecret: secret, data, hashAlgorithm: 'SHA512', bufferEncode: 'utf-8' });
  return { query: `${data}&vnp_SecureHash=${hash}`, hash };
}

function writeTheirs(path) {
  const ipn = {
    vnp_Amount: '125000000',
    vnp_BankCode: 'NCB',
    vnp_BankTranNo: 'VNP14226112',
    vnp_CardType: 'ATM',
    vnp_OrderInfo: 'Thanh toan le phi ho so: HS-2024-000123',
    vnp_PayDate: '20240115103812',
    vnp_ResponseCode: '00',
    vnp_TmnCode: 'DEMOTMN1',
    vnp_TransactionNo: '14226112',
    vnp_TransactionStatus: '00',
    vnp_TxnRef: 'HS2024000123',
  };
  const cases = [
    ['ok', ipn],
    ['ok', { ...ipn, vnp_OrderInfo: 'Lệ phí hồ sơ: HS-1 / 2024 & phí #2 = 50%', vnp_TxnRef: 'HS-1_x' }],
    ['ok', { ...ipn, vnp_ResponseCode: '24', vnp_TransactionStatus: '02', vnp_TransactionNo: '0' }],
    ['ok', { ...ipn, vnp_NewField: 'added by VNPAY later', vnp_Empty: '' }],
  ];
  const lines = [];
  for (const [want, params] of cases) {
    const s = signed(params, SECRET);
    const back = Object.fromEntries(new URLSearchParams(s.query));
    check(vnpay.verifyIpnCall(back).isVerified === true, `library verifies its own ipn ${params.vnp_TxnRef}`);
    lines.push(`${want} ${s.query}`);
  }
  const s = signed(ipn, SECRET);
  lines.push(`auth ${s.query.replace('vnp_Amount=125000000', 'vnp_Amount=125000100')}`);
  lines.push(`auth ${signed(ipn, 'another secret').query}`);
  lines.push(`auth ${s.query.replace('vnp_ResponseCode=00', 'vnp_ResponseCode=00&vnp_Extra=1')}`);
  fs.writeFileSync(path, `${lines.join('\n')}\n`);
}

if (process.argv.length !== 4) {
  console.error('usage: node check.js OURS.txt THEIRS.txt');
  process.exit(2);
}
checkOurs(process.argv[2]);
writeTheirs(process.argv[3]);
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
