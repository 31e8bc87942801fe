package lndnode

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// This file holds the pure translations between payengine's types and
// lnd's gRPC messages: routes, outcomes, failures, the graph, channels.

// lndRoute turns the HTLC the engine chose into the route SendToRouteV2
// takes: every hop with its node's pub_key, amount to forward and outgoing
// CLTV exactly as our own onion would carry them (htlc.RoutePayloads), the
// final hop with the payment secret and total in its mpp_record.
func lndRoute(req link.AddHTLC) (*lnrpc.Route, error) {
	if len(req.Route) == 0 {
		return nil, htlc.ErrEmptyRoute
	}
	payloads, err := htlc.RoutePayloads(htlc.OnionParams{Route: req.Route, PaymentHash: req.PaymentHash,
		PaymentSecret: req.PaymentSecret, TotalMsat: req.Total, BlockHeight: req.BlockHeight})
	if err != nil {
		return nil, fmt.Errorf("lndnode: route: %w", err)
	}
	expiry, err := htlc.AbsoluteCLTV(req.BlockHeight, req.Route[0].Delay)
	if err != nil {
		return nil, fmt.Errorf("lndnode: route: %w", err)
	}
	last := len(req.Route) - 1
	r := &lnrpc.Route{
		TotalTimeLock: expiry,
		TotalAmtMsat:  int64(req.Route[0].Amount),
		TotalAmt:      int64(req.Route[0].Amount / 1000),
		TotalFeesMsat: int64(req.Route[0].Amount - req.Route[last].Amount),
		TotalFees:     int64((req.Route[0].Amount - req.Route[last].Amount) / 1000),
	}
	for i, h := range req.Route {
		p := payloads[i]
		fee := graph.MilliSat(0)
		if i < last {
			fee = h.Amount - req.Route[i+1].Amount
		}
		hop := &lnrpc.Hop{
			ChanId:           uint64(h.Channel),
			AmtToForwardMsat: int64(p.AmountToForward),
			AmtToForward:     int64(p.AmountToForward / 1000),
			FeeMsat:          int64(fee),
			Fee:              int64(fee / 1000),
			Expiry:           p.OutgoingCLTV,
			PubKey:           h.ID.String(),
			TlvPayload:       true,
		}
		if p.PaymentData != nil {
			hop.MppRecord = &lnrpc.MPPRecord{PaymentAddr: append([]byte(nil), p.PaymentData.Secret[:]...),
				TotalAmtMsat: int64(p.PaymentData.TotalMsat)}
		}
		r.Hops = append(r.Hops, hop)
	}
	return r, nil
}

// sameRoute reports whether lnd's route of an attempt is the HTLC req
// describes: the same channels, nodes and amounts, and the same CLTV
// deltas between hops (the absolute expiries depend on the height it was
// sent at, which a restart does not know).
func sameRoute(r *lnrpc.Route, req link.AddHTLC) bool {
	if r == nil || len(r.Hops) != len(req.Route) || len(req.Route) == 0 {
		return false
	}
	last := len(req.Route) - 1
	if r.TotalAmtMsat != int64(req.Route[0].Amount) {
		return false
	}
	for i, h := range req.Route {
		lh := r.Hops[i]
		want := req.Route[last].Amount
		if i < last {
			want = req.Route[i+1].Amount
		}
		if lh.ChanId != uint64(h.Channel) || lh.PubKey != h.ID.String() || lh.AmtToForwardMsat != int64(want) {
			return false
		}
	}
	// total_time_lock is height+1+route[0].Delay, hop i's expiry
	// height+1+route[i+1].Delay (the last: route[last].Delay).
	for i := range req.Route {
		next := req.Route[last].Delay
		if i < last {
			next = req.Route[i+1].Delay
		}
		if int64(r.TotalTimeLock)-int64(r.Hops[i].Expiry) != int64(req.Route[0].Delay)-int64(next) {
			return false
		}
	}
	return true
}

