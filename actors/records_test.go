package actors

import (
	"reflect"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// A failure written to the ledger and read back is the failure that was
// answered live, field for field, for every kind of spec section 3 and
// vector 9: nothing is rebuilt by guessing (issue 11, item 2).
func TestFailureSurvivesTheLedger(t *testing.T) {
	self, b, c := node(1), node(2), node(3)
	route := graph.Route{
		{ID: b, Channel: graph.NewSCID(1, 1, 1), Direction: 0, Amount: 1001, Delay: 15, Style: "tlv"},
		{ID: c, Channel: graph.NewSCID(2, 2, 2), Direction: 1, Amount: 1000, Delay: 9, Style: "tlv"},
	}
	kinds := []struct {
		name string
		f    payment.Failure
	}{
		// B reports temporary_channel_failure on BC, with its update.
		{"remote", payment.Failure{Code: 204, Message: "failed: WIRE_TEMPORARY_CHANNEL_FAILURE (reply from remote)",
			Routing: &htlc.RoutingFailure{ErringIndex: 1, OriginIndex: 0, ErringNode: b, ErringChannel: route[1].Channel,
				ErringDirection: 1, FailCode: lnwire.CodeTemporaryChannelFailure, ChannelUpdate: []byte{1, 2, 3}, RawMessage: []byte{0x10, 0x07}}}},
		// C reports incorrect_or_unknown_payment_details: 203.
		{"destination perm", payment.Failure{Code: 203, Message: "failed: WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS (reply from remote)",
			Routing: &htlc.RoutingFailure{ErringIndex: 2, OriginIndex: 1, ErringNode: c, Destination: true, ErringChannel: route[1].Channel,
				ErringDirection: 1, FailCode: lnwire.CodeIncorrectOrUnknownPaymentDetails, RawMessage: []byte{0x40, 0x0f}}}},
		// C reports final_incorrect_cltv_expiry, no PERM bit: 204.
		{"destination", payment.Failure{Code: 204, Message: "failed: WIRE_FINAL_INCORRECT_CLTV_EXPIRY (reply from remote)",
			Routing: &htlc.RoutingFailure{ErringIndex: 2, OriginIndex: 1, ErringNode: c, Destination: true, ErringChannel: route[1].Channel,
				ErringDirection: 1, FailCode: lnwire.CodeFinalIncorrectCltvExpiry, RawMessage: []byte{0, 18}}}},
		// B reports invalid_onion_hmac: C is blamed, on BC, yet C did not
		// report it (the case a reload used to print as 0:0:0).
		{"badonion", payment.Failure{Code: 204, Message: "failed: WIRE_INVALID_ONION_HMAC (reply from remote)",
			Routing: &htlc.RoutingFailure{ErringIndex: 1, OriginIndex: 0, ErringNode: c, ErringChannel: route[1].Channel,
				ErringDirection: 1, FailCode: lnwire.CodeInvalidOnionHmac, RawMessage: []byte{0xc0, 0x05}}}},
		// Our own channel refused it.
		{"local", payment.Failure{Code: 204, Message: "failed: WIRE_TEMPORARY_CHANNEL_FAILURE (no balance)",
			Routing: &htlc.RoutingFailure{ErringIndex: 0, OriginIndex: -1, ErringNode: self, ErringChannel: route[0].Channel,
				FailCode: lnwire.CodeTemporaryChannelFailure}}},
		// An onion nobody can read: 202.
		{"unparseable", payment.Failure{Code: 202, Message: "Malformed error reply", OnionReply: []byte{9, 9, 9}}},
	}
	for _, k := range kinds {
		now := time.Unix(1_800_000_000, 0)
		f := k.f
		rec := &payment.Record{Hash: [32]byte{7}, Destination: c, Amount: 1000, AmountSent: 1001, CreatedAt: now,
			CompletedAt: now.Add(time.Second), Status: payment.StatusFailed, Label: "l", Bolt11: "lnbcrt1", Failure: &f}
		p := toPayment(rec)
		enc, err := persistence.EncodePayment(&p)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := persistence.DecodePayment(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := fromPayment(&dp); !reflect.DeepEqual(got, rec) {
			t.Errorf("%s: the payment's failure read back differs:\n got %+v\nwant %+v", k.name, got.Failure.Routing, f.Routing)
		}
		a := toAttempt(rec, route, 5, 1)
		enc, err = persistence.EncodeAttempt(&a)
		if err != nil {
			t.Fatal(err)
		}
		da, err := persistence.DecodeAttempt(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := fromFailure(da.Failure); !reflect.DeepEqual(got, &f) {
			t.Errorf("%s: the attempt's failure read back differs:\n got %+v\nwant %+v", k.name, got.Routing, f.Routing)
		}
	}
}

// Every field of the routing failure object crosses to the ledger's form
// and back: a field added to htlc.RoutingFailure and forgotten by the
// conversions fails here.
func TestRoutingFailureConversionKeepsEveryField(t *testing.T) {
	full := &htlc.RoutingFailure{ErringIndex: 3, OriginIndex: 2, ErringNode: node(4), Destination: true,
		ErringChannel: graph.NewSCID(5, 6, 7), ErringDirection: 1, FailCode: lnwire.CodeFeeInsufficient,
		ChannelUpdate: []byte{1}, RawMessage: []byte{2}}
	v := reflect.ValueOf(*full)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("the test's object leaves %s zero: set it", v.Type().Field(i).Name)
		}
	}
	if got := fromRouting(routingOf(full)); !reflect.DeepEqual(got, full) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, full)
	}
}

