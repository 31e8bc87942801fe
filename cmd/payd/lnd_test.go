package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/clnschema"
	"github.com/payengine/payengine/internal/regtest"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/rpc"
)

// The lnd backend over a regtest network of real lnd nodes (package
// internal/regtest): one network for the package's tests, started by the
// first test that needs it and stopped in TestMain. payd runs as a process
// of its own with --backend lnd on the payer's node; invoices come from the
// payee's lnd. The tests run in order on the one network: each starts its
// own payd (a fresh failure memory), so each first tries the cheap path,
// whose last channel is drained.

var lndFix struct {
	once sync.Once
	dir  string // the network's, and payd's binary
	n    *regtest.Network
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fleetBins.dir != "" {
		os.RemoveAll(fleetBins.dir)
	}
	if lndFix.dir != "" {
		// Down finds the processes by their pid files: stop them before
		// the directory goes, and keep it if they would not stop.
		if err := regtest.Down(netDir()); err != nil {
			fmt.Fprintf(os.Stderr, "regtest down: %v (network left in %s)\n", err, lndFix.dir)
			code = 1
		} else {
			os.RemoveAll(lndFix.dir)
		}
	}
	os.Exit(code)
}

// netDir is the shared network's directory.
func netDir() string { return filepath.Join(lndFix.dir, "net") }

// regtestNet returns the shared network, starting it (and building payd)
// on first use.
func regtestNet(t testing.TB) *regtest.Network {
	t.Helper()
	lndFix.once.Do(func() {
		if lndFix.dir, lndFix.err = os.MkdirTemp("", "paydlnd"); lndFix.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(lndFix.dir, "payd"), ".").CombinedOutput()
		if err != nil {
			lndFix.err = fmt.Errorf("go build payd: %w\n%s", err, out)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		start := time.Now()
		lndFix.n, lndFix.err = regtest.Up(ctx, regtest.Options{Dir: netDir()})
		fmt.Fprintf(os.Stderr, "regtest network up in %s\n", time.Since(start).Round(100*time.Millisecond))
	})
	if lndFix.err != nil {
		t.Fatal(lndFix.err)
	}
	return lndFix.n
}

// lndPayd is payd over the payer's lnd, on its own data directory.
type lndPayd struct {
	t       testing.TB
	n       *regtest.Network
	dataDir string
	runs    int
	p       *proc
	c       *rpc.Client
}

func startLndPayd(t testing.TB, n *regtest.Network) *lndPayd {
	t.Helper()
	dir, err := os.MkdirTemp(lndFix.dir, "pd")
	if err != nil {
		t.Fatal(err)
	}
	d := &lndPayd{t: t, n: n, dataDir: dir}
	d.start()
	t.Cleanup(func() {
		if d.p != nil {
			d.c.Close()
			d.p.stop(t)
		}
	})
	return d
}

func (d *lndPayd) start() {
	d.t.Helper()
	d.runs++
	nd := d.n.Nodes[regtest.Payer]
	d.p = startProc(d.t, filepath.Join(lndFix.dir, "payd"), filepath.Join(d.dataDir, fmt.Sprintf("payd-%d.log", d.runs)),
		"--datadir", d.dataDir, "--backend", "lnd", "--lnd.rpcserver", nd.RPCServer, "--lnd.tlscertpath", nd.TLSCertPath,
		"--lnd.macaroonpath", nd.MacaroonPath, "--lnd.network", "regtest", "--log-level", "debug")
	d.c = waitRPC(d.t, d.p, filepath.Join(d.dataDir, rpc.SocketName), "getinfo")
}

// kill SIGKILLs payd.
func (d *lndPayd) kill() {
	d.p.cmd.Process.Kill()
	<-d.p.done
	d.c.Close()
	d.p, d.c = nil, nil
}

// call makes an RPC call whose result must validate against Core
// Lightning's schema of the command (test 6), and returns the raw result.
func (d *lndPayd) call(method string, params any) (json.RawMessage, error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var raw json.RawMessage
	if err := d.c.Call(ctx, method, params, &raw); err != nil {
		return nil, err
	}
	if file, ok := map[string]string{"pay": "pay", "sendpay": "sendpay", "waitsendpay": "waitsendpay", "getroute": "getroute",
		"listsendpays": "listsendpays", "listpays": "listpays", "decodepay": "decodepay"}[method]; ok {
		s, err := clnschema.Response(file)
		if err != nil {
			d.t.Fatal(err)
		}
		if err := clnschema.Validate(s, raw); err != nil {
			d.t.Errorf("%s answer does not validate against CLN's schema: %v\n%s", method, err, raw)
		}
	}
	return raw, nil
}