// matchAttempt picks, among a payment's attempts, the one req describes:
// one still in flight first, else the latest that matches. nil: none does,
// so the HTLC never left.
func matchAttempt(atts []*lnrpc.HTLCAttempt, req link.AddHTLC) *lnrpc.HTLCAttempt {
	var best *lnrpc.HTLCAttempt
	for _, a := range atts {
		if !sameRoute(a.Route, req) {
			continue
		}
		switch {
		case a.Status == lnrpc.HTLCAttempt_IN_FLIGHT:
			return a
		case best == nil || a.AttemptTimeNs > best.AttemptTimeNs:
			best = a
		}
	}
	return best
}

// errBadPreimage: lnd reported a preimage that does not hash to the
// payment hash.
var errBadPreimage = errors.New("lndnode: preimage does not match the payment hash")

// outcome turns a resolved attempt into the link's Result; ok is false
// while it is still in flight.
func outcome(id uint64, hash [32]byte, a *lnrpc.HTLCAttempt) (res link.Result, ok bool) {
	res.ID = id
	switch a.Status {
	case lnrpc.HTLCAttempt_SUCCEEDED:
		var pre [32]byte
		if len(a.Preimage) != 32 || sha256.Sum256(a.Preimage) != hash {
			// Not a settlement we can prove: report it as a failure of
			// the destination's making rather than invent a preimage.
			res.Sourced = &link.Sourced{Unreadable: true, Detail: fmt.Sprintf("%v: %x", errBadPreimage, a.Preimage)}
			return res, true
		}
		copy(pre[:], a.Preimage)
		res.Preimage = &pre
		return res, true
	case lnrpc.HTLCAttempt_FAILED:
		res.Sourced = sourced(a.Failure)
		return res, true
	}
	return res, false
}

// sourced turns lnd's failure of an attempt into the link's decoded form.
func sourced(f *lnrpc.Failure) *link.Sourced {
	if f == nil {
		return &link.Sourced{Unreadable: true, Detail: "lnd gave no failure"}
	}
	if f.Code == lnrpc.Failure_UNREADABLE_FAILURE {
		return &link.Sourced{Unreadable: true, Detail: "lnd could not read the failure onion"}
	}
	msg, err := failureMessage(f)
	if err != nil {
		// lnd's own internal failure, or one it could not decode: ours
		// (index 0) or the hop's, as a temporary failure of the node.
		msg = &lnwire.FailTemporaryNodeFailure{}
	}
	var b bytes.Buffer
	if err := lnwire.EncodeFailureMessage(&b, msg, 0); err != nil {
		return &link.Sourced{Unreadable: true, Detail: fmt.Sprintf("lndnode: encode %T: %v", msg, err)}
	}
	s := &link.Sourced{Index: int(f.FailureSourceIndex), Message: b.Bytes()}
	if err != nil {
		s.Detail = err.Error()
	} else if f.FailureSourceIndex == 0 {
		s.Detail = "refused by lnd"
	}
	return s
}

