package actors

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/internal/procstat"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

// The restart benchmark's history: how many payments the ledger holds and
// how many of them have an attempt in flight at the stop.
var (
	restartPayments = flag.Int("restart.payments", 1_000_000, "BenchmarkRestart: payments in the ledger")
	restartPending  = flag.Int("restart.pending", 10_000, "BenchmarkRestart: of them, pays with an HTLC in flight at the stop")
	restartGraph    = flag.String("restart.graph", "mainnet", "BenchmarkRestart: the network's graph, mainnet or sub300")
	restartKeep     = flag.String("restart.keep", "", "BenchmarkRestart: build the stopped node in this directory once and reuse it (else a temporary one)")
)

// restartChildEnv names the directory of a stopped node to restart: set,
// the test binary runs restartChild instead of its tests (TestMain).
const restartChildEnv = "PAYENGINE_RESTART_CHILD"

// restartProfileEnv, set in the benchmark's environment, makes the
// restarted process write a CPU profile of the restart to $it.cpu, a
// heap profile when it has answered to $it.heap, and a CPU profile of
// the rest of the recovery to $it.resume.cpu.
const restartProfileEnv = "PAYENGINE_RESTART_PROFILE"

// restartSeed is the simnet seed of the restart benchmark's network.
const restartSeed = 3

func TestMain(m *testing.M) {
	if dir := os.Getenv(restartChildEnv); dir != "" {
		os.Exit(restartChild(dir))
	}
	os.Exit(m.Run())
}

// restartSetup is what the benchmark's setup leaves beside the stopped
// node for the restarted process: the network's parameters and what to
// ask.
type restartSetup struct {
	Graph    string
	MaxHTLCs int
	Capacity uint64
	Listed   [32]byte   // a complete payment of the history
	Preimage [32]byte   // its preimage
	Pending  [][32]byte // the pays in flight at the stop
	Dest     graph.NodeID
	Payments int
}

// restartResult is what the restarted process measured.
type restartResult struct {
	NetworkMS, OpenMS, StartMS, ListMS, PayMS, RestartMS float64
	ResumedMS                                            float64
	ResumedFailed                                        int
	CPUMS                                                float64
	HWMMiB, EndHWMMiB, RSSMiB                            float64
	NetworkHWMMiB, NetworkRSSMiB                         float64
	Err                                                  string
}

// BenchmarkRestart measures a restart of a node whose ledger holds
// -restart.payments payments (1,000,000: 10% failed, the rest complete,
// each with its attempts over 3-4 hop routes), -restart.pending of them
// (10,000) pays whose HTLC was in flight at the stop, held by our peers in
// a durable simnet that resumes them at its restart. In a fresh process
// (this test binary again), it loads the network, then opens the ledger,
// starts the engine, lists one payment of the history (listpays of its
// hash) and one of those in flight (pending, recovery has not reached it)
// and pays a new invoice over simnet until it settles: restart-ms is
// that wall clock, from ledger open to pay answered (network-ms, loading
// simnet, comes before it and is not in it; cpu-ms is the process's CPU
// time from the network load to the end of the recovery), rss-MiB the
// process's peak resident memory (VmHWM) from the ledger open to the pay
// answered, the network's memory included (network-MiB: resident once
// it is loaded and the garbage given back; network-peak-MiB: the peak
// while it loads, which the restart's peak does not count), resumed-ms
// when every pay in flight has ended (complete exactly when the
// destination settled it, once; failed otherwise, counted in
// resumed-failed), end-MiB the peak from the ledger open to then.
//
//	go test ./actors -run '^$' -bench Restart -benchtime 1x [-restart.keep /tmp/restart1m]
//
// Building the node takes minutes (the pending pays are real pays); with
// -restart.keep it is built once and each run restarts a copy.
func BenchmarkRestart(b *testing.B) {
	base := *restartKeep
	if base == "" {
		base = b.TempDir()
	}
	pristine := filepath.Join(base, "stopped")
	if _, err := os.Stat(filepath.Join(pristine, "setup.json")); err != nil {
		os.RemoveAll(pristine)
		if err := buildStoppedNode(b, pristine); err != nil {
			b.Fatal(err)
		}
	}
	var last restartResult
	var restart, hwm, netHWM float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		run := filepath.Join(base, fmt.Sprintf("run%d", i))
		os.RemoveAll(run)
		if err := os.CopyFS(run, os.DirFS(pristine)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := runRestartChild(run)
		b.StopTimer()
		os.RemoveAll(run)
		if err != nil {
			b.Fatal(err)
		}
		last = res
		restart += res.RestartMS
		hwm = max(hwm, res.HWMMiB)
		netHWM = max(netHWM, res.NetworkHWMMiB)
	}
	b.ReportMetric(restart/float64(b.N), "restart-ms")
	b.ReportMetric(hwm, "rss-MiB")
	b.ReportMetric(last.NetworkMS, "network-ms")
	b.ReportMetric(netHWM, "network-peak-MiB")
	b.ReportMetric(last.NetworkRSSMiB, "network-MiB")
	b.ReportMetric(last.StartMS, "start-ms")
	b.ReportMetric(last.ListMS, "listpays-ms")
	b.ReportMetric(last.PayMS, "pay-ms")
	b.ReportMetric(last.ResumedMS, "resumed-ms")
	b.ReportMetric(last.CPUMS, "cpu-ms")
	b.ReportMetric(last.EndHWMMiB, "end-MiB")
	b.ReportMetric(float64(last.ResumedFailed), "resumed-failed")
}

