package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/rpc"
)

// syncBuffer is an io.Writer the daemon and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type daemon struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr *syncBuffer
}

// start runs payd in the test's process until stop; it fails the test if
// the daemon does not come up.
func start(t *testing.T, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ready := make(chan struct{})
	go func() { d.done <- run(ctx, args, func(string) string { return "" }, d.stdout, d.stderr, ready) }()
	select {
	case <-ready:
	case code := <-d.done:
		t.Fatalf("payd exited %d: %s", code, d.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("payd did not come up")
	}
	return d
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	if code := <-d.done; code != 0 {
		t.Fatalf("payd exited %d on stop: %s", code, d.stderr)
	}
}

type nodeJSON struct {
	ID          string `json:"id"`
	Alias       string `json:"alias"`
	NumChannels int    `json:"num_channels"`
}

// The walk-through of the README, through the real socket: list nodes,
// have one issue an invoice, decode it, pay it, list it. Then /metrics has
// counted it, HTTP wants the token, a second daemon on the data directory
// is refused, and after a stop and start the payment is still there.
func TestDaemon(t *testing.T) {
	dir := t.TempDir()
	d := start(t, "--datadir", dir, "--http", "127.0.0.1:0", "--log-level", "warn")
	sock := filepath.Join(dir, rpc.SocketName)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	c, err := rpc.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	var nodes struct{ Nodes []nodeJSON }
	if err := c.Call(ctx, "simnet-listnodes", nil, &nodes); err != nil || len(nodes.Nodes) != 301 {
		t.Fatalf("simnet-listnodes: %d nodes, %v", len(nodes.Nodes), err)
	}
	sort.Slice(nodes.Nodes, func(i, j int) bool { return nodes.Nodes[i].NumChannels > nodes.Nodes[j].NumChannels })
	var bolt11, hash string
	for _, n := range nodes.Nodes[1:20] {
		var inv struct{ Bolt11, Payment_hash string }
		if err := c.Call(ctx, "simnet-invoice", map[string]any{"node": n.ID, "amount_msat": "10sat", "label": "walk " + n.ID}, &inv); err != nil {
			t.Fatal(err)
		}
		var paid struct{ Status string }
		if err := c.Call(ctx, "pay", []any{inv.Bolt11}, &paid); err == nil && paid.Status == "complete" {
			bolt11, hash = inv.Bolt11, inv.Payment_hash
			break
		}
	}
	if bolt11 == "" {
		t.Fatal("no invoice could be paid")
	}
	var dec struct{ Payment_hash string }
	if err := c.Call(ctx, "decodepay", []any{bolt11}, &dec); err != nil || dec.Payment_hash != hash {
		t.Fatalf("decodepay: %+v %v", dec, err)
	}
	var pays struct {
		Pays []struct{ Status, Payment_hash string }
	}
	if err := c.Call(ctx, "listpays", []any{bolt11}, &pays); err != nil || len(pays.Pays) != 1 || pays.Pays[0].Status != "complete" {
		t.Fatalf("listpays: %+v %v", pays, err)
	}

	addr := regexp.MustCompile(`HTTP on (http://\S+)`).FindStringSubmatch(d.stdout.String())
	if addr == nil {
		t.Fatalf("no HTTP address in %q", d.stdout)
	}
	res, err := http.Get(addr[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !regexp.MustCompile(`(?m)^payengine_payments_succeeded_total [1-9]`).Match(body) ||
		!regexp.MustCompile(`(?m)^payengine_route_search_seconds_count [1-9]`).Match(body) ||
		!regexp.MustCompile(`(?m)^payengine_ledger_commit_seconds_count [1-9]`).Match(body) {
		t.Fatalf("metrics did not move:\n%s", body)
	}
	res, err = http.Post(addr[1]+"/", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"getinfo"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without a token: %v", res.Status)
	}
	res.Body.Close()
	token, err := os.ReadFile(filepath.Join(dir, rpc.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", addr[1]+"/", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"listpays"}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST with the token: %v", res.Status)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), hash) {
		t.Fatalf("listpays over HTTP: %s", body)
	}

	var second syncBuffer
	if code := run(ctx, []string{"--datadir", dir}, func(string) string { return "" }, io.Discard, &second, nil); code == 0 ||
		!strings.Contains(second.String(), "another daemon") {
		t.Fatalf("second daemon: exit %d, %q", code, second.String())
	}

	c.Close()
	d.stop(t)
	d = start(t, "--datadir", dir)
	defer d.stop(t)
	c2, err := rpc.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Call(ctx, "listpays", map[string]any{"bolt11": bolt11}, &pays); err != nil || len(pays.Pays) != 1 || pays.Pays[0].Status != "complete" {
		t.Fatalf("listpays after restart: %+v %v", pays, err)
	}
}

// Flags and their PAYD_* variables: the variable is the default, the flag
// wins; bad values and unsafe HTTP addresses are refused with a message.
func TestFlags(t *testing.T) {
	env := map[string]string{"PAYD_SEED": "7", "PAYD_GRAPH": "mainnet"}
	c, err := parse([]string{"--graph", "sub300"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.seed != 7 || c.graph != "sub300" {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := parse(nil, func(k string) string { return map[string]string{"PAYD_SIMNET_NODE": "2"}[k] }, io.Discard); err != nil || c.simnetNode != 2 {
		t.Fatalf("PAYD_SIMNET_NODE=2: %+v %v", c, err)
	}
	for _, bad := range [][]string{{"--network", "mainnet"}, {"--seed", "x"}, {"extra"}, {"--simnet-node", "-1"},
		{"--simnet-node", "1", "--backend", "lnd"}, {"--role", "frontend"}, {"--role", "x", "--etcd", "http://127.0.0.1:1"},
		{"--etcd", "http://127.0.0.1:1", "--cluster", "a/b"}, {"--cluster-port", "70000"}} {
		if _, err := parse(bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if c, err := parse(nil, func(k string) string {
		return map[string]string{"PAYD_ETCD": "http://127.0.0.1:2379", "PAYD_ROLE": "frontend", "PAYD_CLUSTER": "f1"}[k]
	}, io.Discard); err != nil || c.etcd != "http://127.0.0.1:2379" || c.role != "frontend" || c.cluster != "f1" {
		t.Fatalf("PAYD_ETCD, PAYD_ROLE, PAYD_CLUSTER: %+v %v", c, err)
	}
	if _, err := parse(nil, func(k string) string { return map[string]string{"PAYD_SEED": "-1"}[k] }, io.Discard); err == nil {
		t.Error("PAYD_SEED=-1 accepted")
	}
	for in, ok := range map[string]bool{"0": true, "20ms": true, "20ms+5ms": true, "-1ms": false, "x": false, "1ms+y": false} {
		if _, _, err := node.ParseLatency(in); (err == nil) != ok {
			t.Errorf("latency %q: %v", in, err)
		}
	}
	for addr, ok := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, "10.1.2.3:1": false} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("http %q: %v", addr, err)
		}
	}
	// -h names each flag's PAYD_* variable.
	var help bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, func(string) string { return "" }, io.Discard, &help, nil); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, env := range []string{"PAYD_DATADIR", "PAYD_NETWORK", "PAYD_GRAPH", "PAYD_SEED", "PAYD_LATENCY", "PAYD_SIMNET_ADDR",
		"PAYD_SIMNET_NODE", "PAYD_HTTP", "PAYD_HTTP_ALLOW_REMOTE", "PAYD_LOG_LEVEL",
		"PAYD_CLUSTER", "PAYD_ETCD", "PAYD_CLUSTER_HOST", "PAYD_CLUSTER_PORT", "PAYD_ROLE"} {
		if !strings.Contains(help.String(), "(env "+env+")") {
			t.Errorf("-h does not name %s:\n%s", env, help.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--datadir", t.TempDir(), "--http", "0.0.0.0:0"}, func(string) string { return "" }, io.Discard, &stderr, nil); code != 1 ||
		!strings.Contains(stderr.String(), "--http-allow-remote") {
		t.Fatalf("remote http: %d %q", code, stderr.String())
	}
}
