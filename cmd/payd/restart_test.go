package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/payengine/payengine/rpc"
)

// simInvoice is simnet-invoice's answer.
type simInvoice struct {
	Bolt11        string `json:"bolt11"`
	PaymentHash   string `json:"payment_hash"`
	PaymentSecret string `json:"payment_secret"`
}

// simTruth is simnet-truth's answer.
type simTruth struct {
	Settlements   int    `json:"settlements"`
	DeliveredMsat uint64 `json:"delivered_msat"`
	HTLCs         int    `json:"htlcs"`
}

// payResult is the part of pay's answer the restart tests read.
type payResult struct {
	Status          string  `json:"status"`
	PaymentPreimage string  `json:"payment_preimage"`
	PaymentHash     string  `json:"payment_hash"`
	CreatedAt       float64 `json:"created_at"`
}

// payable returns a node a 10 sat pay reaches, with the invoice it paid
// and pay's answer.
func payable(t *testing.T, c *rpc.Client) (string, simInvoice, payResult) {
	t.Helper()
	var nodes struct{ Nodes []nodeJSON }
	call(t, c, "simnet-listnodes", nil, &nodes)
	sort.Slice(nodes.Nodes, func(i, j int) bool { return nodes.Nodes[i].NumChannels > nodes.Nodes[j].NumChannels })
	for _, n := range nodes.Nodes[1:30] {
		var inv simInvoice
		call(t, c, "simnet-invoice", map[string]any{"node": n.ID, "amount_msat": "10sat"}, &inv)
		var paid payResult
		if err := tryCall(c, "pay", []any{inv.Bolt11}, &paid); err == nil && paid.Status == "complete" {
			return n.ID, inv, paid
		}
	}
	t.Fatal("no node could be paid")
	return "", simInvoice{}, payResult{}
}

// checkPaid fails unless pay's answer is complete with the invoice's
// preimage.
func checkPaid(t *testing.T, what string, inv simInvoice, paid payResult) {
	t.Helper()
	pre, err := hex.DecodeString(paid.PaymentPreimage)
	h := sha256.Sum256(pre)
	if err != nil || paid.Status != "complete" || hex.EncodeToString(h[:]) != inv.PaymentHash {
		t.Fatalf("%s: %+v does not pay %s", what, paid, inv.PaymentHash)
	}
}