// runRestartChild restarts the node in dir in a fresh process and returns
// its figures.
func runRestartChild(dir string) (restartResult, error) {
	var res restartResult
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), restartChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return res, fmt.Errorf("restart child: %w: %s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "RESTART "); ok {
			if err := json.Unmarshal([]byte(l), &res); err != nil {
				return res, fmt.Errorf("restart child: %w", err)
			}
			if res.Err != "" {
				return res, fmt.Errorf("restart child: %s", res.Err)
			}
			return res, nil
		}
	}
	return res, fmt.Errorf("restart child said nothing: %s %s", out, stderr.String())
}

func restartGraphFile(name string) string {
	if name == "sub300" {
		return sub300
	}
	return mainnetFile
}

func restartNetOptions(s *restartSetup, dir string) simnet.Options {
	return simnet.Options{Seed: restartSeed, Dir: filepath.Join(dir, "simnet"), MaxHTLCs: s.MaxHTLCs, LocalCapacity: s.Capacity}
}

// buildStoppedNode leaves in dir a node stopped with s.Pending pays in
// flight and a history of the rest written straight through the ledger's
// batches.
func buildStoppedNode(b *testing.B, dir string) error {
	s := &restartSetup{Graph: *restartGraph, MaxHTLCs: *restartPending + 100, Capacity: 100_000_000, Payments: *restartPayments}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n, err := simnet.Load(restartGraphFile(s.Graph), restartNetOptions(s, dir))
	if err != nil {
		return err
	}
	defer n.Close()
	l, err := persistence.Open(filepath.Join(dir, "ledger"), &persistence.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer l.Close()

	// The history, older than the pays in flight: one payment every
	// 8 s (about 92 days for a million), up to a minute before.
	hist := s.Payments - *restartPending
	t0 := time.Now()
	if s.Listed, s.Preimage, err = writeHistory(l, n.Graph(), hist, n.Now().Add(-time.Minute)); err != nil {
		return err
	}
	b.Logf("history of %d payments written in %s", hist, time.Since(t0).Round(time.Millisecond))

	// The pays in flight: real pays, held by our peers until the stop.
	t0 = time.Now()
	e, err := Start(Options{Self: n.Self(), Graph: n.Graph(), Link: n.Link(), Ledger: l, Channels: simnetChannels(n),
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: testRand(b), MaxHTLCs: s.MaxHTLCs})
	if err != nil {
		return err
	}
	dests := routable(n, 200, benchAmount)
	s.Dest = dests[0]
	holdFirstHops(n)
	// A few pays find no route (the HTLCs held reserve liquidity): pay
	// again, in rounds, until the target is out.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var ended atomic.Int64
	launched := 0
	for round := 0; n.InFlight() < *restartPending; round++ {
		if round == 20 {
			return fmt.Errorf("only %d of %d HTLCs in flight after %d rounds", n.InFlight(), *restartPending, round)
		}
		for i := n.InFlight(); i < *restartPending; i++ {
			bolt, err := n.Invoice(dests[launched%len(dests)], benchAmount, "in flight", 0, n.Now())
			if err != nil {
				return err
			}
			launched++
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.Pay(ctx, PayRequest{Bolt11: bolt, Params: payment.DefaultPayParams()})
				ended.Add(1)
			}()
		}
		for deadline := time.Now().Add(10 * time.Minute); n.InFlight()+int(ended.Load()) < launched; {
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d pays neither out nor ended", launched-n.InFlight()-int(ended.Load()), launched)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pending, err := l.Pending()
	if err != nil {
		return err
	}
	if len(pending) != *restartPending {
		return fmt.Errorf("%d attempts pending in the ledger, %d HTLCs in flight", len(pending), n.InFlight())
	}
	for _, a := range pending {
		s.Pending = append(s.Pending, a.PaymentHash)
	}
	e.Stop()
	cancel()
	wg.Wait()
	b.Logf("%d pays in flight (%d tried) in %s", *restartPending, launched, time.Since(t0).Round(time.Millisecond))
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "setup.json"), data, 0o644)
}