// failureMessage rebuilds the BOLT 4 failure message lnd decoded, from its
// failure code enum and fields (the inverse of lnd's marshallWireError);
// the channel_update is rebuilt with its signature, which the payer checks
// against the reporting node before the graph uses it. Fields lnd does not
// report (incorrect_or_unknown_payment_details' htlc_msat) are zero.
func failureMessage(f *lnrpc.Failure) (lnwire.FailureMessage, error) {
	upd := func() (*lnwire.ChannelUpdate1, error) {
		if f.ChannelUpdate == nil {
			return nil, fmt.Errorf("lndnode: %s without its channel_update", f.Code)
		}
		return channelUpdate(f.ChannelUpdate)
	}
	var sha [32]byte
	copy(sha[:], f.OnionSha_256)
	switch f.Code {
	case lnrpc.Failure_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS:
		return lnwire.NewFailIncorrectDetails(0, f.Height), nil
	case lnrpc.Failure_INCORRECT_PAYMENT_AMOUNT:
		return &lnwire.FailIncorrectPaymentAmount{}, nil
	case lnrpc.Failure_FINAL_INCORRECT_CLTV_EXPIRY:
		return lnwire.NewFinalIncorrectCltvExpiry(f.CltvExpiry), nil
	case lnrpc.Failure_FINAL_INCORRECT_HTLC_AMOUNT:
		return lnwire.NewFinalIncorrectHtlcAmount(lnwire.MilliSatoshi(f.HtlcMsat)), nil
	case lnrpc.Failure_FINAL_EXPIRY_TOO_SOON:
		return &lnwire.FailFinalExpiryTooSoon{}, nil
	case lnrpc.Failure_INVALID_REALM:
		return &lnwire.FailInvalidRealm{}, nil
	case lnrpc.Failure_EXPIRY_TOO_SOON:
		u, err := upd()
		if err != nil {
			return nil, err
		}
		return lnwire.NewExpiryTooSoon(*u), nil
	case lnrpc.Failure_EXPIRY_TOO_FAR:
		return &lnwire.FailExpiryTooFar{}, nil
	case lnrpc.Failure_INVALID_ONION_VERSION:
		return &lnwire.FailInvalidOnionVersion{OnionSHA256: sha}, nil
	case lnrpc.Failure_INVALID_ONION_HMAC:
		return &lnwire.FailInvalidOnionHmac{OnionSHA256: sha}, nil
	case lnrpc.Failure_INVALID_ONION_KEY:
		return &lnwire.FailInvalidOnionKey{OnionSHA256: sha}, nil
	case lnrpc.Failure_AMOUNT_BELOW_MINIMUM:
		u, err := upd()
		if err != nil {
			return nil, err
		}
		return lnwire.NewAmountBelowMinimum(lnwire.MilliSatoshi(f.HtlcMsat), *u), nil
	case lnrpc.Failure_FEE_INSUFFICIENT:
		u, err := upd()
		if err != nil {
			return nil, err
		}
		return lnwire.NewFeeInsufficient(lnwire.MilliSatoshi(f.HtlcMsat), *u), nil
	case lnrpc.Failure_INCORRECT_CLTV_EXPIRY:
		u, err := upd()
		if err != nil {
			return nil, err
		}
		return lnwire.NewIncorrectCltvExpiry(f.CltvExpiry, *u), nil
	case lnrpc.Failure_CHANNEL_DISABLED:
		u, err := upd()
		if err != nil {
			return nil, err
		}
		return lnwire.NewChannelDisabled(uint16(f.Flags), *u), nil
	case lnrpc.Failure_TEMPORARY_CHANNEL_FAILURE:
		var u *lnwire.ChannelUpdate1
		if f.ChannelUpdate != nil {
			var err error
			if u, err = channelUpdate(f.ChannelUpdate); err != nil {
				return nil, err
			}
		}
		return lnwire.NewTemporaryChannelFailure(u), nil
	case lnrpc.Failure_REQUIRED_NODE_FEATURE_MISSING:
		return &lnwire.FailRequiredNodeFeatureMissing{}, nil
	case lnrpc.Failure_REQUIRED_CHANNEL_FEATURE_MISSING:
		return &lnwire.FailRequiredChannelFeatureMissing{}, nil
	case lnrpc.Failure_UNKNOWN_NEXT_PEER:
		return &lnwire.FailUnknownNextPeer{}, nil
	case lnrpc.Failure_TEMPORARY_NODE_FAILURE:
		return &lnwire.FailTemporaryNodeFailure{}, nil
	case lnrpc.Failure_PERMANENT_NODE_FAILURE:
		return &lnwire.FailPermanentNodeFailure{}, nil
	case lnrpc.Failure_PERMANENT_CHANNEL_FAILURE:
		return &lnwire.FailPermanentChannelFailure{}, nil
	case lnrpc.Failure_MPP_TIMEOUT:
		return &lnwire.FailMPPTimeout{}, nil
	case lnrpc.Failure_INVALID_ONION_PAYLOAD:
		return lnwire.NewInvalidOnionPayload(0, 0), nil
	case lnrpc.Failure_INVALID_ONION_BLINDING:
		return &lnwire.FailInvalidBlinding{OnionSHA256: sha}, nil
	}
	return nil, fmt.Errorf("lndnode: lnd failure %s (%d) has no BOLT 4 message", f.Code, int32(f.Code))
}

