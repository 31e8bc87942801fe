package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/rpc"
)

// The kill matrix: payd pays over a simnetd that outlives it and is
// SIGKILLed at seeded instants while 16 pays run at once, then restarted
// on the same data directory. Once every payment has ended (neither
// listpays, which counts a pay between two attempts as pending, nor
// listsendpays shows one pending; a pay killed before its first attempt
// or between attempts is taken up by the restart), simnetd's ground
// truth must agree with payd's ledger:
//
//   - no payment hash settles twice;
//   - our node added exactly one HTLC per attempt the ledger holds that
//     left (an attempt written just before a kill, whose HTLC never left,
//     fails on recovery with link.ErrUnknownHTLC and counts none): no
//     HTLC is sent again for an attempt already out;
//   - payd says complete exactly when the destination settled;
//   - a pay whose answer arrived agrees with the final status, and no
//     payment or attempt is left pending in the ledger.
//
// -short: 150 payments, 3 kills. Otherwise 2,000 payments, 20 kills.
// KILL_SEED picks the seed (default 1), KILL_LOG_LEVEL payd's log level
// (default warn); KILL_KEEP=1 keeps the logs and data of a failed run. A
// payment that fails a check is diagnosed in the test's log (diagnose).
func TestKillMatrix(t *testing.T) {
	km := killMatrix{payments: 2000, kills: 20, seed: 1, concurrency: 16}
	if testing.Short() {
		km.payments, km.kills = 150, 3
	}
	if s := os.Getenv("KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KILL_SEED=%q: %v", s, err)
		}
		km.seed = v
	}
	t.Logf("kill matrix: %d payments, %d kills, seed %d (rerun: KILL_SEED=%d go test -run TestKillMatrix ./cmd/payd)",
		km.payments, km.kills, km.seed, km.seed)
	km.run(t)
}

type killMatrix struct {
	payments, kills, concurrency int
	seed                         uint64
}

// outcome is what the client saw of one pay call.
type outcome uint8

const (
	notSent  outcome = iota
	answered         // the pay returned a result: complete
	refused          // the pay returned a JSON-RPC error
	cut              // the connection died (a kill) or the call timed out
)

