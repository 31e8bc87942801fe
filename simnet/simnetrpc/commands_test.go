package simnetrpc

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
)

// getinfo shows our node in the simulated network (Info); help lists the
// simnet-* commands beside Core Lightning's.
func TestInfoHelp(t *testing.T) {
	r := newRig(t, nil)
	var info struct {
		ID                string `json:"id"`
		Alias             string `json:"alias"`
		NumPeers          int    `json:"num_peers"`
		NumActiveChannels int    `json:"num_active_channels"`
		Blockheight       uint32 `json:"blockheight"`
		Network           string `json:"network"`
	}
	r.ok(t, "getinfo", nil, &info)
	if info.ID != r.n.Self().String() || info.Alias != simnet.DefaultLocalAlias || info.Network != "regtest" ||
		info.NumActiveChannels != len(r.n.LocalChannels()) || info.NumPeers == 0 || info.NumPeers > info.NumActiveChannels ||
		info.Blockheight != r.n.Height() {
		t.Fatalf("getinfo: %+v", info)
	}
	var help struct {
		Help []struct {
			Command string `json:"command"`
		} `json:"help"`
	}
	r.ok(t, "help", nil, &help)
	var names []string
	for _, h := range help.Help {
		names = append(names, strings.Fields(h.Command)[0])
	}
	want := "askrene-age askrene-inform-channel askrene-listlayers askrene-listreservations askrene-remove-layer askrene-reserve askrene-unreserve " +
		"decodepay delpay getinfo getroute getroutes help listpayments listpays listsendpays pay paystatus sendpay simnet-fault simnet-invoice simnet-listnodes simnet-truth waitsendpay"
	if strings.Join(names, " ") != want {
		t.Fatalf("help lists %v", names)
	}
}

// simnet-listnodes and simnet-invoice, with and without amount, labels
// unique, unknown nodes refused; decodepay reads the invoices back.
func TestSimnetCommandsDecodepay(t *testing.T) {
	r := newRig(t, nil)
	var nodes struct {
		Nodes []simnetNodeJSON `json:"nodes"`
	}
	r.ok(t, "simnet-listnodes", nil, &nodes)
	if len(nodes.Nodes) != 301 {
		t.Fatalf("%d nodes", len(nodes.Nodes))
	}
	named := 0
	for _, n := range nodes.Nodes {
		if n.Alias != "" {
			named++
		}
	}
	if named < 200 {
		t.Fatalf("only %d nodes have an alias", named)
	}
	dest := r.payable(t, 1, 10_000)[0]
	inv := r.invoice(t, dest, "10sat", map[string]any{"label": "a", "expiry": 600})
	if inv.Destination != dest || len(inv.PaymentHash) != 64 || len(inv.PaymentSecret) != 64 ||
		inv.ExpiresAt != uint64(r.n.Now().Unix())+600 || !strings.HasPrefix(inv.Bolt11, "lnbcrt") {
		t.Fatalf("simnet-invoice: %+v", inv)
	}
	if e := r.fails(t, "simnet-invoice", map[string]any{"node": dest, "amount_msat": 1, "label": "a"}, CodeLabelExists); e.Message != "Duplicate label 'a'" {
		t.Fatal(e.Message)
	}
	r.fails(t, "simnet-invoice", map[string]any{"node": "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619", "amount_msat": 1}, rpc.CodeInvalidParams)
	r.fails(t, "simnet-invoice", map[string]any{"node": dest, "amount_msat": "all"}, rpc.CodeInvalidParams)
	// Only "any" makes an invoice without an amount, as with CLN's invoice.
	for _, zero := range []any{0, "0msat", "0sat", "0.0btc"} {
		e := r.fails(t, "simnet-invoice", map[string]any{"node": dest, "amount_msat": zero}, rpc.CodeInvalidParams)
		if want := `'amount_msat' should be a positive millisatoshi amount or "any", not '`; !strings.HasPrefix(e.Message, want) ||
			!strings.Contains(e.Message, `"any" makes an invoice without an amount`) {
			t.Errorf("amount_msat %v: %q", zero, e.Message)
		}
	}

	var d map[string]any
	r.ok(t, "decodepay", []any{inv.Bolt11}, &d)
	if d["payee"] != dest || d["payment_hash"] != inv.PaymentHash || d["amount_msat"] != 10_000.0 ||
		d["description"] != "rpc test" || d["currency"] != "bcrt" || d["expiry"] != 600.0 {
		t.Fatalf("decodepay: %v", d)
	}
	anyInv := r.invoice(t, dest, "any", nil)
	d = nil
	r.ok(t, "decodepay", map[string]any{"bolt11": anyInv.Bolt11}, &d)
	if _, has := d["amount_msat"]; has {
		t.Fatalf("an 'any' invoice decodes with an amount: %v", d)
	}
}

