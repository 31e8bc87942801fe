package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/wirelink"
)

// simnetd serves its control socket and its link in --dir until its
// context ends, then exits 0.
func TestServeAndStop(t *testing.T) {
	dir, err := os.MkdirTemp("", "simnetd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan struct{}), make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- run(ctx, []string{"--dir", dir, "--log-level", "warn"}, func(string) string { return "" }, io.Discard, &stderr, ready)
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("simnetd exited %d: %s", code, stderr.String())
	}

	c, err := rpc.Dial(filepath.Join(dir, node.SimnetRPCName))
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	var nodes struct {
		Nodes []struct{ ID string } `json:"nodes"`
	}
	if err := c.Call(cctx, "simnet-listnodes", nil, &nodes); err != nil || len(nodes.Nodes) == 0 {
		t.Fatalf("simnet-listnodes: %d nodes, %v", len(nodes.Nodes), err)
	}
	c.Close()
	l, err := wirelink.Dial(cctx, "unix", filepath.Join(dir, node.SimnetLinkName), wirelink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("simnetd exited %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("simnetd did not stop")
	}
}

func TestFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		ok   bool
	}{
		{nil, nil, false}, // --dir is required
		{[]string{"--dir", "/x"}, nil, true},
		{nil, map[string]string{"SIMNETD_DIR": "/x", "SIMNETD_SEED": "7"}, true},
		{[]string{"--dir", "/x", "--max-htlcs", "-1"}, nil, false},
		{[]string{"--dir", "/x", "--ours", "0"}, nil, false},
		{nil, map[string]string{"SIMNETD_DIR": "/x", "SIMNETD_OURS": "3"}, true},
		{[]string{"--dir", "/x", "extra"}, nil, false},
		{nil, map[string]string{"SIMNETD_DIR": "/x", "SIMNETD_SEED": "seven"}, false},
	} {
		_, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("parse(%q, %v) = %v, want ok %v", tt.args, tt.env, err, tt.ok)
		}
	}
}

// Faults given at start: a seeded fraction offline, a failure rate on
// every node, and a file that names nodes; bad values are refused.
func TestStartFaults(t *testing.T) {
	n, err := node.Network(node.Config{Graph: "sub300", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	nodes := n.Graph().Nodes()
	named := nodes[3]
	if named == n.Self() {
		named = nodes[4]
	}
	file := filepath.Join(t.TempDir(), "faults.json")
	if err := os.WriteFile(file, []byte(`{"`+named.String()+`": {"garbage": true, "delay": 1000000}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := startFaults(n, &config{seed: 1, offline: 0.1, failRate: 0.05, faults: file}); err != nil {
		t.Fatal(err)
	}
	faults := n.Faults()
	offline := 0
	for _, f := range faults {
		if f.Offline {
			offline++
		}
	}
	if len(faults) != len(nodes)-1 || offline < 15 || offline > 45 {
		t.Fatalf("%d nodes with faults, %d offline, of %d", len(faults), offline, len(nodes))
	}
	if f := faults[named]; !f.Garbage || f.Delay != time.Millisecond || f.FailRate != 0 {
		t.Fatalf("the file's fault: %+v", f)
	}
	for _, bad := range []*config{{offline: 2}, {failRate: 1.5}, {faults: filepath.Join(t.TempDir(), "none.json")}} {
		if err := startFaults(n, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// simnetd keeps its network in --dir: stopped and started again, it goes
// on with the same one, and an invoice issued after the restart is new
// (today's seeded draws would repeat the first run's).
func TestRestartContinuesNetwork(t *testing.T) {
	dir, err := os.MkdirTemp("", "simnetd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	type invoice struct {
		PaymentHash   string `json:"payment_hash"`
		PaymentSecret string `json:"payment_secret"`
	}
	var invs []invoice
	for round := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan struct{}), make(chan int, 1)
		var stderr strings.Builder
		go func() {
			done <- run(ctx, []string{"--dir", dir, "--log-level", "warn"}, func(string) string { return "" }, io.Discard, &stderr, ready)
		}()
		select {
		case <-ready:
		case code := <-done:
			t.Fatalf("run %d: simnetd exited %d: %s", round, code, stderr.String())
		}
		c, err := rpc.Dial(filepath.Join(dir, node.SimnetRPCName))
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		var nodes struct {
			Nodes []struct{ ID string } `json:"nodes"`
		}
		var inv invoice
		if err := c.Call(cctx, "simnet-listnodes", nil, &nodes); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(cctx, "simnet-invoice", map[string]any{"node": nodes.Nodes[0].ID, "amount_msat": 1000}, &inv); err != nil {
			t.Fatal(err)
		}
		ccancel()
		c.Close()
		invs = append(invs, inv)
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("run %d: simnetd exited %d: %s", round, code, stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, node.SimnetStateName)); err != nil {
		t.Fatalf("no state directory: %v", err)
	}
	if invs[0].PaymentHash == invs[1].PaymentHash || invs[0].PaymentSecret == invs[1].PaymentSecret {
		t.Fatalf("the invoice after the restart repeats the first: %+v", invs)
	}
}

// With --ours 3, simnetd serves node 0's link on simnet-link and nodes 1
// and 2's on simnet-link-1 and simnet-link-2, and no fourth; its random
// faults spare all three of our nodes.
func TestServeOurs(t *testing.T) {
	dir, err := os.MkdirTemp("", "simnetd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan struct{}), make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- run(ctx, []string{"--dir", dir, "--ours", "3", "--log-level", "warn"}, func(string) string { return "" }, io.Discard, &stderr, ready)
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("simnetd exited %d: %s", code, stderr.String())
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	for i := range 3 {
		l, err := wirelink.Dial(cctx, "unix", filepath.Join(dir, node.SimnetLinkNameOf(i)), wirelink.Options{})
		if err != nil {
			t.Fatalf("node %d's link: %v", i, err)
		}
		l.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, node.SimnetLinkNameOf(3))); !os.IsNotExist(err) {
		t.Fatalf("a fourth link socket: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("simnetd exited %d: %s", code, stderr.String())
	}

	n, err := node.Network(node.Config{Graph: "sub300", Seed: 1, Ours: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := startFaults(n, &config{seed: 1, offline: 1}); err != nil {
		t.Fatal(err)
	}
	faults := n.Faults()
	for i := range 3 {
		if _, ok := faults[n.SelfOf(i)]; ok {
			t.Fatalf("our node %d has a fault", i)
		}
	}
	if len(faults) != n.Graph().NumNodes()-3 {
		t.Fatalf("%d nodes with faults of %d", len(faults), n.Graph().NumNodes())
	}
}
