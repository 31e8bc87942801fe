package simnet

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

// invoice is what a destination keeps of an invoice it issued.
type invoice struct {
	node     int32
	amount   graph.MilliSat // 0: any amount
	preimage [32]byte
	secret   [32]byte
	minFinal uint32
	expires  int64  // unix seconds; paying is refused when now > expires
	draw     uint64 // a durable network's draw number (invoiceDraw)
}

// Invoice makes node issue a BOLT 11 invoice for the regtest network,
// signed with its simnet key: amount 0 asks for any amount, expiry 0 means
// htlc.DefaultInvoiceExpiry, now is its timestamp. The preimage and payment
// secret are drawn from the seeded source (a durable network derives them
// from its directory's salt, the seed and a draw number that never repeats
// there, and returns the invoice once it is on disk), and min_final_cltv_expiry is
// Options.MinFinalCLTV. The node settles HTLCs for it until it expires
// (against Now).
func (n *Net) Invoice(node graph.NodeID, amount graph.MilliSat, description string, expiry time.Duration, now time.Time) (string, error) {
	i, err := n.node(node)
	if err != nil {
		return "", err
	}
	if expiry == 0 {
		expiry = htlc.DefaultInvoiceExpiry
	}
	inv := &invoice{node: i, amount: amount, minFinal: n.opts.MinFinalCLTV,
		expires: now.Unix() + int64(expiry/time.Second)}
	n.rngMu.Lock()
	if n.store != nil {
		inv.draw = n.draws
		n.draws++
		inv.preimage, inv.secret = invoiceDraw(n.salt, n.opts.Seed, inv.draw)
	} else {
		fill(n, inv.preimage[:])
		fill(n, inv.secret[:])
	}
	n.rngMu.Unlock()
	hash := sha256.Sum256(inv.preimage[:])
	s, err := htlc.EncodeInvoice(htlc.InvoiceParams{
		Network:            htlc.Regtest,
		Amount:             amount,
		PaymentHash:        hash,
		PaymentSecret:      inv.secret,
		Description:        description,
		MinFinalCLTVExpiry: inv.minFinal,
		Expiry:             expiry,
		Timestamp:          now,
	}, n.keys[i])
	if err != nil {
		return "", fmt.Errorf("simnet: invoice: %w", err)
	}
	if err := n.persist(storeOp{kind: opSet, key: keyHash(prefixInvoice, hash), value: encodeInvoice(storedInvoice{inv: *inv})}); err != nil {
		return "", err
	}
	n.invMu.Lock()
	n.invoices[hash] = inv
	n.invMu.Unlock()
	return s, nil
}

// fill draws random bytes from the seeded source; the caller holds rngMu.
func fill(n *Net, b []byte) {
	for i := range b {
		b[i] = byte(n.rng.Uint32())
	}
}

// settle is what the destination does with an HTLC whose onion says it is
// the last hop (BOLT 4 final node checks): it fails with
// incorrect_or_unknown_payment_details for an unknown hash, a missing or
// wrong payment secret, a total_msat outside [invoice, 2*invoice] (>= 1 for
// any-amount), an HTLC larger than total_msat, an expiry below height +
// min_final_cltv_expiry or an expired invoice; with
// final_incorrect_htlc_amount when amt_to_forward is not the HTLC amount
// and final_incorrect_cltv_expiry when outgoing_cltv_value is not the HTLC
// expiry. Otherwise the HTLC is a part of its payment's HTLC set (mpp.go):
// one that carries the whole total settles at once, releasing the
// preimage and recording the delivery; others are held until the set is
// complete or times out. It settles an invoice again if paid again, so a
// double payment shows in the ground truth. The outcome goes to k.
func (n *Net) settle(node int32, in *incoming, peeled *htlc.PeeledOnion, k func(outcome)) {
	p := peeled.Payload
	height := n.Height()
	n.invMu.RLock()
	inv := n.invoices[in.hash]
	n.invMu.RUnlock()
	var msg lnwire.FailureMessage
	details := lnwire.NewFailIncorrectDetails(lnwire.MilliSatoshi(in.amount), height)
	var total graph.MilliSat
	if p.PaymentData != nil {
		total = p.PaymentData.TotalMsat
	}
	switch {
	case inv == nil || inv.node != node:
		msg = details
	case p.PaymentData == nil || p.PaymentData.Secret != inv.secret:
		msg = details
	case p.AmountToForward != in.amount:
		msg = lnwire.NewFinalIncorrectHtlcAmount(lnwire.MilliSatoshi(in.amount))
	case p.OutgoingCLTV != in.expiry:
		msg = lnwire.NewFinalIncorrectCltvExpiry(in.expiry)
	case uint64(in.expiry) < uint64(height)+uint64(inv.minFinal):
		msg = details
	case in.amount > total:
		msg = details
	case inv.amount == 0 && total < 1,
		inv.amount > 0 && (total < inv.amount || total/2 > inv.amount ||
			total/2 == inv.amount && total%2 == 1):
		msg = details
	case n.Now().Unix() > inv.expires:
		msg = details
	}
	if msg != nil {
		k(n.fail(peeled.SharedSecret, msg))
		return
	}
	n.collect(in, peeled.SharedSecret, total, inv.preimage, k)
}

// CancelInvoice makes the invoice's node forget it, as CLN's delinvoice
// does: HTLCs for the hash then fail with
// incorrect_or_unknown_payment_details. It reports whether the invoice
// was known. A durable network keeps the invoice as cancelled.
func (n *Net) CancelInvoice(hash [32]byte) bool {
	n.invMu.Lock()
	inv, ok := n.invoices[hash]
	delete(n.invoices, hash)
	var w *storeWrite
	if ok && n.store != nil {
		w = n.store.submit(storeOp{kind: opSet, key: keyHash(prefixInvoice, hash),
			value: encodeInvoice(storedInvoice{inv: *inv, cancelled: true})})
	}
	n.invMu.Unlock()
	if w != nil {
		if err := w.wait(); err != nil {
			n.broke(err)
		}
	}
	return ok
}
