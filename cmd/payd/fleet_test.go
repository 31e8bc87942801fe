package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/internal/etcdtest"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/rpc"
)

// fleetBins builds simnetd, payd and etcdrun once for every fleet test.
var fleetBins struct {
	once sync.Once
	dir  string
	err  error
}

func fleetBinaries(t *testing.T) string {
	t.Helper()
	fleetBins.once.Do(func() {
		dir, err := os.MkdirTemp("", "fleetbin")
		if err != nil {
			fleetBins.err = err
			return
		}
		fleetBins.dir = dir
		for name, pkg := range map[string]string{"simnetd": "../simnetd", "payd": "."} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput(); err != nil {
				fleetBins.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
				return
			}
		}
		_, fleetBins.err = etcdtest.Build(dir)
	})
	if fleetBins.err != nil {
		t.Fatal(fleetBins.err)
	}
	return fleetBins.dir
}

// fleetRig is one simnetd with several nodes of ours, etcd as its own process,
// and one payd member per node, each claiming payment hashes in etcd.
type fleetRig struct {
	t        *testing.T
	bin      string
	dir      string
	simDir   string
	sim      *proc
	ctl      *rpc.Client
	etcd     *etcdtest.Proc
	members  []*fleetMember
	fronts   []*fleetMember // payd --role frontend: no node, no ledger
	invoices []simInvoice
}

// fleetMember is one payd of the fleet.
type fleetMember struct {
	i       int
	dataDir string
	runs    int
	p       *proc
	c       *rpc.Client
	id      string
}