func (d *lndPayd) ok(method string, params any, out any) {
	d.t.Helper()
	raw, err := d.call(method, params)
	if err != nil {
		d.t.Fatalf("%s: %v", method, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			d.t.Fatalf("%s: %v", method, err)
		}
	}
}

// fails makes a call that must fail with code and returns the error.
func (d *lndPayd) fails(method string, params any, code int) *rpc.Error {
	d.t.Helper()
	_, err := d.call(method, params)
	var e *rpc.Error
	if !errors.As(err, &e) || e.Code != code {
		d.t.Fatalf("%s: got %v, want code %d", method, err, code)
	}
	return e
}

// ledger opens payd's ledger; payd must be stopped.
func (d *lndPayd) ledger() *persistence.Ledger {
	d.t.Helper()
	l, err := persistence.Open(filepath.Join(d.dataDir, "ledger"), nil)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { l.Close() })
	return l
}

// lncli runs lncli against node i and decodes its JSON answer into out.
func lncli(t testing.TB, n *regtest.Network, i int, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := n.Lncli(ctx, i, args...)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("lncli %v: %v: %s", args, err, b)
		}
	}
}

// addInvoice has the payee issue an invoice of sat satoshis.
func addInvoice(t *testing.T, n *regtest.Network, sat int64, args ...string) (bolt11, hash string) {
	t.Helper()
	var inv struct {
		Request string `json:"payment_request"`
		Hash    string `json:"r_hash"`
	}
	lncli(t, n, regtest.Payee, &inv, append([]string{"addinvoice", "--amt", strconv.FormatInt(sat, 10)}, args...)...)
	return inv.Request, inv.Hash
}

type lndHTLC struct {
	Status string `json:"status"`
	Route  struct {
		Hops []struct {
			ChanID string `json:"chan_id"`
		} `json:"hops"`
	} `json:"route"`
	Failure *struct {
		Code        string `json:"code"`
		SourceIndex int    `json:"failure_source_index"`
	} `json:"failure"`
}

// lndPayment is the payer's lnd record of a payment hash (ListPayments).
func lndPayment(t *testing.T, n *regtest.Network, hash string) (status string, htlcs []lndHTLC) {
	t.Helper()
	var ps struct {
		Payments []struct {
			Hash   string    `json:"payment_hash"`
			Status string    `json:"status"`
			HTLCs  []lndHTLC `json:"htlcs"`
		} `json:"payments"`
	}
	lncli(t, n, regtest.Payer, &ps, "listpayments", "--include_incomplete")
	for _, p := range ps.Payments {
		if p.Hash == hash {
			return p.Status, p.HTLCs
		}
	}
	return "", nil
}

// settledHTLCs counts the attempts of a hash lnd settled.
func settledHTLCs(htlcs []lndHTLC) int {
	k := 0
	for _, h := range htlcs {
		if h.Status == "SUCCEEDED" {
			k++
		}
	}
	return k
}

type payJSON struct {
	Preimage    string `json:"payment_preimage"`
	Hash        string `json:"payment_hash"`
	Status      string `json:"status"`
	AmountMsat  uint64 `json:"amount_msat"`
	AmountSent  uint64 `json:"amount_sent_msat"`
	Destination string `json:"destination"`
}

func checkPreimage(t *testing.T, preimage, hash string) {
	t.Helper()
	pre, err := hex.DecodeString(preimage)
	h := sha256.Sum256(pre)
	if err != nil || hex.EncodeToString(h[:]) != hash {
		t.Fatalf("preimage %s does not hash to %s", preimage, hash)
	}
}

