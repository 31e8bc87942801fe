package rpc

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/simnet"
)

type truthJSON struct {
	Settlements   int    `json:"settlements"`
	Parts         int    `json:"parts"`
	DeliveredMsat uint64 `json:"delivered_msat"`
	HTLCs         int    `json:"htlcs"`
}

// simnet-fault makes a node fail what it gets until healed, and
// simnet-truth shows the HTLCs our node added and what was settled.
func TestSimnetFaultAndTruth(t *testing.T) {
	r := sub300Rig(t)
	dests := r.payable(t, 2, 10_000, 0)
	dest := dests[0]

	r.ok(t, "simnet-fault", map[string]any{"node": dest, "node_failure": true}, nil)
	inv := r.invoice(t, dest, 10_000, nil)
	// One HTLC on one route, failed by dest.
	r.ok(t, "sendpay", map[string]any{"route": r.route(t, dest, 10_000), "payment_hash": inv.PaymentHash,
		"bolt11": inv.Bolt11}, nil)
	if _, e := r.call(t, "waitsendpay", map[string]any{"payment_hash": inv.PaymentHash}); e == nil {
		t.Fatal("a payment to a node that fails every HTLC succeeded")
	}
	var truth truthJSON
	r.ok(t, "simnet-truth", map[string]any{"payment_hash": inv.PaymentHash}, &truth)
	if truth != (truthJSON{HTLCs: 1}) {
		t.Fatalf("truth of a payment to a failing node: %+v", truth)
	}

	r.ok(t, "simnet-fault", map[string]any{"node": dest}, nil) // heals
	if f := r.n.Faults(); len(f) != 0 {
		t.Fatalf("faults after healing: %v", f)
	}
	// The payer now avoids dest for a while: pay another node.
	inv = r.invoice(t, dests[1], 10_000, nil)
	r.ok(t, "pay", map[string]any{"bolt11": inv.Bolt11}, nil)
	r.ok(t, "simnet-truth", []any{inv.PaymentHash}, &truth)
	if truth != (truthJSON{Settlements: 1, Parts: 1, DeliveredMsat: 10_000, HTLCs: 1}) {
		t.Fatalf("truth of a payment: %+v", truth)
	}

	r.fails(t, "simnet-fault", map[string]any{"node": dest, "fail_rate": 2}, CodeInvalidParams)
	r.fails(t, "simnet-fault", map[string]any{"node": dest, "offline": "maybe"}, CodeInvalidParams)
	r.fails(t, "simnet-fault", map[string]any{"node": "02" + strings.Repeat("11", 32)}, CodeInvalidParams)
	var f simnetFaultJSON
	r.ok(t, "simnet-fault", map[string]any{"node": dest, "offline": "true", "delay": 5, "fail_rate": 0.5}, &f)
	if !f.Offline || f.DelayMs != 5 || f.FailRate != 0.5 {
		t.Fatalf("simnet-fault answered %+v", f)
	}
}

// NewSimnet serves the simnet-* commands and nothing else.
func TestNewSimnetServesOnlySimnet(t *testing.T) {
	n, err := simnet.New(loadGraph(t, graphdata.Sub300), simnet.Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	s, err := NewSimnet(n, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(shortDir(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c, err := Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var nodes struct {
		Nodes []simnetNodeJSON `json:"nodes"`
	}
	if err := c.Call(ctx, "simnet-listnodes", nil, &nodes); err != nil || len(nodes.Nodes) != n.Graph().NumNodes() {
		t.Fatalf("simnet-listnodes: %d nodes, %v", len(nodes.Nodes), err)
	}
	var inv invoiceJSON
	if err := c.Call(ctx, "simnet-invoice", map[string]any{"node": nodes.Nodes[3].ID, "amount_msat": 5000}, &inv); err != nil ||
		inv.Destination != nodes.Nodes[3].ID {
		t.Fatalf("simnet-invoice: %+v, %v", inv, err)
	}
	var re *Error
	if err := c.Call(ctx, "pay", map[string]any{"bolt11": inv.Bolt11}, nil); !errors.As(err, &re) || re.Code != CodeMethodNotFound {
		t.Fatalf("pay on the simnet server: %v", err)
	}

	c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("serve returned %v", err)
	}
	if _, err := NewSimnet(nil, Options{}); err == nil {
		t.Fatal("NewSimnet without a network succeeded")
	}
}

// RedirectSimnet turns the simnet-* commands into an error naming the
// control socket, and leaves the others alone.
func TestRedirectSimnet(t *testing.T) {
	r := sub300Rig(t)
	addr := filepath.Join("/run/sim", "simnet-rpc")
	r.s.RedirectSimnet(addr)
	for _, m := range []string{"simnet-invoice", "simnet-listnodes", "simnet-fault", "simnet-truth"} {
		params := map[string]any{}
		switch m {
		case "simnet-invoice":
			params = map[string]any{"node": r.n.Self().String(), "amount_msat": 1}
		case "simnet-fault":
			params = map[string]any{"node": r.n.Self().String()}
		case "simnet-truth":
			params = map[string]any{"payment_hash": strings.Repeat("00", 32)}
		}
		if e := r.fails(t, m, params, CodeLightningd); !strings.Contains(e.Message, addr) {
			t.Errorf("%s: %q does not name %s", m, e.Message, addr)
		}
	}
	r.ok(t, "getinfo", nil, nil)
}
