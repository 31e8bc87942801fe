package regtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testLog writes Up's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRegtestUp brings a five-node network up (building the binaries
// when the cache lacks them), checks network.json, pays the payee from
// the payer over lncli, proves the cheap path's drained channel fails
// with TEMPORARY_CHANNEL_FAILURE at node-1, restarts the payer's lnd, and
// checks Down leaves no process.
func TestRegtestUp(t *testing.T) {
	// End before go test's own timeout would kill the test binary, so
	// the cleanup below still stops the processes.
	deadline := time.Now().Add(25 * time.Minute)
	if d, ok := t.Deadline(); ok {
		deadline = d.Add(-time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := Down(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	start := time.Now()
	n, err := Up(ctx, Options{Dir: dir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("up in %s", time.Since(start).Round(100*time.Millisecond))

	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.Nodes, n.Nodes) || !reflect.DeepEqual(loaded.Channels, n.Channels) {
		t.Fatalf("network.json differs from Up's network:\n%+v\n%+v", loaded, n)
	}
	checkNetworkJSON(t, dir, n)

	for i, nd := range n.Nodes {
		var info struct {
			PubKey string `json:"identity_pubkey"`
			Alias  string `json:"alias"`
		}
		if err := n.lncliJSON(ctx, i, &info, "getinfo"); err != nil {
			t.Fatal(err)
		}
		if info.PubKey != nd.PubKey || info.Alias != nd.Name {
			t.Errorf("%s: getinfo says %s %q", nd.Name, info.PubKey, info.Alias)
		}
	}

	chanOf := map[string]Channel{}
	for _, name := range []string{ChanPayerCheap, ChanPayerExpensive, ChanPayerSmall, ChanCheapDrained, ChanExpensive, ChanTooSmall} {
		c, err := n.Channel(name)
		if err != nil {
			t.Fatal(err)
		}
		chanOf[name] = c
	}

	// lnd's own route-finding over the network: a route to the payee for
	// the test amount leaves the small channel out.
	var qr struct {
		Routes []struct {
			Hops []struct {
				ChanID uint64 `json:"chan_id,string"`
			} `json:"hops"`
		} `json:"routes"`
	}
	amtSat := strconv.FormatUint(uint64(TestAmount/1000), 10)
	if err := n.lncliJSON(ctx, Payer, &qr, "queryroutes", "--dest="+n.Nodes[Payee].PubKey, "--amt="+amtSat); err != nil {
		t.Fatal(err)
	}
	if len(qr.Routes) == 0 {
		t.Fatal("queryroutes: no route to the payee")
	}
	for _, h := range qr.Routes[0].Hops {
		if h.ChanID == chanOf["too-small"].ChanID || h.ChanID == chanOf["payer-small"].ChanID {
			t.Errorf("route for %s sat goes over the small path: %+v", amtSat, qr.Routes[0])
		}
	}

	// A direct forward over the drained channel fails at node-1.
	inv := addInvoice(ctx, t, n, Payee, amtSat)
	var br json.RawMessage
	if err := n.lncliJSON(ctx, Payer, &br, "buildroute", "--amt="+amtSat,
		"--hops="+n.Nodes[CheapHop].PubKey+","+n.Nodes[Payee].PubKey,
		"--outgoing_chan_id="+strconv.FormatUint(chanOf["payer-cheap"].ChanID, 10),
		"--payment_addr="+inv.PaymentAddr); err != nil {
		t.Fatal(err)
	}
	var attempt struct {
		Status  string `json:"status"`
		Failure struct {
			Code        string `json:"code"`
			SourceIndex int    `json:"failure_source_index"`
			Update      struct {
				ChanID uint64 `json:"chan_id,string"`
			} `json:"channel_update"`
		} `json:"failure"`
	}
	if err := n.lncliJSON(ctx, Payer, &attempt, "sendtoroute", "--payment_hash="+inv.RHash, "--routes="+string(br)); err != nil {
		t.Fatal(err)
	}
	t.Logf("over the drained channel: %+v", attempt)
	if attempt.Status != "FAILED" || attempt.Failure.Code != "TEMPORARY_CHANNEL_FAILURE" || attempt.Failure.SourceIndex != 1 ||
		attempt.Failure.Update.ChanID != chanOf["cheap-drained"].ChanID {
		t.Errorf("over the drained channel: %+v, want FAILED TEMPORARY_CHANNEL_FAILURE at index 1 with an update of %d",
			attempt, chanOf["cheap-drained"].ChanID)
	}

	// lnd pays the payee over the expensive path, the only one that can
	// carry the amount, at the fee the package doc gives.
	if fee := pay(ctx, t, n, Payee, addInvoice(ctx, t, n, Payee, amtSat)); fee != ExpensiveBaseMsat+int64(TestAmount)*ExpensiveFeePPM/1_000_000 {
		t.Errorf("paid %d msat in fees, want the expensive path's", fee)
	}

	// The payer's lnd stops and starts again with its channels.
	if err := n.StopNode(ctx, Payer); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Lncli(ctx, Payer, "getinfo"); err == nil {
		t.Error("getinfo answers with the payer's lnd stopped")
	}
	if err := n.StopNode(ctx, Payer); err != nil {
		t.Errorf("second StopNode: %v", err)
	}
	restart := time.Now()
	if err := n.StartNode(ctx, Payer); err != nil {
		t.Fatal(err)
	}
	t.Logf("payer's lnd started again in %s", time.Since(restart).Round(100*time.Millisecond))
	pay(ctx, t, n, ExpensiveHop, addInvoice(ctx, t, n, ExpensiveHop, "1000"))
	if err := n.Mine(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// Down stops everything, twice.
	pids := networkPids(t, dir)
	if len(pids) != 1+len(n.Nodes) {
		t.Errorf("%d pid files, want %d", len(pids), 1+len(n.Nodes))
	}
	if err := Down(dir); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && alive(pid, nil) {
			t.Errorf("pid %d still runs after Down", pid)
		}
	}
	if left := networkPids(t, dir); len(left) != 0 {
		t.Errorf("pid files left: %v", left)
	}
	if err := Down(dir); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

type invoice struct {
	RHash       string `json:"r_hash"`
	PayReq      string `json:"payment_request"`
	PaymentAddr string `json:"payment_addr"`
}

func addInvoice(ctx context.Context, t *testing.T, n *Network, node int, sat string) invoice {
	t.Helper()
	var inv invoice
	if err := n.lncliJSON(ctx, node, &inv, "addinvoice", "--amt="+sat); err != nil {
		t.Fatal(err)
	}
	return inv
}

// pay pays inv of node payee from the payer, checks the payee settled
// it, and returns the fee paid in msat.
func pay(ctx context.Context, t *testing.T, n *Network, payee int, inv invoice) int64 {
	t.Helper()
	var p struct {
		Status   string `json:"status"`
		Preimage string `json:"payment_preimage"`
		FeeMsat  int64  `json:"fee_msat,string"`
		HTLCs    []struct {
			Status string `json:"status"`
		} `json:"htlcs"`
	}
	if err := n.lncliJSON(ctx, Payer, &p, "payinvoice", "--force", "--json", inv.PayReq); err != nil {
		t.Fatal(err)
	}
	if p.Status != "SUCCEEDED" || len(p.Preimage) != 64 {
		t.Fatalf("payinvoice: %+v", p)
	}
	var st struct {
		State string `json:"state"`
	}
	if err := n.lncliJSON(ctx, payee, &st, "lookupinvoice", inv.RHash); err != nil {
		t.Fatal(err)
	}
	if st.State != "SETTLED" {
		t.Errorf("payee's invoice is %s after payment", st.State)
	}
	t.Logf("paid %s: fee %d msat, attempts %+v", n.Nodes[payee].Name, p.FeeMsat, p.HTLCs)
	return p.FeeMsat
}

func checkNetworkJSON(t *testing.T, dir string, n *Network) {
	t.Helper()
	var raw map[string]any
	b, err := os.ReadFile(filepath.Join(dir, NetworkFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"lncli", "btcctl", "nodes", "channels", "btcd"} {
		if raw[k] == nil {
			t.Errorf("network.json lacks %q", k)
		}
	}
	if len(n.Nodes) != 5 || len(n.Channels) != 6 {
		t.Fatalf("%d nodes, %d channels; want 5 and 6", len(n.Nodes), len(n.Channels))
	}
	hexKey := regexp.MustCompile(`^0[23][0-9a-f]{64}$`)
	for _, nd := range n.Nodes {
		if !hexKey.MatchString(nd.PubKey) {
			t.Errorf("%s: pubkey %q", nd.Name, nd.PubKey)
		}
		for _, p := range []string{nd.TLSCertPath, nd.MacaroonPath, n.LnCLI, n.BtcCtl} {
			if _, err := os.Stat(p); err != nil {
				t.Error(err)
			}
		}
	}
	scid := regexp.MustCompile(`^\d+x\d+x\d+$`)
	for _, c := range n.Channels {
		if !scid.MatchString(c.SCID) || c.SCID != SCID(c.ChanID) || c.Purpose == "" {
			t.Errorf("channel %+v", c)
		}
	}
}

// networkPids reads the pid files of the network in dir.
func networkPids(t *testing.T, dir string) []int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "node-*", "lnd.pid"))
	files = append(files, filepath.Join(dir, "btcd", "btcd.pid"))
	var pids []int
	for _, f := range files {
		if pid, ok := readPid(f); ok {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestSCID(t *testing.T) {
	// 103x1x0 as lnd numbers it: block<<40 | tx<<16 | output.
	if got := SCID(103<<40 | 1<<16 | 0); got != "103x1x0" {
		t.Errorf("SCID = %s", got)
	}
}

func TestTopology(t *testing.T) {
	specs := topology(7)
	if len(specs) != 8 {
		t.Fatalf("%d channels for 7 nodes, want 8", len(specs))
	}
	for _, s := range specs {
		if s.Sat < 20_000 {
			t.Errorf("%+v below lnd's minimum channel size", s)
		}
		fits := s.Sat*1000 > int64(TestAmount)
		if (s.Name == ChanTooSmall) == fits {
			t.Errorf("%+v: fits the test amount %v", s, fits)
		}
	}
}