// routable returns up to k nodes of n's graph that a route of amount
// reaches from us within pay's default fee limit (its 5,000 msat
// exemptfee), drawn with a fixed seed.
func routable(n *simnet.Net, k int, amount graph.MilliSat) []graph.NodeID {
	g := n.Graph()
	r := rand.New(rand.NewPCG(7, 7))
	nodes := g.Nodes()
	var out []graph.NodeID
	for tries := 0; len(out) < k && tries < 20*k; tries++ {
		d := nodes[r.IntN(len(nodes))]
		if d == n.Self() {
			continue
		}
		if r, err := g.GetRoute(graph.GetRouteParams{FromID: n.Self(), ID: d, AmountMsat: amount, RiskFactor: 1}); err == nil && r[0].Amount-amount <= 5000 {
			out = append(out, d)
		}
	}
	return out
}

// writeHistory writes count payments created before end, one every 8 s,
// in batches, as pay would have left them: 10% failed after one to three
// attempts, the rest complete after one attempt (a fifth of them after a
// failed one first), routes of 3 or 4 hops over real nodes and channels.
// It returns one complete payment's hash and preimage.
func writeHistory(l *persistence.Ledger, g *graph.Graph, count int, end time.Time) (listed, preimage [32]byte, err error) {
	r := rand.New(rand.NewPCG(1, 2))
	nodes := g.Nodes()
	var chans []graph.SCID
	g.Channels(func(c graph.ChannelInfo) bool { chans = append(chans, c.SCID); return true })
	circuit := make([]byte, 33+4*32+8)
	bolt := "lnbcrt" + strings.Repeat("q", 330)
	const per = 500
	start := end.Add(-time.Duration(count) * 8 * time.Second)
	hop := func() graph.Hop {
		return graph.Hop{ID: nodes[r.IntN(len(nodes))], Channel: chans[r.IntN(len(chans))], Direction: uint8(r.IntN(2)), Amount: graph.MilliSat(1_000_000 + r.IntN(1000)), Delay: uint32(40 + r.IntN(200))}
	}
	for i := 0; i < count; i += per {
		var bt persistence.Batch
		for j := i; j < min(i+per, count); j++ {
			h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("history"), uint64(j)))
			pre := sha256.Sum256(h[:])
			created := uint64(start.Add(time.Duration(j) * 8 * time.Second).Unix())
			amt := graph.MilliSat(1000 * (1 + r.IntN(100_000)))
			route := make(graph.Route, 3+r.IntN(2))
			for k := range route {
				route[k] = hop()
			}
			route[len(route)-1].Amount = amt
			sent := amt + graph.MilliSat(r.IntN(2000))
			done := created + uint64(1+r.IntN(5))
			secret := h
			p := messages.Payment{PaymentHash: h, Destination: route[len(route)-1].ID, AmountMsat: &amt, AmountSentMsat: sent,
				CreatedAt: created, CompletedAt: &done, Bolt11: bolt + strconv.Itoa(j), Description: "history", PaymentSecret: &secret}
			failed := r.IntN(10) == 0
			tries := 1
			switch {
			case failed:
				tries = 1 + r.IntN(3)
			case r.IntN(5) == 0:
				tries = 2
			}
			for k := 0; k+8 <= len(circuit); k += 8 {
				binary.LittleEndian.PutUint64(circuit[k:], r.Uint64())
			}
			for part := 1; part <= tries; part++ {
				a := messages.Attempt{PaymentHash: h, PartID: uint64(part), Route: route, AmountMsat: amt, AmountSentMsat: sent,
					FirstHop: route[0].Channel, LinkID: r.Uint64() >> 1, Circuit: append([]byte(nil), circuit...),
					CreatedAt: created, ResolvedAt: &done}
				if failed || part < tries {
					a.Status = messages.AttemptFailed
					a.Failure = &messages.Failure{Code: payment.CodeTryOtherRoute, Message: "WIRE_TEMPORARY_CHANNEL_FAILURE",
						Routing: &messages.RoutingFailure{ErringIndex: 2, OriginIndex: 1, ErringNode: route[1].ID,
							ErringChannel: route[1].Channel, FailCode: 0x1007}}
				} else {
					a.Status = messages.AttemptSettled
					a.Preimage = &pre
				}
				bt.Attempts = append(bt.Attempts, a)
			}
			if failed {
				p.Status = messages.PaymentFailed
				p.AmountSentMsat = 0
				p.Failure = &messages.Failure{Code: payment.CodeStoppedRetrying, Message: "Ran out of routes to try after " + strconv.Itoa(tries) + " attempts: see paystatus"}
			} else {
				p.Status = messages.PaymentComplete
				p.Preimage = &pre
				if listed == ([32]byte{}) {
					listed, preimage = h, pre
				}
			}
			bt.Payments = append(bt.Payments, p)
		}
		if err := l.Write(context.Background(), &bt); err != nil {
			return listed, preimage, err
		}
	}
	return listed, preimage, nil
}