func (km killMatrix) run(t *testing.T) {
	setup := time.Now()
	bin := t.TempDir()
	build(t, bin, "simnetd", "../simnetd")
	build(t, bin, "payd", ".")
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	dir, err := os.MkdirTemp("", "kill")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("KILL_KEEP") != "" {
			t.Logf("KILL_KEEP: logs and data kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	simDir, dataDir := filepath.Join(dir, "sim"), filepath.Join(dir, "payd")
	rng := rand.New(rand.NewPCG(km.seed, 0x6b696c6c))

	sim := startProc(t, filepath.Join(bin, "simnetd"), filepath.Join(dir, "simnetd.log"),
		"--dir", simDir, "--graph", "sub300", "--seed", "1", "--latency", "2ms+3ms", "--log-level", "warn")
	t.Cleanup(func() { sim.stop(t) })
	ctl := waitRPC(t, sim, filepath.Join(simDir, node.SimnetRPCName), "simnet-listnodes")
	defer ctl.Close()

	pd := &paydRunner{t: t, bin: filepath.Join(bin, "payd"), dir: dir, dataDir: dataDir,
		link: filepath.Join(simDir, node.SimnetLinkName)}
	pd.start()
	t.Cleanup(pd.stopAll)

	// Invoices over the nodes payd finds a route to.
	var nodes struct {
		Nodes []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	call(t, ctl, "simnet-listnodes", nil, &nodes)
	// payd's own simnet-* commands send the caller to simnetd's control
	// socket: its copy of the network is not the one that pays.
	var re *rpc.Error
	if err := tryCall(pd.client(), "simnet-listnodes", nil, nil); !errors.As(err, &re) || re.Code != rpc.CodeLightningd ||
		!strings.Contains(re.Message, filepath.Join(simDir, node.SimnetRPCName)) {
		t.Fatalf("simnet-listnodes on payd --simnet-addr: %v", err)
	}
	var dests []string
	for _, n := range nodes.Nodes {
		if tryCall(pd.client(), "getroute", map[string]any{"id": n.ID, "amount_msat": 100_000, "riskfactor": 1}, nil) == nil {
			dests = append(dests, n.ID)
		}
	}
	if len(dests) < 10 {
		t.Fatalf("payd finds routes to %d of %d nodes", len(dests), len(nodes.Nodes))
	}
	type invoice struct {
		Bolt11      string `json:"bolt11"`
		PaymentHash string `json:"payment_hash"`
	}
	invs := make([]invoice, km.payments)
	for i := range invs {
		call(t, ctl, "simnet-invoice", map[string]any{"node": dests[rng.IntN(len(dests))],
			"amount_msat": 1000 + rng.IntN(50_000)}, &invs[i])
	}
	t.Logf("%d invoices over %d reachable nodes; binaries built and daemons up in %v", len(invs), len(dests),
		time.Since(setup).Round(time.Millisecond))
	begin := time.Now()

	// Kills at seeded numbers of pays started, each a seeded moment later.
	points := make([]int, km.kills)
	for i := range points {
		points[i] = 1 + rng.IntN(km.payments-1)
	}
	slices.Sort(points)
	delays := make([]time.Duration, km.kills)
	for i := range delays {
		delays[i] = time.Duration(rng.IntN(30)) * time.Millisecond
	}

	outcomes := make([]outcome, km.payments)
	answers := make([]error, km.payments)
	var next, started atomic.Int64
	var wg sync.WaitGroup
	for range km.concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= km.payments {
					return
				}
				c := pd.client()
				started.Add(1)
				cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				err := c.Call(cctx, "pay", map[string]any{"bolt11": invs[i].Bolt11}, nil)
				cancel()
				answers[i] = err
				var re *rpc.Error
				switch {
				case err == nil:
					outcomes[i] = answered
				case errors.As(err, &re):
					outcomes[i] = refused
				default:
					outcomes[i] = cut
				}
			}
		})
	}
	for k, p := range points {
		for started.Load() < int64(p) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(delays[k])
		pd.kill()
		pd.start()
	}
	wg.Wait()
	payTime := time.Since(begin)

	// One more kill, then wait for recovery to end every payment.
	pd.kill()
	pd.start()
	type sendpay struct {
		PaymentHash string `json:"payment_hash"`
		Status      string `json:"status"`
	}
	var list struct {
		Payments []sendpay `json:"payments"`
	}
	var pays struct {
		Pays []sendpay `json:"pays"`
	}
	pendingIn := func(ps []sendpay) (n int) {
		for _, p := range ps {
			if p.Status == "pending" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// listsendpays says failed between two attempts of a pay (v0.7's
		// row), so it alone cannot tell that a pay has ended: listpays
		// shows such a payment pending while its pay still works. Once
		// listpays shows none, nothing is under way, and listsendpays,
		// read after it, holds the final statuses.
		call(t, pd.client(), "listpays", nil, &pays)
		call(t, pd.client(), "listsendpays", nil, &list)
		pending := pendingIn(pays.Pays) + pendingIn(list.Payments)
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d payments still pending 2 minutes after the last restart", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
	status := map[string]string{}
	for _, p := range list.Payments {
		if _, dup := status[p.PaymentHash]; dup {
			t.Errorf("%s: two payments in listsendpays", p.PaymentHash)
		}
		status[p.PaymentHash] = p.Status
	}
	pd.stop()

	// The ledger's attempts, read with payd stopped.
	l, err := persistence.Open(filepath.Join(dataDir, "ledger"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var counts struct{ complete, failed, noAttempt, notStarted, cut, attempts, unsent, htlcs int }
	wrong := map[int]bool{} // payments that failed a check, for diagnose
	for i, inv := range invs {
		bad := func(format string, args ...any) {
			t.Helper()
			t.Errorf(format, args...)
			wrong[i] = true
		}
		var truth struct {
			Settlements int `json:"settlements"`
			HTLCs       int `json:"htlcs"`
		}
		call(t, ctl, "simnet-truth", map[string]any{"payment_hash": inv.PaymentHash}, &truth)
		var hash [32]byte
		if _, err := hex.Decode(hash[:], []byte(inv.PaymentHash)); err != nil {
			t.Fatal(err)
		}
		attempts, unsent, pending := ledgerAttempts(t, l, hash)
		for _, part := range pending {
			bad("%s: attempt %d still pending", inv.PaymentHash, part)
		}
		counts.attempts += attempts
		counts.unsent += unsent
		counts.htlcs += truth.HTLCs
		st, ok := status[inv.PaymentHash]
		if outcomes[i] == cut {
			counts.cut++
		}
		switch {
		case !ok && outcomes[i] == refused:
			counts.noAttempt++
		case !ok:
			counts.notStarted++
		case st == "complete":
			counts.complete++
		default:
			counts.failed++
		}
		where := fmt.Sprintf("payment #%d %s (seed %d)", i, inv.PaymentHash, km.seed)
		if truth.Settlements > 1 {
			bad("%s: settled %d times", where, truth.Settlements)
		}
		if truth.HTLCs != attempts-unsent {
			bad("%s: simnet saw %d HTLCs; the ledger holds %d attempts, %d of them never sent", where, truth.HTLCs, attempts, unsent)
		}
		if (st == "complete") != (truth.Settlements == 1) {
			bad("%s: payd says %q, simnet settled %d times", where, st, truth.Settlements)
		}
		// A pay refused before its first attempt (no route) leaves no
		// payment, as with CLN's listsendpays; one that succeeded must.
		if !ok && outcomes[i] == answered {
			bad("%s: pay succeeded, yet payd has no payment", where)
		}
		if outcomes[i] == answered && st != "complete" || outcomes[i] == refused && st == "complete" {
			bad("%s: pay answered (error: %v), payd now says %q", where, answers[i], st)
		}
		if ok && st != "complete" && st != "failed" {
			bad("%s: status %q", where, st)
		}
	}
	if len(wrong) > 0 {
		hashes := make([]string, len(invs))
		for i := range invs {
			hashes[i] = invs[i].PaymentHash
		}
		diagnose(t, l, dir, hashes, wrong, outcomes, answers)
	}
	t.Logf("%d kills survived in %v (pays %v, then recovery and checks); %d payments checked: %d complete, %d failed, %d refused before any attempt, %d never started; %d calls cut; "+
		"%d attempts in the ledger, %d of them never sent, %d HTLCs at simnet",
		km.kills+1, time.Since(begin).Round(time.Millisecond), payTime.Round(time.Millisecond), km.payments,
		counts.complete, counts.failed, counts.noAttempt, counts.notStarted, counts.cut, counts.attempts, counts.unsent, counts.htlcs)
}

// ledgerAttempts counts the attempts the ledger holds for hash, and of
// them those that failed because the link never had their HTLC (written,
// then payd was killed before it sent them); pending lists the part ids
// of those still pending.
func ledgerAttempts(t *testing.T, l *persistence.Ledger, hash [32]byte) (all, unsent int, pending []uint64) {
	t.Helper()
	pays, err := l.Payments(hash)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pays {
		as, err := l.Attempts(hash, p.GroupID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			all++
			switch {
			case a.Status == messages.AttemptPending:
				pending = append(pending, a.PartID)
			case a.Failure != nil && strings.Contains(a.Failure.Message, link.ErrUnknownHTLC.Error()):
				unsent++
			}
		}
	}
	return all, unsent, pending
}

// diagnose logs, for each payment that failed a check, what the client
// saw, the ledger's payment and attempts, and the lines of the daemons'
// logs that name its hash or its HTLC ids, so that a failure in CI can be
// read without rerunning it (KILL_KEEP=1 also keeps the whole directory).
func diagnose(t *testing.T, l *persistence.Ledger, dir string, hashes []string, wrong map[int]bool, outcomes []outcome, answers []error) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	slices.Sort(logs)
	for _, i := range slices.Sorted(maps.Keys(wrong)) {
		var b strings.Builder
		fmt.Fprintf(&b, "payment #%d %s: client outcome %d, answer %v\n", i, hashes[i], outcomes[i], answers[i])
		var hash [32]byte
		hex.Decode(hash[:], []byte(hashes[i]))
		needles := []string{hashes[i]}
		pays, err := l.Payments(hash)
		if err != nil {
			fmt.Fprintf(&b, "  ledger: %v\n", err)
		}
		for _, p := range pays {
			fmt.Fprintf(&b, "  payment group %d: status %s created %d pay %+v failure %+v\n", p.GroupID, p.Status, p.CreatedAt, p.Pay, p.Failure)
			as, _ := l.Attempts(hash, p.GroupID)
			for _, a := range as {
				fmt.Fprintf(&b, "  attempt %d: status %v link id %d first hop %s amount %s created %d resolved %v failure %+v\n",
					a.PartID, a.Status, a.LinkID, a.FirstHop, a.AmountMsat, a.CreatedAt, a.ResolvedAt, a.Failure)
				needles = append(needles, strconv.FormatUint(a.LinkID, 10))
			}
		}
		for _, name := range logs {
			data, err := os.ReadFile(name)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(data), "\n") {
				if slices.ContainsFunc(needles, func(n string) bool { return strings.Contains(line, n) }) {
					fmt.Fprintf(&b, "  %s: %s\n", filepath.Base(name), line)
				}
			}
		}
		t.Log(b.String())
	}
}

// paydRunner starts, kills and restarts payd on one data directory.
type paydRunner struct {
	t                 *testing.T
	bin, dir, dataDir string
	link              string
	runs              int
	mu                sync.Mutex
	cond              *sync.Cond
	cur               *proc
	c                 *rpc.Client // nil while payd is down
}

// start runs payd and publishes a client once its socket answers.
func (p *paydRunner) start() {
	p.t.Helper()
	p.runs++
	pr := startProc(p.t, p.bin, filepath.Join(p.dir, fmt.Sprintf("payd-%02d.log", p.runs)),
		"--datadir", p.dataDir, "--simnet-addr", p.link, "--graph", "sub300", "--seed", "1", "--log-level", cmp.Or(os.Getenv("KILL_LOG_LEVEL"), "warn"))
	c := waitRPC(p.t, pr, filepath.Join(p.dataDir, rpc.SocketName), "getinfo")
	p.mu.Lock()
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
	p.cur, p.c = pr, c
	p.cond.Broadcast()
	p.mu.Unlock()
}

// client waits for a running payd's client.
func (p *paydRunner) client() *rpc.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.c == nil {
		p.cond.Wait()
	}
	return p.c
}