// Test 1 (and the drained cheap path, test 2): payd --backend lnd pays an
// lncli addinvoice invoice; the preimage matches, the payee's invoice is
// settled, the payer's lnd lists the payment. The first attempt takes the
// cheap path and fails at node-1 with TEMPORARY_CHANNEL_FAILURE on the
// drained channel, with its channel_update; pay retries over the expensive
// path. The ledger and lnd both hold both attempts, and paystatus shows
// them.
func TestLNDPay(t *testing.T) {
	n := regtestNet(t)
	d := startLndPayd(t, n)
	var info struct {
		ID      string `json:"id"`
		Network string `json:"network"`
		Height  uint32 `json:"blockheight"`
	}
	d.ok("getinfo", nil, &info)
	if info.ID != n.Nodes[regtest.Payer].PubKey || info.Network != "regtest" || info.Height == 0 {
		t.Fatalf("getinfo %+v", info)
	}
	// The simnet-* commands are not there over lnd.
	d.fails("simnet-invoice", map[string]any{"node": info.ID, "amount_msat": 1000}, rpc.CodeMethodNotFound)

	bolt11, hash := addInvoice(t, n, int64(regtest.TestAmount/1000))
	var dec map[string]any
	d.ok("decodepay", []any{bolt11}, &dec)
	if dec["currency"] != "bcrt" || dec["payee"] != n.Nodes[regtest.Payee].PubKey {
		t.Fatalf("decodepay %v", dec)
	}
	var p payJSON
	d.ok("pay", map[string]any{"bolt11": bolt11}, &p)
	if p.Status != "complete" || p.Hash != hash || p.AmountMsat != uint64(regtest.TestAmount) ||
		p.AmountSent != uint64(regtest.TestAmount)+regtest.ExpensiveBaseMsat+uint64(regtest.TestAmount)*regtest.ExpensiveFeePPM/1_000_000 {
		t.Fatalf("pay: %+v", p)
	}
	checkPreimage(t, p.Preimage, hash)

	var inv struct {
		State   string `json:"state"`
		AmtPaid string `json:"amt_paid_msat"`
	}
	lncli(t, n, regtest.Payee, &inv, "lookupinvoice", hash)
	if inv.State != "SETTLED" || inv.AmtPaid != strconv.FormatUint(uint64(regtest.TestAmount), 10) {
		t.Fatalf("payee's invoice: %+v", inv)
	}
	status, htlcs := lndPayment(t, n, hash)
	if status != "SUCCEEDED" || len(htlcs) != 2 || settledHTLCs(htlcs) != 1 {
		t.Fatalf("payer's lnd: %s %+v", status, htlcs)
	}
	drained, _ := n.Channel(regtest.ChanCheapDrained)
	if f := htlcs[0].Failure; htlcs[0].Status != "FAILED" || f == nil || f.Code != "TEMPORARY_CHANNEL_FAILURE" || f.SourceIndex != 1 ||
		htlcs[0].Route.Hops[1].ChanID != strconv.FormatUint(drained.ChanID, 10) {
		t.Fatalf("first attempt in lnd: %+v", htlcs[0])
	}
	var lp struct {
		Pays []struct {
			Status   string `json:"status"`
			Preimage string `json:"preimage"`
		} `json:"pays"`
	}
	d.ok("listpays", []any{bolt11}, &lp)
	if len(lp.Pays) != 1 || lp.Pays[0].Status != "complete" || lp.Pays[0].Preimage != p.Preimage {
		t.Fatalf("listpays %+v", lp)
	}
	var ls struct {
		Payments []payJSON `json:"payments"`
	}
	d.ok("listsendpays", map[string]any{"payment_hash": hash}, &ls)
	if len(ls.Payments) != 1 || ls.Payments[0].Status != "complete" {
		t.Fatalf("listsendpays %+v", ls)
	}
	// listsendpays has one row per hash; paystatus shows both attempts:
	// the first failed by node-1 on the drained channel, the second paid.
	var ps struct {
		Pay []struct {
			Bolt11   string `json:"bolt11"`
			Attempts []struct {
				State string `json:"state"`
				Route []struct {
					Channel string `json:"channel"`
				} `json:"route"`
				Failure *struct {
					Code int `json:"code"`
					Data struct {
						ErringIndex   int    `json:"erring_index"`
						FailCode      int    `json:"failcode"`
						FailCodeName  string `json:"failcodename"`
						ErringNode    string `json:"erring_node"`
						ErringChannel string `json:"erring_channel"`
					} `json:"data"`
				} `json:"failure"`
				Success *struct {
					Preimage string `json:"payment_preimage"`
				} `json:"success"`
			} `json:"attempts"`
		} `json:"pay"`
	}
	d.ok("paystatus", []any{bolt11}, &ps)
	if len(ps.Pay) != 1 || ps.Pay[0].Bolt11 != bolt11 || len(ps.Pay[0].Attempts) != 2 {
		t.Fatalf("paystatus %+v", ps)
	}
	first, second := ps.Pay[0].Attempts[0], ps.Pay[0].Attempts[1]
	if f := first.Failure; first.State != "completed" || first.Success != nil || f == nil || f.Code != 204 ||
		f.Data.ErringIndex != 1 || f.Data.FailCode != 0x1007 || f.Data.FailCodeName != "WIRE_TEMPORARY_CHANNEL_FAILURE" ||
		f.Data.ErringNode != n.Nodes[regtest.CheapHop].PubKey || f.Data.ErringChannel != drained.SCID ||
		len(first.Route) < 2 || first.Route[1].Channel != drained.SCID {
		t.Fatalf("paystatus' first attempt: %+v %+v", first, first.Failure)
	}
	if second.State != "completed" || second.Failure != nil || second.Success == nil || second.Success.Preimage != p.Preimage {
		t.Fatalf("paystatus' second attempt: %+v", second)
	}

	// Paying a paid bolt11 gives the stored preimage (test 3).
	var again payJSON
	d.ok("pay", []any{bolt11}, &again)
	if again.Preimage != p.Preimage || again.Status != "complete" {
		t.Fatalf("paying again: %+v", again)
	}
	if _, htlcs := lndPayment(t, n, hash); len(htlcs) != 2 {
		t.Fatalf("paying a paid invoice again sent %d htlcs", len(htlcs)-2)
	}

	// The ledger holds both attempts, the first with the routing failure
	// of node-1 on the drained channel and its signed channel_update.
	d.c.Close()
	d.p.stop(t)
	d.p = nil
	l := d.ledger()
	var h [32]byte
	hex.Decode(h[:], []byte(hash))
	atts, err := l.Attempts(h, 0)
	if err != nil || len(atts) != 2 {
		t.Fatalf("ledger attempts: %d %v", len(atts), err)
	}
	f := atts[0].Failure
	if f == nil || f.Code != 204 || f.Routing == nil || f.Routing.ErringIndex != 1 || f.Routing.FailCode != 0x1007 ||
		f.Routing.ErringNode.String() != n.Nodes[regtest.CheapHop].PubKey || f.Routing.ErringChannel.String() != drained.SCID ||
		len(f.Routing.ChannelUpdate) == 0 {
		t.Fatalf("first attempt in the ledger: %+v %+v", f, f.Routing)
	}
	if atts[1].Preimage == nil || hex.EncodeToString(atts[1].Preimage[:]) != p.Preimage {
		t.Fatalf("second attempt: %+v", atts[1])
	}
}