// restartChild is the restarted process: it measures the restart of the
// node in dir and prints its figures as one "RESTART {json}" line; its
// exit code is 0 unless it could not say anything.
func restartChild(dir string) int {
	res := restartMeasure(dir)
	out, _ := json.Marshal(res)
	fmt.Printf("RESTART %s\n", out)
	return 0
}

func restartMeasure(dir string) (res restartResult) {
	fail := func(err error) restartResult { res.Err = err.Error(); return res }
	data, err := os.ReadFile(filepath.Join(dir, "setup.json"))
	if err != nil {
		return fail(err)
	}
	var s restartSetup
	if err := json.Unmarshal(data, &s); err != nil {
		return fail(err)
	}
	cpu0 := procstat.CPUTime()
	t0 := time.Now()
	n, err := simnet.Load(restartGraphFile(s.Graph), restartNetOptions(&s, dir))
	if err != nil {
		return fail(err)
	}
	defer n.Close()
	bolt, err := n.Invoice(s.Dest, benchAmount, "after the restart", 0, n.Now())
	if err != nil {
		return fail(err)
	}
	inv, _ := htlc.Decode(bolt, htlc.DecodeOptions{Network: htlc.Regtest})
	res.NetworkMS = ms(time.Since(t0))
	// The network is up; what the restart itself adds to the resident
	// memory is measured from here: give back what loading the graph
	// left free and reset the peak (Linux: clear_refs 5).
	debug.FreeOSMemory()
	res.NetworkHWMMiB, res.NetworkRSSMiB = procMemMiB()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	t1 := time.Now()

	// The restart proper.
	if prof := os.Getenv(restartProfileEnv); prof != "" {
		if f, err := os.Create(prof + ".cpu"); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	l, err := persistence.Open(filepath.Join(dir, "ledger"), nil)
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	res.OpenMS = ms(time.Since(t1))
	e, err := Start(Options{Self: n.Self(), Graph: n.Graph(), Link: n.Link(), Ledger: l, Channels: simnetChannels(n),
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: &lockedRand{r: rand.NewChaCha8([32]byte{99})}, MaxHTLCs: s.MaxHTLCs})
	if err != nil {
		return fail(err)
	}
	defer e.Stop()
	res.StartMS = ms(time.Since(t1))
	pays, err := e.ListPays("", &s.Listed)
	if err != nil {
		return fail(err)
	}
	if len(pays) != 1 || pays[0].Status != payment.StatusComplete || pays[0].Preimage == nil || *pays[0].Preimage != s.Preimage {
		return fail(fmt.Errorf("listpays of a complete payment: %+v", pays))
	}
	res.ListMS = ms(time.Since(t1))
	// A pay in flight at the stop that recovery reaches last (it goes in
	// hash order) shows pending: its row says so until its actor ends it.
	last := slices.MaxFunc(s.Pending, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if pays, err := e.ListPays("", &last); err != nil || len(pays) != 1 || pays[0].Status != payment.StatusPending {
		return fail(fmt.Errorf("listpays of a pay in flight at the stop: %+v %v", pays, err))
	}
	rec, err := e.Pay(context.Background(), PayRequest{Bolt11: bolt, Params: payment.DefaultPayParams()})
	if err != nil || rec.Status != payment.StatusComplete {
		return fail(fmt.Errorf("pay after the restart: %+v %v", rec, err))
	}
	res.PayMS = ms(time.Since(t1))
	res.RestartMS = res.PayMS
	if prof := os.Getenv(restartProfileEnv); prof != "" {
		pprof.StopCPUProfile()
		if f, err := os.Create(prof + ".heap"); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	res.HWMMiB, res.RSSMiB = procMemMiB()
	if d := n.Delivered(inv.PaymentHash); d.Settlements != 1 {
		return fail(fmt.Errorf("the new pay settled %d times", d.Settlements))
	}

	// Every pay in flight at the stop settles, once.
	if prof := os.Getenv(restartProfileEnv); prof != "" {
		if f, err := os.Create(prof + ".resume.cpu"); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	for deadline := time.Now().Add(10 * time.Minute); ; {
		p, err := l.PendingHashes()
		if err != nil {
			return fail(err)
		}
		if len(p) == 0 && e.Live() == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("%d payments still pending after 10 minutes", len(p)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.ResumedMS = ms(time.Since(t1))
	res.CPUMS = ms(procstat.CPUTime() - cpu0)
	res.EndHWMMiB, _ = procMemMiB()
	for _, h := range s.Pending {
		pays, err := e.ListPays("", &h)
		if err != nil {
			return fail(err)
		}
		settled := n.Delivered(h).Settlements
		if len(pays) != 1 || settled > 1 || (pays[0].Status == payment.StatusComplete) != (settled == 1) ||
			(pays[0].Status != payment.StatusComplete && pays[0].Status != payment.StatusFailed) {
			return fail(fmt.Errorf("a pay in flight at the stop, settled %d times: %+v", settled, pays))
		}
		if pays[0].Status == payment.StatusFailed {
			res.ResumedFailed++
		}
	}
	return res
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procMemMiB reads the process's peak and current resident memory.
func procMemMiB() (hwm, rss float64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			hwm = kb / 1024
		case "VmRSS:":
			rss = kb / 1024
		}
	}
	return hwm, rss
}
