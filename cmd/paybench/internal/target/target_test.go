package target

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
)

// TestOutcomeOf reads each shape of pay's answer: a completed record, a
// 204 with its routing failure, a 210 with its attempts, a 205 with
// neither, and an error that is not Core Lightning's.
func TestOutcomeOf(t *testing.T) {
	fail := func(code lnwire.FailCode) *payment.Failure {
		return &payment.Failure{Code: 204, Routing: &htlc.RoutingFailure{FailCode: code}}
	}
	cases := []struct {
		name string
		rec  *payment.Record
		err  error
		want Outcome
	}{
		{"complete", &payment.Record{Status: payment.StatusComplete, Amount: 1000, AmountSent: 1001}, nil,
			Outcome{Complete: true, AmountSent: 1001}},
		{"204", nil, &payment.Error{Code: 204, Message: "failed", Data: payment.FailureData{Routing: fail(lnwire.CodeUnknownNextPeer).Routing}},
			Outcome{Code: 204, Message: "failed", FailCode: uint16(lnwire.CodeUnknownNextPeer)}},
		{"210", nil, &payment.Error{Code: 210, Message: "gave up", Data: payment.PayFailureData{Attempts: []payment.PayAttempt{
			{Failure: fail(lnwire.CodeTemporaryChannelFailure)}, {Failure: fail(lnwire.CodeFeeInsufficient)}}}},
			Outcome{Code: 210, Message: "gave up", FailCode: uint16(lnwire.CodeFeeInsufficient), Attempts: 2}},
		{"205", nil, &payment.Error{Code: 205, Message: "Could not find a route"}, Outcome{Code: 205, Message: "Could not find a route"}},
		{"not CLN", nil, errors.New("engine stopped"), Outcome{Code: -1, Message: "engine stopped"}},
		{"pending record", &payment.Record{Status: payment.StatusPending}, nil,
			Outcome{Code: -1, Message: "pay returned without a completed record"}},
	}
	for _, c := range cases {
		if got := outcomeOf(c.rec, c.err); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestSocketPath: a data directory means its lightning-rpc socket; a
// path that is not a directory is the socket; a missing one is an error.
func TestSocketPath(t *testing.T) {
	dir := t.TempDir()
	if got, err := SocketPath(dir); err != nil || got != filepath.Join(dir, "lightning-rpc") {
		t.Errorf("directory: %s, %v", got, err)
	}
	sock := filepath.Join(dir, "sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := SocketPath(sock); err != nil || got != sock {
		t.Errorf("file: %s, %v", got, err)
	}
	if _, err := SocketPath(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path: no error")
	}
	if _, err := DialRPC(context.Background(), sock, ""); err == nil || !strings.Contains(err.Error(), "is payd running?") {
		t.Errorf("DialRPC on a file that is no socket: %v", err)
	}
}

// TestQuantile checks the interpolation inside histogram buckets against
// hand-computed values.
func TestQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4, 8}
	cum := []uint64{10, 30, 30, 40} // 10 in (0,1], 20 in (1,2], 10 in (4,8]
	for _, tc := range []struct{ q, want float64 }{
		{0.1, 0.4}, {0.25, 1}, {0.5, 1.5}, {0.75, 2}, {0.875, 6}, {1, 8},
	} {
		if got, over := Quantile(tc.q, bounds, cum, 40); got < tc.want-1e-9 || got > tc.want+1e-9 || over {
			t.Errorf("q %g: %g (over %v), want %g", tc.q, got, over, tc.want)
		}
	}
	if got, over := Quantile(0.99, bounds, cum, 50); got != 8 || !over { // in the +Inf bucket
		t.Errorf("in +Inf: %g, over %v", got, over)
	}
	if got, _ := Quantile(0.5, nil, nil, 0); got != 0 {
		t.Error("empty histogram")
	}
}