func node(b byte) graph.NodeID {
	var n graph.NodeID
	n[0] = 2
	n[32] = b
	return n
}

// A pay's run goes through the ledger whole, maxparts included, while the
// row is pending or failed between attempts (maxparts 0, one path, is
// written as 1: 0 in the ledger means a record of before maxparts was
// kept); a complete row drops it. resumeInParts follows the recorded
// maxparts: 1 resumes on one path, a record without it in parts as before.
func TestPayRunSurvivesTheLedger(t *testing.T) {
	start := time.Unix(1_700_000_000, 123)
	params := payment.DefaultPayParams()
	params.MaxParts = 7
	for _, tc := range []struct {
		status   payment.Status
		maxParts int
		want     *payment.PayRun
	}{
		{payment.StatusPending, 7, &payment.PayRun{Params: params, Start: start}},
		{payment.StatusFailed, 7, &payment.PayRun{Params: params, Start: start}},
		{payment.StatusFailed, 0, &payment.PayRun{Params: func() payment.PayParams { p := params; p.MaxParts = 1; return p }(), Start: start}},
		{payment.StatusComplete, 7, nil},
	} {
		p := params
		p.MaxParts = tc.maxParts
		rec := &payment.Record{Hash: [32]byte{1}, Amount: 1000, Status: tc.status, CreatedAt: time.Unix(1_700_000_000, 0),
			Pay: &payment.PayRun{Params: p, Start: start}}
		mp := toPayment(rec)
		enc, err := persistence.EncodePayment(&mp)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := persistence.DecodePayment(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := fromPayment(&dp).Pay; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s, maxparts %d: pay run %+v, want %+v", tc.status, tc.maxParts, got, tc.want)
		}
	}
	big := &payment.Record{Amount: payment.SinglePathMax, Status: payment.StatusPending, Pay: &payment.PayRun{Params: params}}
	if !resumeInParts(big, nil) {
		t.Error("a pay of maxparts 7 between rounds is not resumed in parts")
	}
	big.Pay.Params.MaxParts = 1
	if resumeInParts(big, nil) {
		t.Error("a pay of maxparts 1 is resumed in parts")
	}
	big.Pay.Params.MaxParts = 0
	if !resumeInParts(big, nil) {
		t.Error("a record of before maxparts was kept is no longer resumed in parts")
	}
}
