package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/rpc"
)

// overTheWire is the *rpc.Error a client gets for the error the server
// sends: marshalled as the server writes it, read back as the client reads
// it (data left as raw JSON).
func overTheWire(t *testing.T, sent *rpc.Error) error {
	t.Helper()
	b, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	got := &rpc.Error{}
	if err := json.Unmarshal(b, got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestOutcomeOfRPC reads each shape of pay's answer as it crosses the
// socket: a success, 203's routing failure flattened with the payment's
// fields, 210's attempts (the last one's failcode wins, as in outcomeOf),
// errors without data or with data of another shape, and an error that is
// not the daemon's answer. Attempts stay -1 (unknown) except for 210.
func TestOutcomeOfRPC(t *testing.T) {
	routing := func(fc lnwire.FailCode) json.RawMessage {
		b, err := json.Marshal(htlc.RoutingFailure{ErringIndex: 2, OriginIndex: 1, FailCode: fc})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// 203 and 204 carry the failure object and the payment's fields as one
	// flat object (rpc's failureDataJSON).
	flat := routing(lnwire.CodeIncorrectOrUnknownPaymentDetails)
	flat = json.RawMessage(fmt.Sprintf(`%s,"id":7,"status":"failed","amount_msat":1000}`, flat[:len(flat)-1]))
	attempt := func(fail *rpc.Error) map[string]any {
		a := map[string]any{"route": []any{}}
		if fail != nil {
			a["failure"] = fail
		}
		return a
	}
	cases := []struct {
		name string
		res  payResultJSON
		err  error
		want Outcome
	}{
		{"complete", payResultJSON{Status: "complete", AmountMsat: 1000, AmountSentMsat: 1001}, nil,
			Outcome{Complete: true, AmountSent: 1001, Attempts: -1}},
		{"203", payResultJSON{}, overTheWire(t, &rpc.Error{Code: 203, Message: "failed", Data: flat}),
			Outcome{Code: 203, Message: "failed", FailCode: uint16(lnwire.CodeIncorrectOrUnknownPaymentDetails), Attempts: -1}},
		{"210", payResultJSON{}, overTheWire(t, &rpc.Error{Code: 210, Message: "gave up", Data: map[string]any{"attempts": []any{
			attempt(&rpc.Error{Code: 204, Message: "x", Data: routing(lnwire.CodeTemporaryChannelFailure)}),
			attempt(&rpc.Error{Code: 204, Message: "y", Data: routing(lnwire.CodeFeeInsufficient)})}}}),
			Outcome{Code: 210, Message: "gave up", FailCode: uint16(lnwire.CodeFeeInsufficient), Attempts: 2}},
		{"210, last attempt unreadable", payResultJSON{}, overTheWire(t, &rpc.Error{Code: 210, Message: "gave up", Data: map[string]any{"attempts": []any{
			attempt(&rpc.Error{Code: 204, Message: "x", Data: routing(lnwire.CodeTemporaryChannelFailure)}),
			attempt(&rpc.Error{Code: 202, Message: "y", Data: map[string]string{"onionreply": "00"}})}}}),
			Outcome{Code: 210, Message: "gave up", Attempts: 2}},
		{"205", payResultJSON{}, overTheWire(t, &rpc.Error{Code: 205, Message: "Could not find a route"}),
			Outcome{Code: 205, Message: "Could not find a route", Attempts: -1}},
		{"data of another shape", payResultJSON{}, overTheWire(t, &rpc.Error{Code: 206, Message: "too dear", Data: "fee"}),
			Outcome{Code: 206, Message: "too dear", Attempts: -1}},
		{"refused params", payResultJSON{}, overTheWire(t, &rpc.Error{Code: rpc.CodeInvalidParams, Message: "bad"}),
			Outcome{Code: rpc.CodeInvalidParams, Message: "bad", Attempts: -1}},
		{"no answer", payResultJSON{}, fmt.Errorf("rpc: connection closed: %w", errors.New("EOF")),
			Outcome{Code: -1, Message: "rpc: connection closed: EOF", Attempts: -1}},
		{"pending without error", payResultJSON{Status: "pending"}, nil,
			Outcome{Code: -1, Message: `pay answered status "pending" without an error`, Attempts: -1}},
	}
	for i, c := range cases {
		if got := outcomeOfRPC(c.res, c.err); got != c.want {
			t.Errorf("#%d %s: %+v, want %+v", i, c.name, got, c.want)
		}
	}
}

// TestPayParams: pay's parameters under Core Lightning's names, retry_for
// in whole seconds rounded up (pay never gets less time than asked).
func TestPayParams(t *testing.T) {
	p := payment.DefaultPayParams()
	p.RiskFactor, p.ExemptFee = 2.5, graph.MilliSat(7000)
	for _, c := range []struct {
		retry time.Duration
		want  uint32
	}{{0, 0}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {time.Minute, 60}} {
		p.RetryFor = c.retry
		got := payParams("lnbcrt1x", "l", p)
		if got.RetryFor != c.want || got.RiskFactor != 2.5 || got.ExemptFee != 7000 || got.MaxDelay != p.MaxDelay ||
			got.MaxFeePercent != p.MaxFeePercent || got.Bolt11 != "lnbcrt1x" || got.Label != "l" {
			t.Errorf("retry_for %s: %+v, want retry_for %d", c.retry, got, c.want)
		}
	}
	b, err := json.Marshal(payParams("b", "l", p))
	if err != nil {
		t.Fatal(err)
	}
	var named map[string]any
	if err := json.Unmarshal(b, &named); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bolt11", "label", "riskfactor", "maxfeepercent", "retry_for", "maxdelay", "exemptfee"} {
		if _, ok := named[k]; !ok {
			t.Errorf("pay's params lack %s: %s", k, b)
		}
	}
}