// channelUpdate rebuilds the channel_update lnd decoded, signature
// included.
func channelUpdate(u *lnrpc.ChannelUpdate) (*lnwire.ChannelUpdate1, error) {
	sig, err := lnwire.NewSigFromWireECDSA(u.Signature)
	if err != nil {
		return nil, fmt.Errorf("lndnode: channel_update signature: %w", err)
	}
	var chain chainhash.Hash
	copy(chain[:], u.ChainHash)
	return &lnwire.ChannelUpdate1{
		Signature:       sig,
		ChainHash:       chain,
		ShortChannelID:  lnwire.NewShortChanIDFromInt(u.ChanId),
		Timestamp:       u.Timestamp,
		MessageFlags:    lnwire.ChanUpdateMsgFlags(u.MessageFlags),
		ChannelFlags:    lnwire.ChanUpdateChanFlags(u.ChannelFlags),
		TimeLockDelta:   uint16(u.TimeLockDelta),
		HtlcMinimumMsat: lnwire.MilliSatoshi(u.HtlcMinimumMsat),
		BaseFee:         u.BaseFee,
		FeeRate:         u.FeeRate,
		HtlcMaximumMsat: lnwire.MilliSatoshi(u.HtlcMaximumMsat),
		ExtraOpaqueData: u.ExtraOpaqueData,
	}, nil
}

// nodeID parses a hex public key as lnd prints it.
func nodeID(s string) (graph.NodeID, error) {
	var id graph.NodeID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("lndnode: node id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

// policy turns lnd's routing policy into the graph's (nil stays nil: no
// channel_update known for that direction).
func policy(p *lnrpc.RoutingPolicy) *graph.Policy {
	if p == nil {
		return nil
	}
	return &graph.Policy{
		BaseMsat:   uint32(p.FeeBaseMsat),
		FeePPM:     uint32(p.FeeRateMilliMsat),
		CLTVDelta:  uint16(p.TimeLockDelta),
		HTLCMin:    graph.MilliSat(p.MinHtlc),
		HTLCMax:    graph.MilliSat(p.MaxHtlcMsat),
		Disabled:   p.Disabled,
		LastUpdate: p.LastUpdate,
	}
}

// htlcWeight is the weight one more HTLC output adds to a commitment
// (BOLT 3: 172).
const htlcWeight = 172

// spendable estimates what our side of an lnd channel can send in one
// more HTLC: the local balance minus the reserve we must keep and, when we
// opened it (we pay the commitment fee), the fee of one more HTLC output.
// lnd's own refusal is the truth when this is off.
func spendable(c *lnrpc.Channel) graph.MilliSat {
	bal := c.LocalBalance
	if c.LocalConstraints != nil {
		bal -= int64(c.LocalConstraints.ChanReserveSat)
	} else {
		bal -= c.LocalChanReserveSat
	}
	if c.Initiator {
		bal -= c.FeePerKw * htlcWeight / 1000
	}
	if bal <= 0 {
		return 0
	}
	return graph.MilliSat(bal) * 1000
}

// slots is how many more HTLCs our side of the channel may offer: the
// smaller max_accepted_htlcs of the two sides' constraints, minus our
// outgoing HTLCs pending.
func slots(c *lnrpc.Channel) int {
	limit := uint32(483)
	for _, k := range []*lnrpc.ChannelConstraints{c.LocalConstraints, c.RemoteConstraints} {
		if k != nil && k.MaxAcceptedHtlcs > 0 && k.MaxAcceptedHtlcs < limit {
			limit = k.MaxAcceptedHtlcs
		}
	}
	n := int(limit)
	for _, h := range c.PendingHtlcs {
		if !h.Incoming {
			n--
		}
	}
	return max(n, 0)
}