func startFleet(t *testing.T, members, fronts int, latency string) *fleetRig {
	t.Helper()
	bin := fleetBinaries(t)
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	dir, err := os.MkdirTemp("", "fleet")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fleetRig{t: t, bin: bin, dir: dir, simDir: filepath.Join(dir, "sim")}
	f.etcd, err = etcdtest.StartProcess(filepath.Join(bin, "etcdrun"), etcdtest.Options{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.etcd.Kill() })
	f.sim = startProc(t, filepath.Join(bin, "simnetd"), filepath.Join(dir, "simnetd.log"),
		"--dir", f.simDir, "--graph", "sub300", "--seed", "1", "--ours", fmt.Sprint(members), "--latency", latency, "--log-level", "warn")
	t.Cleanup(func() { f.sim.stop(t) })
	f.ctl = waitRPC(t, f.sim, filepath.Join(f.simDir, node.SimnetRPCName), "simnet-listnodes")
	t.Cleanup(func() { f.ctl.Close() })
	for i := range members {
		m := &fleetMember{i: i, dataDir: filepath.Join(dir, fmt.Sprint("payd", i))}
		f.members = append(f.members, m)
		f.start(m)
		t.Cleanup(func() { f.stop(m) })
	}
	for i := range fronts {
		m := &fleetMember{i: i, dataDir: filepath.Join(dir, fmt.Sprint("front", i))}
		f.fronts = append(f.fronts, m)
		m.runs++
		m.p = startProc(t, filepath.Join(bin, "payd"), filepath.Join(dir, fmt.Sprintf("front%d.log", i)),
			"--datadir", m.dataDir, "--role", "frontend", "--log-level", "warn", "--etcd", f.etcd.ClientURL, "--cluster", "test")
		m.c = waitRPC(t, m.p, filepath.Join(m.dataDir, rpc.SocketName), "getinfo")
		t.Cleanup(func() { f.stop(m) })
	}
	// Every front-end sees every member.
	for _, fe := range f.fronts {
		deadline := time.Now().Add(20 * time.Second)
		for {
			var info struct {
				Members []string `json:"members"`
			}
			call(t, fe.c, "getinfo", nil, &info)
			if len(info.Members) == members {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("front-end %d sees members %v", fe.i, info.Members)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return f
}

// entries are every process a payment can be asked of: members, then
// front-ends.
func (f *fleetRig) entries() []*fleetMember {
	return append(append([]*fleetMember(nil), f.members...), f.fronts...)
}

// start runs member m's payd and waits for its socket.
func (f *fleetRig) start(m *fleetMember) {
	f.t.Helper()
	m.runs++
	m.p = startProc(f.t, filepath.Join(f.bin, "payd"), filepath.Join(f.dir, fmt.Sprintf("payd%d-%d.log", m.i, m.runs)),
		"--datadir", m.dataDir, "--simnet-addr", filepath.Join(f.simDir, node.SimnetLinkNameOf(m.i)),
		"--simnet-node", fmt.Sprint(m.i), "--graph", "sub300", "--seed", "1", "--log-level", "warn",
		"--etcd", f.etcd.ClientURL, "--cluster", "test")
	m.c = waitRPC(f.t, m.p, filepath.Join(m.dataDir, rpc.SocketName), "getinfo")
	var info struct {
		ID string `json:"id"`
	}
	call(f.t, m.c, "getinfo", nil, &info)
	m.id = info.ID
}

// role names what m is, for messages.
func (m *fleetMember) role() string {
	if strings.HasPrefix(filepath.Base(m.dataDir), "front") {
		return "front-end"
	}
	return "member"
}

// stop ends member m's payd with SIGTERM (no-op when it is down).
func (f *fleetRig) stop(m *fleetMember) {
	if m.p == nil {
		return
	}
	m.c.Close()
	m.p.stop(f.t)
	m.p, m.c = nil, nil
}

// kill SIGKILLs member m's payd.
func (f *fleetRig) kill(m *fleetMember) {
	m.p.cmd.Process.Kill()
	<-m.p.done
	m.c.Close()
	m.p, m.c = nil, nil
}

// destination is a node every member reaches over two hops or more.
func (f *fleetRig) destination() string {
	f.t.Helper()
	var nodes struct {
		Nodes []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	call(f.t, f.ctl, "simnet-listnodes", nil, &nodes)
	ours := map[string]bool{}
	for _, m := range f.members {
		ours[m.id] = true
	}
	for _, n := range nodes.Nodes {
		if ours[n.ID] {
			continue
		}
		ok := true
		for _, m := range f.members {
			var r struct {
				Route []struct{} `json:"route"`
			}
			if tryCall(m.c, "getroute", map[string]any{"id": n.ID, "amount_msat": 100_000, "riskfactor": 1}, &r) != nil || len(r.Route) < 2 {
				ok = false
				break
			}
		}
		if ok {
			return n.ID
		}
	}
	f.t.Fatal("no destination every member reaches over two hops")
	return ""
}

// invoice makes an invoice of dest at simnetd.
func (f *fleetRig) invoice(dest string, msat uint64) simInvoice {
	f.t.Helper()
	var inv simInvoice
	call(f.t, f.ctl, "simnet-invoice", map[string]any{"node": dest, "amount_msat": msat}, &inv)
	return inv
}

// truth is simnetd's ground truth of a hash.
func (f *fleetRig) truth(hash string) simTruth {
	f.t.Helper()
	var tr simTruth
	call(f.t, f.ctl, "simnet-truth", map[string]any{"payment_hash": hash}, &tr)
	return tr
}

// attempts counts the attempts member m's ledger holds for hash; m must be
// stopped.
func (f *fleetRig) attempts(m *fleetMember, hash string) int {
	f.t.Helper()
	l, err := persistence.Open(filepath.Join(m.dataDir, "ledger"), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	defer l.Close()
	var h [32]byte
	if _, err := hex.Decode(h[:], []byte(hash)); err != nil {
		f.t.Fatal(err)
	}
	n, _, _ := ledgerAttempts(f.t, l, h)
	return n
}

// payOutcome is one pay call's answer: the result or the error.
type payOutcome struct {
	res payResult
	err error
}

// code is the JSON-RPC error code of o (0: no error, -999 not JSON-RPC).
func (o payOutcome) code() int {
	var e *rpc.Error
	switch {
	case o.err == nil:
		return 0
	case errors.As(o.err, &e):
		return e.Code
	}
	return -999
}

func pay(c *rpc.Client, bolt11 string) payOutcome {
	var o payOutcome
	o.err = tryCall(c, "pay", map[string]any{"bolt11": bolt11}, &o.res)
	return o
}

// payAsync pays in the background.
func payAsync(c *rpc.Client, bolt11 string) <-chan payOutcome {
	ch := make(chan payOutcome, 1)
	go func() { ch <- pay(c, bolt11) }()
	return ch
}

// waitComplete pays through m until the answer is complete (the outcome
// reached the claim), and returns how long that took.
func (f *fleetRig) waitComplete(m *fleetMember, inv simInvoice, within time.Duration) payOutcome {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		o := pay(m.c, inv.Bolt11)
		if o.err == nil && o.res.Status == "complete" {
			return o
		}
		refused := o.code() == -1 && strings.Contains(o.err.Error(), "nothing sent") // etcd away: safe to ask again
		if o.err != nil && o.code() != 200 && !refused {
			f.t.Fatalf("member %d: pay: %v", m.i, o.err)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("member %d: pay not complete after %v: %+v %v", m.i, within, o.res, o.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFleetSameInvoiceEveryEntry: one invoice paid concurrently through
// every front-end and every member of a fleet of three members and two
// front-ends (two calls each): exactly one member's ledger has attempts for
// it, the network settles it once, and every other caller gets 200 or the
// preimage; once the outcome is in etcd every entry answers with the
// preimage.
func TestFleetSameInvoiceEveryEntry(t *testing.T) {
	f := startFleet(t, 3, 2, "50ms")
	entries := f.entries()
	dest := f.destination()
	for round := range 3 {
		inv := f.invoice(dest, 70_000)
		var wg sync.WaitGroup
		outs := make([]payOutcome, 2*len(entries))
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i] = pay(entries[i%len(entries)].c, inv.Bolt11)
			}()
		}
		wg.Wait()
		complete := 0
		for i, o := range outs {
			switch {
			case o.err == nil && o.res.Status == "complete" && o.res.PaymentPreimage != "":
				complete++
			case o.code() == 200:
			default:
				t.Fatalf("round %d, call %d (entry %d): %+v %v", round, i, i%len(entries), o.res, o.err)
			}
		}
		if complete == 0 {
			t.Fatalf("round %d: no call completed: %+v", round, outs)
		}
		var pre string
		for _, m := range entries {
			o := f.waitComplete(m, inv, 10*time.Second)
			if pre != "" && o.res.PaymentPreimage != pre {
				t.Fatalf("round %d: member %d answers preimage %s, another %s", round, m.i, o.res.PaymentPreimage, pre)
			}
			pre = o.res.PaymentPreimage
		}
		checkPaid(t, "fleet", inv, payResult{Status: "complete", PaymentPreimage: pre, PaymentHash: inv.PaymentHash})
		if tr := f.truth(inv.PaymentHash); tr.Settlements != 1 || tr.DeliveredMsat != 70_000 {
			t.Fatalf("round %d: simnet's truth %+v", round, tr)
		}
		t.Logf("round %d: %d of %d calls complete at once, the others 200", round, complete, len(outs))
		f.invoices = append(f.invoices, inv)
	}
	// A front-end alone: it forwards to a member, which pays; its
	// listpays fans out to every member and finds the one row.
	for _, fe := range f.fronts {
		inv := f.invoice(dest, 70_000)
		o := pay(fe.c, inv.Bolt11)
		if o.err != nil {
			t.Fatalf("front-end %d: pay: %v", fe.i, o.err)
		}
		checkPaid(t, "front-end", inv, o.res)
		var lp struct {
			Pays []struct {
				Status string `json:"status"`
			} `json:"pays"`
		}
		call(t, fe.c, "listpays", map[string]any{"payment_hash": inv.PaymentHash}, &lp)
		if len(lp.Pays) != 1 || lp.Pays[0].Status != "complete" {
			t.Fatalf("front-end %d: listpays %+v", fe.i, lp)
		}
		f.invoices = append(f.invoices, inv)
	}
	var all struct {
		Pays []json.RawMessage `json:"pays"`
	}
	call(t, f.fronts[0].c, "listpays", nil, &all)
	if len(all.Pays) != len(f.invoices) {
		t.Fatalf("front-end's listpays has %d rows, want %d", len(all.Pays), len(f.invoices))
	}
	// Exactly one member's ledger has attempts for each hash.
	for _, m := range f.members {
		f.stop(m)
	}
	for _, inv := range f.invoices {
		with := 0
		for _, m := range f.members {
			if f.attempts(m, inv.PaymentHash) > 0 {
				with++
			}
		}
		if with != 1 {
			t.Fatalf("%s: %d members' ledgers have attempts", inv.PaymentHash, with)
		}
	}
}

// TestFleetKillOwnerInFlight: the member that owns a payment is SIGKILLed
// while its HTLC is in flight (simnetd's hop latency keeps it out): the
// other members answer 200 and send nothing; after the owner restarts the
// payment completes, and later calls through any member return the
// preimage; the network settled it once.
func TestFleetKillOwnerInFlight(t *testing.T) {
	f := startFleet(t, 3, 1, "700ms")
	dest := f.destination()
	inv := f.invoice(dest, 70_000)
	owner := f.members[0]
	first := payAsync(owner.c, inv.Bolt11)
	// Only the owner was asked: the HTLC the network sees is its own.
	deadline := time.Now().Add(10 * time.Second)
	for f.truth(inv.PaymentHash).HTLCs == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the owner's HTLC never reached the network")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if o := pay(f.members[1].c, inv.Bolt11); o.code() != 200 {
		t.Fatalf("member 1 while the owner pays: %+v %v, want 200", o.res, o.err)
	}
	if tr := f.truth(inv.PaymentHash); tr.Settlements != 0 {
		t.Fatalf("settled before the kill, not in flight: %+v", tr)
	}
	f.kill(owner)
	<-first
	htlcs := f.truth(inv.PaymentHash).HTLCs
	for range 3 {
		for _, m := range append(f.members[1:], f.fronts...) {
			if o := pay(m.c, inv.Bolt11); o.code() != 200 {
				t.Fatalf("member %d with the owner down: %+v %v, want 200", m.i, o.res, o.err)
			}
		}
	}
	if tr := f.truth(inv.PaymentHash); tr.HTLCs != htlcs {
		t.Fatalf("HTLCs went from %d to %d while the owner was down", htlcs, tr.HTLCs)
	}
	start := time.Now()
	f.start(owner)
	o := f.waitComplete(f.members[1], inv, 20*time.Second)
	t.Logf("owner restarted: member 1 answers the preimage %v later", time.Since(start).Round(time.Millisecond))
	for _, m := range f.entries() {
		if p := f.waitComplete(m, inv, 5*time.Second); p.res.PaymentPreimage != o.res.PaymentPreimage {
			t.Fatalf("member %d: preimage %s, want %s", m.i, p.res.PaymentPreimage, o.res.PaymentPreimage)
		}
	}
	if tr := f.truth(inv.PaymentHash); tr.Settlements != 1 {
		t.Fatalf("simnet's truth %+v", tr)
	}
	for _, m := range f.members {
		f.stop(m)
	}
	for _, m := range f.members[1:] {
		if n := f.attempts(m, inv.PaymentHash); n != 0 {
			t.Fatalf("member %d has %d attempts", m.i, n)
		}
	}
}

// TestFleetEtcdStopped: with etcd SIGKILLed, a new payment is refused with
// a clear error and no HTLC sent, while a payment in flight finishes; once
// etcd is back, its outcome reaches the claim (the ledger is the outbox)
// and other members answer with its preimage, and new payments go again.
func TestFleetEtcdStopped(t *testing.T) {
	f := startFleet(t, 2, 1, "500ms")
	dest := f.destination()
	inflight := f.invoice(dest, 70_000)
	first := payAsync(f.members[0].c, inflight.Bolt11)
	deadline := time.Now().Add(10 * time.Second)
	for f.truth(inflight.PaymentHash).HTLCs == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the HTLC never reached the network")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.etcd.Kill()
	fresh := f.invoice(dest, 70_000)
	for _, m := range f.entries() {
		o := pay(m.c, fresh.Bolt11)
		if o.code() != -1 || !strings.Contains(o.err.Error(), "nothing sent") {
			t.Fatalf("%s %d, etcd down: %+v %v, want a refusal", m.role(), m.i, o.res, o.err)
		}
		t.Logf("%s %d, etcd down: %v", m.role(), m.i, o.err)
	}
	if tr := f.truth(fresh.PaymentHash); tr.HTLCs != 0 {
		t.Fatalf("a refused payment sent HTLCs: %+v", tr)
	}
	o := <-first
	if o.err != nil || o.res.Status != "complete" {
		t.Fatalf("payment in flight: %+v %v", o.res, o.err)
	}
	var err error
	if f.etcd, err = etcdtest.StartProcess(filepath.Join(f.bin, "etcdrun"), f.etcd.Opts); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p := f.waitComplete(f.members[1], inflight, 20*time.Second)
	if p.res.PaymentPreimage != o.res.PaymentPreimage {
		t.Fatalf("member 1: preimage %s, want %s", p.res.PaymentPreimage, o.res.PaymentPreimage)
	}
	t.Logf("etcd back: the outcome reached the claim within %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	f.waitComplete(f.fronts[0], fresh, 30*time.Second)
	t.Logf("etcd back: a new payment through the front-end completed %v later", time.Since(start).Round(time.Millisecond))
	if tr := f.truth(fresh.PaymentHash); tr.Settlements != 1 {
		t.Fatalf("fresh payment after etcd's return: %+v", tr)
	}
}

// TestFleetLeaveJoinUnderLoad: while two workers pay fresh invoices through
// the front-end (each also asked of a member at once, as a second caller),
// one member leaves (SIGTERM) and joins again, and another is SIGKILLed and
// restarted. No hash is settled twice, no hash has attempts in two ledgers,
// every pay answered complete was settled once; the time until each
// member's payments are served again through the front-end is measured.
func TestFleetLeaveJoinUnderLoad(t *testing.T) {
	f := startFleet(t, 3, 1, "20ms")
	dest := f.destination()
	fe := f.fronts[0]
	// A payment of each member's own, to find it served again.
	own := make([]simInvoice, len(f.members))
	for i, m := range f.members {
		own[i] = f.invoice(dest, 70_000)
		checkPaid(t, "own", own[i], pay(m.c, own[i].Bolt11).res)
	}
	var (
		mu       sync.Mutex
		paid     = map[string]bool{} // hash → some caller got complete
		asked    []simInvoice
		failures = map[string]int{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				var inv simInvoice
				if err := tryCall(f.ctl, "simnet-invoice", map[string]any{"node": dest, "amount_msat": 70_000}, &inv); err != nil {
					t.Errorf("invoice: %v", err)
					return
				}
				mu.Lock()
				asked = append(asked, inv)
				mu.Unlock()
				second := f.members[(w+k)%len(f.members)]
				var c2 *rpc.Client
				mu.Lock()
				c2 = second.c
				mu.Unlock()
				ch := make(chan payOutcome, 1)
				if c2 != nil {
					go func() { ch <- pay(c2, inv.Bolt11) }()
				} else {
					ch <- payOutcome{err: errors.New("member down")}
				}
				outs := []payOutcome{pay(fe.c, inv.Bolt11), <-ch}
				mu.Lock()
				for _, o := range outs {
					switch {
					case o.err == nil && o.res.Status == "complete":
						paid[inv.PaymentHash] = true
					case o.err == nil:
						failures["status "+o.res.Status]++
					default:
						failures[fmt.Sprint(o.code())]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	served := func(i int) time.Duration {
		start := time.Now()
		for {
			var lp struct {
				Pays []struct {
					Status string `json:"status"`
				} `json:"pays"`
			}
			if tryCall(fe.c, "listpays", map[string]any{"payment_hash": own[i].PaymentHash}, &lp) == nil &&
				len(lp.Pays) == 1 && lp.Pays[0].Status == "complete" {
				return time.Since(start)
			}
			if time.Since(start) > 60*time.Second {
				t.Fatalf("member %d's payments not served through the front-end 60 s after its restart", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	restart := func(m *fleetMember) {
		mu.Lock()
		defer mu.Unlock()
		f.start(m)
	}
	down := func(m *fleetMember, kill bool) {
		mu.Lock()
		defer mu.Unlock()
		if kill {
			f.kill(m)
		} else {
			f.stop(m)
		}
	}
	time.Sleep(2 * time.Second)
	down(f.members[2], false)
	time.Sleep(2 * time.Second)
	start := time.Now()
	restart(f.members[2])
	left := served(2)
	t.Logf("member 2 left (SIGTERM) and joined: its payments served again through the front-end %v after its socket answered (%v after the restart began)",
		left.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	down(f.members[1], true)
	time.Sleep(2 * time.Second)
	start = time.Now()
	restart(f.members[1])
	killed := served(1)
	t.Logf("member 1 SIGKILLed and restarted: its payments served again %v after its socket answered (%v after the restart began)",
		killed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	settled := 0
	for _, inv := range asked {
		tr := f.truth(inv.PaymentHash)
		if tr.Settlements > 1 {
			t.Fatalf("%s settled %d times", inv.PaymentHash, tr.Settlements)
		}
		if paid[inv.PaymentHash] && tr.Settlements != 1 {
			t.Fatalf("%s answered complete, settled %d times", inv.PaymentHash, tr.Settlements)
		}
		settled += tr.Settlements
	}
	t.Logf("%d invoices asked under load (each of the front-end and a member at once): %d settled once, %d answered complete; other answers %v",
		len(asked), settled, len(paid), failures)
	for _, m := range f.members {
		f.stop(m)
	}
	for _, inv := range asked {
		with := 0
		for _, m := range f.members {
			if f.attempts(m, inv.PaymentHash) > 0 {
				with++
			}
		}
		if with > 1 {
			t.Fatalf("%s: %d members' ledgers have attempts", inv.PaymentHash, with)
		}
	}
}

// benchFleet pays n fresh invoices of dest through c, conc at a time, and
// returns payments/s and the latencies' p50 and p99; every pay must
// complete.
func benchFleet(t *testing.T, f *fleetRig, c *rpc.Client, dest string, n, conc int) (rate float64, p50, p99 time.Duration) {
	t.Helper()
	invs := make([]simInvoice, n)
	for i := range invs {
		invs[i] = f.invoice(dest, 10_000)
	}
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := time.Now()
				o := pay(c, invs[i].Bolt11)
				lat[i] = time.Since(s)
				if o.err == nil && o.res.Status != "complete" {
					o.err = fmt.Errorf("status %s", o.res.Status)
				}
				errs[i] = o.err
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
	}
	slices.Sort(lat)
	return float64(n) / took.Seconds(), lat[n/2], lat[(n*99)/100]
}

// TestFleetThroughputSideBySide: the same workload (fresh invoices of one
// destination, 8 at a time) through one member directly, through a
// front-end over one member, and through a front-end over three members;
// payments/s and p50/p99 are logged side by side (the front-end's extra is
// the claim read and the cluster hop). Every payment must complete.
func TestFleetThroughputSideBySide(t *testing.T) {
	const n, conc = 200, 8
	one := startFleet(t, 1, 1, "5ms")
	dest := one.destination()
	type side struct {
		name     string
		rate     float64
		p50, p99 time.Duration
	}
	var sides []side
	r, a, b := benchFleet(t, one, one.members[0].c, dest, n, conc)
	sides = append(sides, side{"1 member, direct", r, a, b})
	r, a, b = benchFleet(t, one, one.fronts[0].c, dest, n, conc)
	sides = append(sides, side{"front-end, 1 member", r, a, b})
	for _, m := range one.entries() {
		one.stop(m)
	}
	three := startFleet(t, 3, 1, "5ms")
	r, a, b = benchFleet(t, three, three.fronts[0].c, three.destination(), n, conc)
	sides = append(sides, side{"front-end, 3 members", r, a, b})
	for _, s := range sides {
		t.Logf("%-22s %6.1f payments/s  p50 %v  p99 %v", s.name, s.rate, s.p50.Round(100*time.Microsecond), s.p99.Round(100*time.Microsecond))
	}
}