// Test 3: a destination failure (sendpay below the invoice amount) is 203
// with erring_channel 0:0:0 and failcode 0x400F, as over simnet; an
// expired invoice is 207.
func TestLNDDestinationFailures(t *testing.T) {
	n := regtestNet(t)
	d := startLndPayd(t, n)
	bolt11, hash := addInvoice(t, n, int64(regtest.TestAmount/1000))
	var dec struct {
		Secret string `json:"payment_secret"`
	}
	d.ok("decodepay", []any{bolt11}, &dec)
	low := uint64(regtest.TestAmount) / 2
	var route struct {
		Route []map[string]any `json:"route"`
	}
	// The expensive path: the cheap one would fail before the destination.
	drained, _ := n.Channel(regtest.ChanCheapDrained)
	d.ok("getroute", map[string]any{"id": n.Nodes[regtest.Payee].PubKey, "amount_msat": low, "riskfactor": 1, "cltv": 80,
		"exclude": []string{drained.SCID + "/0", drained.SCID + "/1"}}, &route)
	d.ok("sendpay", map[string]any{"route": route.Route, "payment_hash": hash, "payment_secret": dec.Secret, "amount_msat": low}, nil)
	e := d.fails("waitsendpay", map[string]any{"payment_hash": hash, "timeout": 60}, 203)
	var rf struct {
		ErringIndex   int    `json:"erring_index"`
		FailCode      int    `json:"failcode"`
		ErringNode    string `json:"erring_node"`
		ErringChannel string `json:"erring_channel"`
		FailCodeName  string `json:"failcodename"`
	}
	if err := json.Unmarshal(e.Data.(json.RawMessage), &rf); err != nil {
		t.Fatalf("203 data: %v", err)
	}
	if rf.FailCode != 16399 || rf.ErringChannel != "0:0:0" || rf.ErringIndex != len(route.Route) ||
		rf.ErringNode != n.Nodes[regtest.Payee].PubKey || rf.FailCodeName != "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS" {
		t.Fatalf("203: %s %+v", e.Message, rf)
	}

	expired, _ := addInvoice(t, n, 1000, "--expiry", "1")
	time.Sleep(2 * time.Second)
	d.fails("pay", []any{expired}, 207)
}