// kill SIGKILLs payd and waits for it to be gone.
func (p *paydRunner) kill() {
	p.mu.Lock()
	pr, c := p.cur, p.c
	p.cur, p.c = nil, nil
	p.mu.Unlock()
	if pr == nil {
		return
	}
	pr.cmd.Process.Kill()
	<-pr.done
	c.Close()
}

// stop ends payd with SIGTERM, as an operator would.
func (p *paydRunner) stop() {
	p.mu.Lock()
	pr, c := p.cur, p.c
	p.cur, p.c = nil, nil
	p.mu.Unlock()
	if pr == nil {
		return
	}
	c.Close()
	pr.stop(p.t)
}

func (p *paydRunner) stopAll() {
	p.mu.Lock()
	pr := p.cur
	p.mu.Unlock()
	if pr != nil {
		p.kill()
	}
}

// proc is a child process whose output goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited
}

func startProc(t testing.TB, bin, logPath string, args ...string) *proc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

// stop sends SIGTERM and waits; the process must exit cleanly.
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop on SIGINT; log:\n%s", p.cmd.Path, p.tail())
		return
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited %d; log:\n%s", p.cmd.Path, code, p.tail())
	}
}

// tail is the end of the process's log.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// waitRPC dials the process's socket until method answers.
func waitRPC(t testing.TB, p *proc, socket, method string) *rpc.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %s", p.cmd.Path, p.tail())
		default:
		}
		if c, err := rpc.Dial(socket); err == nil {
			if err := tryCall(c, method, nil, nil); err == nil {
				return c
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer on %s: %s", p.cmd.Path, socket, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func build(t *testing.T, dir, name, pkg string) {
	t.Helper()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

// call makes a control call, which must succeed.
func call(t *testing.T, c *rpc.Client, method string, params, result any) {
	t.Helper()
	if err := tryCall(c, method, params, result); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// tryCall makes a control call of at most 30 s.
func tryCall(c *rpc.Client, method string, params, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Call(ctx, method, params, result)
}