type truthJSON struct {
	Settlements   int    `json:"settlements"`
	Parts         int    `json:"parts"`
	DeliveredMsat uint64 `json:"delivered_msat"`
	HTLCs         int    `json:"htlcs"`
}

// simnet-fault makes a node fail what it gets until healed, and
// simnet-truth shows the HTLCs our node added and what was settled.
func TestSimnetFaultAndTruth(t *testing.T) {
	r := newRig(t, nil)
	dests := r.payable(t, 2, 10_000)
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

	r.fails(t, "simnet-fault", map[string]any{"node": dest, "fail_rate": 2}, rpc.CodeInvalidParams)
	r.fails(t, "simnet-fault", map[string]any{"node": dest, "offline": "maybe"}, rpc.CodeInvalidParams)
	r.fails(t, "simnet-fault", map[string]any{"node": "02" + strings.Repeat("11", 32)}, rpc.CodeInvalidParams)
	var f simnetFaultJSON
	r.ok(t, "simnet-fault", map[string]any{"node": dest, "offline": "true", "delay": 5, "fail_rate": 0.5}, &f)
	if !f.Offline || f.DelayMs != 5 || f.FailRate != 0.5 {
		t.Fatalf("simnet-fault answered %+v", f)
	}
}

// NewServer serves the simnet-* commands and nothing else.
func TestNewServerServesOnlySimnet(t *testing.T) {
	n := newNet(t)
	s, err := NewServer(n, rpc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, done := serve(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var nodes struct {
		Nodes []simnetNodeJSON `json:"nodes"`
	}
	if err := c.Call(ctx, "simnet-listnodes", nil, &nodes); err != nil || len(nodes.Nodes) != n.Graph().NumNodes() {
		t.Fatalf("simnet-listnodes: %d nodes, %v", len(nodes.Nodes), err)
	}
	var inv simnetInvoiceJSON
	if err := c.Call(ctx, "simnet-invoice", map[string]any{"node": nodes.Nodes[3].ID, "amount_msat": 5000}, &inv); err != nil ||
		inv.Destination != nodes.Nodes[3].ID {
		t.Fatalf("simnet-invoice: %+v, %v", inv, err)
	}
	var re *rpc.Error
	if err := c.Call(ctx, "pay", map[string]any{"bolt11": inv.Bolt11}, nil); !errors.As(err, &re) || re.Code != rpc.CodeMethodNotFound {
		t.Fatalf("pay on the simnet server: %v", err)
	}

	c.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, rpc.ErrServerClosed) {
		t.Fatalf("serve returned %v", err)
	}
	if _, err := NewServer(nil, rpc.Options{}); err == nil {
		t.Fatal("NewServer without a network succeeded")
	}
	if _, err := NewServer(n, rpc.Options{MaxInFlight: -1}); err == nil {
		t.Fatal("NewServer with a negative MaxInFlight succeeded")
	}
}

// Redirect turns the simnet-* commands into an error naming the control
// socket, and leaves the others alone.
func TestRedirect(t *testing.T) {
	addr := filepath.Join("/run/sim", "simnet-rpc")
	r := newRig(t, func(cmds []rpc.Command) []rpc.Command {
		out := Redirect(cmds, addr)
		if len(out) != len(cmds) || &out[0] == &cmds[0] {
			t.Fatalf("Redirect returned %d commands, or the caller's slice", len(out))
		}
		return out
	})
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
		if e := r.fails(t, m, params, rpc.CodeLightningd); !strings.Contains(e.Message, addr) {
			t.Errorf("%s: %q does not name %s", m, e.Message, addr)
		}
	}
	r.ok(t, "getinfo", nil, nil)
	// Other commands pass through unchanged.
	other := rpc.Command{Name: "x", Handler: func(context.Context, *rpc.Args) (any, error) { return 1, nil }}
	if v, err := Redirect([]rpc.Command{other}, addr)[0].Handler(context.Background(), nil); v != 1 || err != nil {
		t.Fatalf("Redirect changed a command of another name: %v, %v", v, err)
	}
}
