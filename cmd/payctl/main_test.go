package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/rpc"
)

// daemon starts a node (sub300 simnet, Pebble ledger, engine) and the RPC
// server on its data directory's socket, as payd does.
func daemon(t *testing.T) (string, *node.Node) {
	t.Helper()
	dir, err := os.MkdirTemp("", "payctl") // short enough for a unix socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	nd, err := node.Start(node.Config{DataDir: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := rpc.New(rpc.Options{Engine: nd.Engine, Node: nd.Info, Commands: nd.Commands, Ledger: nd.Ledger})
	if err != nil {
		t.Fatal(err)
	}
	l, err := rpc.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		nd.Close()
	})
	return dir, nd
}

// payctl runs the command line and returns its exit status and outputs.
func payctl(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A payment from the command line: an invoice by -k, getroute with a
// positional null, pay, the lists; then the exit statuses of a JSON-RPC
// error (1, error JSON on stderr), no daemon (2) and bad usage (3).
func TestPayctl(t *testing.T) {
	dir, nd := daemon(t)
	g := nd.Net.Graph()
	var dest graph.NodeID
	for _, d := range g.Nodes() {
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: nd.Net.Self(), ID: d, AmountMsat: 25_000, RiskFactor: 1}); err == nil && d != nd.Net.Self() {
			dest = d
			break
		}
	}

	code, out, errOut := payctl("--datadir", dir, "-k", "simnet-invoice", "node="+dest.String(), "amount_msat=25sat", "label=cli", "description=from payctl")
	var inv struct {
		Bolt11      string `json:"bolt11"`
		PaymentHash string `json:"payment_hash"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &inv) != nil || inv.Bolt11 == "" {
		t.Fatalf("simnet-invoice: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "\n  \"bolt11\": ") {
		t.Fatalf("output not indented: %s", out)
	}
	// getroute id msatoshi riskfactor cltv: null skips cltv.
	if code, out, errOut := payctl("--datadir", dir, "getroute", dest.String(), "25000", "1", "null", nd.Net.Self().String()); code != 0 || !strings.Contains(out, `"route"`) {
		t.Fatalf("getroute: %d %s %s", code, out, errOut)
	}
	code, out, errOut = payctl("--datadir", dir, "pay", inv.Bolt11, "null", "from-cli")
	var paid struct {
		Status      string `json:"status"`
		PaymentHash string `json:"payment_hash"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &paid) != nil || paid.Status != "complete" || paid.PaymentHash != inv.PaymentHash {
		t.Fatalf("pay: %d %s %s", code, out, errOut)
	}
	if code, out, _ := payctl("--datadir", dir, "listpays", inv.Bolt11); code != 0 || !strings.Contains(out, `"status": "complete"`) {
		t.Fatalf("listpays: %d %s", code, out)
	}
	if code, out, _ := payctl("--rpc-file", filepath.Join(dir, rpc.SocketName), "getinfo"); code != 0 || !strings.Contains(out, nd.Net.Self().String()) {
		t.Fatalf("getinfo by --rpc-file: %d %s", code, out)
	}
	// PAYD_DATADIR is the default data directory.
	t.Setenv("PAYD_DATADIR", dir)
	if code, out, _ := payctl("-k", "listsendpays", "payment_hash="+inv.PaymentHash); code != 0 || !strings.Contains(out, `"label": "from-cli"`) {
		t.Fatalf("listsendpays by PAYD_DATADIR: %d %s", code, out)
	}

	// A JSON-RPC error: exit 1, the error object on stderr, nothing on
	// stdout.
	code, out, errOut = payctl("--datadir", dir, "pay", "lnbcrt1garbage")
	var e rpc.Error
	if code != 1 || out != "" || json.Unmarshal([]byte(errOut), &e) != nil || e.Code != -32602 || !strings.HasPrefix(e.Message, "Invalid bolt11") {
		t.Fatalf("bad bolt11: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := payctl("--datadir", dir, "nosuch"); code != 1 || !strings.Contains(errOut, "-32601") {
		t.Fatalf("unknown command: %d %s", code, errOut)
	}
	// A key given twice reaches the daemon, which refuses it.
	if code, _, errOut := payctl("--datadir", dir, "-k", "decodepay", "bolt11=a", "bolt11=b"); code != 1 || !strings.Contains(errOut, "duplicate json names: bolt11") {
		t.Fatalf("duplicate key: %d %s", code, errOut)
	}
	// The error's data, in the daemon's field order.
	code, _, errOut = payctl("--datadir", dir, "waitsendpay", strings.Repeat("00", 32))
	if code != 1 || !strings.Contains(errOut, `"code": 208`) {
		t.Fatalf("waitsendpay unknown: %d %s", code, errOut)
	}

	// help, for people and as JSON.
	if code, out, _ := payctl("--datadir", dir, "help"); code != 0 || !strings.Contains(out, "pay bolt11 [amount_msat]") || strings.Contains(out, `"help"`) {
		t.Fatalf("help: %d %s", code, out)
	}
	if code, out, _ := payctl("--datadir", dir, "help", "getroute"); code != 0 || !strings.HasPrefix(out, "getroute id amount_msat riskfactor") {
		t.Fatalf("help getroute: %d %s", code, out)
	}
	if code, out, _ := payctl("--datadir", dir, "-J", "help"); code != 0 || !strings.Contains(out, `"format-hint": "simple"`) {
		t.Fatalf("help -J: %d %s", code, out)
	}

	// No daemon: 2. Bad usage: 3.
	if code, _, errOut := payctl("--datadir", t.TempDir(), "getinfo"); code != 2 || !strings.Contains(errOut, "is payd running?") {
		t.Fatalf("no daemon: %d %s", code, errOut)
	}
	if code, _, _ := payctl("--datadir", dir); code != 3 {
		t.Fatalf("no command: %d", code)
	}
	if code, _, errOut := payctl("--datadir", dir, "-k", "pay", "lnbcrt1x"); code != 3 || !strings.Contains(errOut, "key=value") {
		t.Fatalf("-k without =: %d %s", code, errOut)
	}
	if code, _, _ := payctl("--nosuchflag"); code != 3 {
		t.Fatalf("unknown flag: %d", code)
	}
	if code, _, _ := payctl("-h"); code != 0 {
		t.Fatalf("-h: %d", code)
	}
}

// Arguments become JSON when they are JSON, else strings; -k makes an
// object in the order given.
func TestBuildParams(t *testing.T) {
	for i, tt := range []struct {
		args []string
		k    bool
		want string
	}{
		{nil, false, `[]`},
		{[]string{"lnbcrt1abc", "1000", "null", "true", `{"a":1}`, "[1]", "5sat", "0123"}, false, `["lnbcrt1abc",1000,null,true,{"a":1},[1],"5sat","0123"]`},
		{[]string{"bolt11=lnbcrt1abc", "amount_msat=1000", "label=a=b", "x="}, true, `{"bolt11":"lnbcrt1abc","amount_msat":1000,"label":"a=b","x":""}`},
	} {
		got, err := buildParams(tt.args, tt.k)
		if err != nil || string(got) != tt.want {
			t.Errorf("#%d: %s %v, want %s", i, got, err, tt.want)
		}
	}
	if _, err := buildParams([]string{"=1"}, true); err == nil {
		t.Error("an empty key was accepted")
	}
}
