package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet/simnetrpc"
	"github.com/payengine/payengine/wirelink"
)

// startSimnetd runs in the test's process what simnetd runs: a network
// with ours nodes of ours, its control socket (simnet-rpc) and node i's
// link socket for each i in links, in dir. It stops them when the test
// ends.
func startSimnetd(t *testing.T, dir string, seed uint64, ours int, links ...int) *rpc.Client {
	t.Helper()
	n, err := node.Network(node.Config{Seed: seed, Ours: ours})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv, err := simnetrpc.NewServer(n, rpc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := net.Listen("unix", filepath.Join(dir, node.SimnetRPCName))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(rl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	for _, i := range links {
		lk, err := n.LinkFor(i)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := wirelink.NewServer(lk, wirelink.ServerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ll, err := net.Listen("unix", filepath.Join(dir, node.SimnetLinkNameOf(i)))
		if err != nil {
			t.Fatal(err)
		}
		go ws.Serve(context.Background(), ll)
		t.Cleanup(func() { ws.Close() })
	}
	c, err := rpc.Dial(filepath.Join(dir, node.SimnetRPCName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startPaydOver runs in the test's process what payd --simnet-addr runs:
// node.Start as node i of simnetd's network in simDir, its simnet-*
// commands sent to simnetd (as payd redirects them), the JSON-RPC server on
// <dir>/lightning-rpc.
func startPaydOver(t *testing.T, dir, simDir string, seed uint64, i int) *node.Node {
	t.Helper()
	nd, err := node.Start(node.Config{DataDir: dir, Seed: seed, SimnetNode: i, LinkAddr: filepath.Join(simDir, node.SimnetLinkNameOf(i))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rpc.New(rpc.Options{Engine: nd.Engine, Node: nd.Info, Ledger: nd.Ledger, Version: "paybench-test",
		Commands: simnetrpc.Redirect(nd.Commands, filepath.Join(simDir, node.SimnetRPCName))})
	if err != nil {
		nd.Close()
		t.Fatal(err)
	}
	l, err := rpc.Listen(dir)
	if err != nil {
		nd.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("rpc shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := nd.Close(); err != nil {
			t.Errorf("node close: %v", err)
		}
	})
	return nd
}

// TestRPCModeOverSimnetd: paybench --rpc against a payd over simnetd, as
// node 1 of a network with two nodes of ours, with --simnet-rpc naming
// simnetd's directory: the invoices and destinations come from simnetd,
// the payer is node 1, neither node of ours is a destination, and every
// payment the summary counts as complete was settled once by the network
// (simnetd's simnet-truth) for its amount. Without --simnet-rpc the run
// is refused with a message that names the flag.
func TestRPCModeOverSimnetd(t *testing.T) {
	const seed = 2
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	root, err := os.MkdirTemp("", "pbsim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	simDir, paydDir := filepath.Join(root, "sim"), filepath.Join(root, "payd")
	if err := os.Mkdir(simDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctl := startSimnetd(t, simDir, seed, 2, 1)
	nd := startPaydOver(t, paydDir, simDir, seed, 1)
	ctx := context.Background()

	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"--rpc", paydDir, "--payments", "5", "--seed", fmt.Sprint(seed), "--progress", "off"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--simnet-rpc") {
		t.Fatalf("--rpc over simnetd without --simnet-rpc: %v, want a refusal naming --simnet-rpc", err)
	}

	const measured = 40
	jsonPath := filepath.Join(root, "run.json")
	stdout.Reset()
	err = run(ctx, []string{"--rpc", paydDir, "--simnet-rpc", simDir, "--payments", fmt.Sprint(measured), "--concurrency", "4",
		"--seed", fmt.Sprint(seed), "--amount", "2000sat,20000sat", "--json", jsonPath, "--progress", "off"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"rpc engine", "network: simnetd's control socket " + filepath.Join(simDir, node.SimnetRPCName), "feasible     n/a"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout.String())
		}
	}
	var got jsonReport
	var extra rpcExtra
	readJSON(t, jsonPath, &got)
	readJSON(t, jsonPath, &extra)
	var dests struct {
		Payments []struct {
			Dest   string `json:"destination"`
			Amount uint64 `json:"amount_msat"`
			Status string `json:"status"`
		} `json:"payments"`
	}
	readJSON(t, jsonPath, &dests)
	self1, self0 := nd.Net.SelfOf(1), nd.Net.SelfOf(0)
	if extra.Target.Self != self1 {
		t.Fatalf("target's self %s, want node 1 %s", extra.Target.Self, self1)
	}
	if got.Success.Succeeded == 0 || len(got.Payments) != measured {
		t.Fatalf("%d payments listed, %d succeeded: want %d, some succeeded\n%s", len(got.Payments), got.Success.Succeeded, measured, stdout.String())
	}
	if len(dests.Payments) != measured {
		t.Fatalf("%d payments listed", len(dests.Payments))
	}
	complete := 0
	for i, p := range dests.Payments {
		if p.Dest == "" {
			t.Fatalf("payment %d has no destination", i)
		}
		if p.Dest == self0.String() || p.Dest == self1.String() {
			t.Errorf("payment %d goes to a node of ours, %s", i, p.Dest)
		}
		var tr struct {
			Settlements   int    `json:"settlements"`
			DeliveredMsat uint64 `json:"delivered_msat"`
		}
		if err := ctl.Call(ctx, "simnet-truth", map[string]any{"payment_hash": got.Payments[i].Hash}, &tr); err != nil {
			t.Fatal(err)
		}
		if done := p.Status == "complete"; done != (tr.Settlements == 1) || (done && tr.DeliveredMsat != p.Amount) {
			t.Errorf("payment %d: %s, simnetd's truth %+v for %d msat", i, p.Status, tr, p.Amount)
		}
		if p.Status == "complete" {
			complete++
		}
	}
	if complete != got.Success.Succeeded {
		t.Errorf("%d complete in the list, %d in the summary", complete, got.Success.Succeeded)
	}
	t.Logf("%d of %d paid by node 1 over simnetd; %.1f payments/s", complete, measured, got.Throughput.PaymentsPerS)
}