// payAsync starts a pay on its own connection; the answer (or the error,
// if payd dies) arrives on the channel.
func (d *lndPayd) payAsync(params any) <-chan error {
	d.t.Helper()
	c, err := rpc.Dial(filepath.Join(d.dataDir, rpc.SocketName))
	if err != nil {
		d.t.Fatal(err)
	}
	out := make(chan error, 1)
	go func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out <- c.Call(ctx, "pay", params, nil)
	}()
	return out
}

// waitFor polls cond every 100 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Test 4: payd is killed (SIGKILL) while its HTLC is held by the payee
// (a hold invoice) and restarted on the same data directory: the attempt
// is found again through lnd, stays pending, settles once when the payee
// settles, and is never sent again.
func TestLNDKillWhileHeld(t *testing.T) {
	n := regtestNet(t)
	d := startLndPayd(t, n)
	r := rand.New(rand.NewPCG(4, 44))
	var pre [32]byte
	for i := range pre {
		pre[i] = byte(r.Uint32())
	}
	h := sha256.Sum256(pre[:])
	hash := hex.EncodeToString(h[:])
	var inv struct {
		Request string `json:"payment_request"`
	}
	lncli(t, n, regtest.Payee, &inv, "addholdinvoice", hash, "--amt", strconv.FormatUint(uint64(regtest.TestAmount/1000), 10))
	paid := d.payAsync(map[string]any{"bolt11": inv.Request})
	waitFor(t, time.Minute, "the payee to hold the HTLC", func() bool {
		var st struct {
			State string `json:"state"`
		}
		lncli(t, n, regtest.Payee, &st, "lookupinvoice", hash)
		return st.State == "ACCEPTED"
	})
	d.kill()
	if err := <-paid; err == nil {
		t.Fatal("pay answered although payd was killed")
	}
	_, before := lndPayment(t, n, hash)

	d.start()
	var ls struct {
		Payments []payJSON `json:"payments"`
	}
	d.ok("listsendpays", map[string]any{"payment_hash": hash}, &ls)
	if len(ls.Payments) != 1 || ls.Payments[0].Status != "pending" {
		t.Fatalf("after the restart: %+v", ls)
	}
	lncli(t, n, regtest.Payee, nil, "settleinvoice", hex.EncodeToString(pre[:]))
	var p payJSON
	d.ok("waitsendpay", map[string]any{"payment_hash": hash, "timeout": 60}, &p)
	if p.Status != "complete" || p.Preimage != hex.EncodeToString(pre[:]) {
		t.Fatalf("waitsendpay after the restart: %+v", p)
	}
	var lp struct {
		Pays []struct {
			Status string `json:"status"`
		} `json:"pays"`
	}
	d.ok("listpays", []any{inv.Request}, &lp)
	if len(lp.Pays) != 1 || lp.Pays[0].Status != "complete" {
		t.Fatalf("listpays %+v", lp)
	}
	status, htlcs := lndPayment(t, n, hash)
	if status != "SUCCEEDED" || settledHTLCs(htlcs) != 1 || len(htlcs) != len(before) {
		t.Fatalf("payer's lnd: %s, %d htlcs (%d before the restart): %+v", status, len(htlcs), len(before), htlcs)
	}
	d.c.Close()
	d.p.stop(t)
	d.p = nil
	atts, err := d.ledger().Attempts(h, 0)
	if err != nil || len(atts) != len(htlcs) {
		t.Fatalf("ledger has %d attempts (%v), lnd %d htlcs", len(atts), err, len(htlcs))
	}
}