// The embedded network outlives a payd restart: an invoice issued after
// it has a new payment hash and secret (the rebuilt network used to draw
// the first run's again, and pay answered "complete" from the ledger with
// the old preimage though no HTLC went out), and paying it sends an HTLC
// that the destination settles; what the first run paid is still known.
func TestRestartInvoicesAreNew(t *testing.T) {
	dir := t.TempDir()
	d := start(t, "--datadir", dir, "--log-level", "warn")
	c, err := rpc.Dial(filepath.Join(dir, rpc.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	node, first, firstPaid := payable(t, c)
	checkPaid(t, "first run", first, firstPaid)
	c.Close()
	d.stop(t)

	d = start(t, "--datadir", dir, "--log-level", "warn")
	defer d.stop(t)
	c, err = rpc.Dial(filepath.Join(dir, rpc.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var second simInvoice
	call(t, c, "simnet-invoice", map[string]any{"node": node, "amount_msat": "10sat"}, &second)
	if second.PaymentHash == first.PaymentHash || second.PaymentSecret == first.PaymentSecret {
		t.Fatalf("the invoice after the restart repeats the first run's: %+v", second)
	}
	var truth simTruth
	call(t, c, "simnet-truth", map[string]any{"payment_hash": first.PaymentHash}, &truth)
	if truth.Settlements != 1 || truth.HTLCs != 1 {
		t.Fatalf("truth of the first run's payment after the restart: %+v", truth)
	}
	var paid payResult
	call(t, c, "pay", []any{second.Bolt11}, &paid)
	checkPaid(t, "after the restart", second, paid)
	if paid.PaymentPreimage == firstPaid.PaymentPreimage {
		t.Fatal("the same preimage as the first run's")
	}
	call(t, c, "simnet-truth", map[string]any{"payment_hash": second.PaymentHash}, &truth)
	if truth.Settlements != 1 || truth.HTLCs != 1 || truth.DeliveredMsat != 10_000 {
		t.Fatalf("the network saw of the new payment: %+v", truth)
	}
}

// A payment in flight when payd is killed (kill -9; every hop takes
// 300 ms) completes after the restart, exactly once: the network kept the
// HTLC and resumes it, the engine collects its outcome, the ledger says
// complete, the destination settled once, and no second HTLC went out;
// pay of the same bolt11 then answers with the same preimage. (The network
// used to be rebuilt empty: the HTLC was forgotten and the payment ended
// with 203.)
func TestKillInFlightCompletes(t *testing.T) {
	bin := t.TempDir()
	build(t, bin, "payd", ".")
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	dir, err := os.MkdirTemp("", "inflight")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dataDir := filepath.Join(dir, "payd")
	args := []string{"--datadir", dataDir, "--latency", "300ms", "--log-level", "warn"}
	pd := startProc(t, filepath.Join(bin, "payd"), filepath.Join(dir, "payd-1.log"), args...)
	t.Cleanup(func() { pd.cmd.Process.Kill(); <-pd.done })
	c := waitRPC(t, pd, filepath.Join(dataDir, rpc.SocketName), "getinfo")
	node, _, _ := payable(t, c)

	var inv simInvoice
	call(t, c, "simnet-invoice", map[string]any{"node": node, "amount_msat": "10sat"}, &inv)
	go tryCall(c, "pay", []any{inv.Bolt11}, nil) // cut by the kill
	var truth simTruth
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		call(t, c, "simnet-truth", map[string]any{"payment_hash": inv.PaymentHash}, &truth)
		if truth.HTLCs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the HTLC never went out")
		}
	}
	if truth.Settlements != 0 {
		t.Fatalf("settled before the kill: %+v; the hops are too fast for the test", truth)
	}
	pd.cmd.Process.Kill()
	<-pd.done
	c.Close()

	pd = startProc(t, filepath.Join(bin, "payd"), filepath.Join(dir, "payd-2.log"), args...)
	c = waitRPC(t, pd, filepath.Join(dataDir, rpc.SocketName), "getinfo")
	defer c.Close()
	var list struct {
		Payments []struct {
			Status   string `json:"status"`
			Preimage string `json:"payment_preimage"`
		} `json:"payments"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		call(t, c, "listsendpays", map[string]any{"payment_hash": inv.PaymentHash}, &list)
		if len(list.Payments) == 1 && list.Payments[0].Status != "pending" {
			break
		}
		if time.Now().After(deadline) || len(list.Payments) > 1 {
			t.Fatalf("after the restart: %+v", list.Payments)
		}
	}
	if list.Payments[0].Status != "complete" {
		t.Fatalf("the payment in flight at the kill ended %q", list.Payments[0].Status)
	}
	call(t, c, "simnet-truth", map[string]any{"payment_hash": inv.PaymentHash}, &truth)
	if truth.Settlements != 1 || truth.HTLCs != 1 || truth.DeliveredMsat != 10_000 {
		t.Fatalf("the network saw %+v, want one HTLC settled once", truth)
	}
	var paid payResult
	call(t, c, "pay", []any{inv.Bolt11}, &paid)
	checkPaid(t, "pay after the restart", inv, paid)
	if paid.PaymentPreimage != list.Payments[0].Preimage {
		t.Fatalf("pay answers preimage %s, listsendpays %s", paid.PaymentPreimage, list.Payments[0].Preimage)
	}
	call(t, c, "simnet-truth", map[string]any{"payment_hash": inv.PaymentHash}, &truth)
	if truth.HTLCs != 1 {
		t.Fatalf("pay after the restart sent another HTLC: %+v", truth)
	}
	pd.stop(t)
}
