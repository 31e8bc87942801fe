// Decodes BOLT 11 invoices with the npm package "bolt11", an implementation
// independent of lnd's zpay32, for htlc's cross-check test.
// Usage: node bolt11-decode.js <dir containing node_modules> < invoices.json
// stdin: JSON array of invoice strings. stdout: JSON array, one object each:
// {payee, amount_msat, payment_hash, expiry, min_final_cltv, timestamp,
//  payment_secret, description, error}.
'use strict';
const path = require('path');
const bolt11 = require(path.join(process.argv[2], 'node_modules', 'bolt11'));

let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((inv) => {
    try {
      const d = bolt11.decode(inv);
      const tag = (name) => {
        const t = d.tags.find((x) => x.tagName === name);
        return t === undefined ? null : t.data;
      };
      return {
        payee: d.payeeNodeKey,
        amount_msat: d.millisatoshis === null || d.millisatoshis === undefined ? null : String(d.millisatoshis),
        payment_hash: tag('payment_hash'),
        expiry: tag('expire_time'),
        min_final_cltv: tag('min_final_cltv_expiry'),
        timestamp: d.timestamp,
        payment_secret: tag('payment_secret'),
        description: tag('description'),
        error: null,
      };
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