// Test 5: the payer's lnd stops while payd runs and starts again: payd
// keeps answering, logs that lnd is unreachable and that it is back, and a
// pay made meanwhile completes once, with nothing lost or sent twice.
func TestLNDRestartLnd(t *testing.T) {
	n := regtestNet(t)
	d := startLndPayd(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bolt11, hash := addInvoice(t, n, int64(regtest.TestAmount/1000))
	if err := n.StopNode(ctx, regtest.Payer); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			n.StartNode(ctx, regtest.Payer)
		}
	}()
	paid := d.payAsync(map[string]any{"bolt11": bolt11, "retry_for": 180})
	logged := func(s string) func() bool {
		return func() bool {
			b, _ := os.ReadFile(d.p.log)
			return strings.Contains(string(b), s)
		}
	}
	waitFor(t, 30*time.Second, "payd to log that lnd is unreachable", logged("lnd is unreachable"))
	d.ok("getinfo", nil, nil) // payd itself still answers
	select {
	case err := <-paid:
		t.Fatalf("pay ended while lnd was down: %v", err)
	default:
	}
	if err := n.StartNode(ctx, regtest.Payer); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitFor(t, 30*time.Second, "payd to log that lnd is back", logged("lnd is back"))
	if err := <-paid; err != nil {
		t.Fatalf("pay across lnd's restart: %v", err)
	}
	var lp struct {
		Pays []struct {
			Status string `json:"status"`
		} `json:"pays"`
	}
	d.ok("listpays", []any{bolt11}, &lp)
	if len(lp.Pays) != 1 || lp.Pays[0].Status != "complete" {
		t.Fatalf("listpays %+v", lp)
	}
	var inv struct {
		State   string `json:"state"`
		AmtPaid string `json:"amt_paid_msat"`
	}
	lncli(t, n, regtest.Payee, &inv, "lookupinvoice", hash)
	status, htlcs := lndPayment(t, n, hash)
	if inv.State != "SETTLED" || inv.AmtPaid != strconv.FormatUint(uint64(regtest.TestAmount), 10) ||
		status != "SUCCEEDED" || settledHTLCs(htlcs) != 1 {
		t.Fatalf("payee %+v; payer's lnd %s %+v", inv, status, htlcs)
	}
}

// Bad or missing credentials, an unreachable lnd and a wrong network are
// clear errors at start, exit status 1 or 2, never a panic.
func TestLNDBadConfig(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "tls.cert")
	mac := filepath.Join(dir, "admin.macaroon")
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	os.WriteFile(mac, []byte{0x02, 0x01}, 0o600)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--backend", "lnd"}, 1, "--lnd.rpcserver is required"},
		{[]string{"--backend", "lnd", "--lnd.rpcserver", "127.0.0.1:1", "--lnd.tlscertpath", filepath.Join(dir, "nope"),
			"--lnd.macaroonpath", mac, "--lnd.network", "regtest"}, 1, "--lnd.tlscertpath"},
		{[]string{"--backend", "lnd", "--lnd.rpcserver", "127.0.0.1:1", "--lnd.tlscertpath", cert,
			"--lnd.macaroonpath", mac, "--lnd.network", "moonnet"}, 1, `--lnd.network "moonnet"`},
		{[]string{"--backend", "lnd", "--lnd.rpcserver", "127.0.0.1:1", "--lnd.tlscertpath", cert,
			"--lnd.macaroonpath", mac, "--lnd.network", "regtest"}, 1, "lnd at 127.0.0.1:1"},
		{[]string{"--backend", "ldn"}, 2, `--backend "ldn"`},
	} {
		var out, errOut syncBuffer
		code := run(context.Background(), append([]string{"--datadir", filepath.Join(dir, "pd")}, c.args...),
			func(string) string { return "" }, &out, &errOut, nil)
		if code != c.code || !strings.Contains(errOut.String(), c.want) || strings.Contains(errOut.String(), "panic") {
			t.Errorf("payd %v: exit %d, want %d with %q; stderr:\n%s", c.args, code, c.code, c.want, errOut.String())
		}
	}
	// The PAYD_LND_* variables set the flags.
	c, err := parse(nil, func(k string) string {
		return map[string]string{"PAYD_BACKEND": "lnd", "PAYD_LND_RPCSERVER": "h:1", "PAYD_LND_NETWORK": "regtest"}[k]
	}, &syncBuffer{})
	if err != nil || c.backend != "lnd" || c.lnd.RPCServer != "h:1" || c.lnd.Network != "regtest" {
		t.Fatalf("environment: %+v %v", c, err)
	}
}
