package actors

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

type engineRig struct {
	n   *simnet.Net
	dir string
	l   *persistence.Ledger
	e   *Engine
}

func startEngine(t *testing.T, n *simnet.Net, dir string) (*persistence.Ledger, *Engine) {
	return startEngineWith(t, n, dir, 0)
}

func startEngineWith(t *testing.T, n *simnet.Net, dir string, maxHTLCs int) (*persistence.Ledger, *Engine) {
	t.Helper()
	l, err := persistence.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Start(Options{Self: n.Self(), Graph: n.Graph(), Link: n.Link(), Ledger: l, Channels: simnetChannels(n),
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: testRand(t), MaxHTLCs: maxHTLCs})
	if err != nil {
		t.Fatal(err)
	}
	return l, e
}

// simnetChannels are our channels in n, as the engine is given them.
func simnetChannels(n *simnet.Net) []Channel {
	var chans []Channel
	for _, scid := range n.LocalChannels() {
		spendable, _ := n.Spendable(scid)
		chans = append(chans, Channel{SCID: scid, Spendable: spendable})
	}
	return chans
}

// holdFirstHops holds, in simnet, the node at the other end of each of our
// channels: every HTLC we send waits there until it is released.
func holdFirstHops(n *simnet.Net) {
	for _, scid := range n.LocalChannels() {
		st, _ := n.Channel(scid)
		peer := st.Nodes[0]
		if peer == n.Self() {
			peer = st.Nodes[1]
		}
		n.Hold(peer)
	}
}

func newEngineRig(t *testing.T, path string) *engineRig {
	t.Helper()
	n, err := simnet.Load(path, simnet.Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	r := &engineRig{n: n, dir: t.TempDir()}
	r.l, r.e = startEngine(t, n, r.dir)
	t.Cleanup(func() { r.e.Stop(); r.l.Close(); n.Close() })
	return r
}

// invoices returns up to k invoices of amount from distinct nodes we can
// route to.
func (r *engineRig) invoices(t *testing.T, k int, amount graph.MilliSat) []string {
	t.Helper()
	g := r.n.Graph()
	var out []string
	for _, dest := range g.Nodes() {
		if len(out) == k {
			break
		}
		if dest == r.n.Self() {
			continue
		}
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: r.n.Self(), ID: dest, AmountMsat: amount, RiskFactor: 1}); err != nil {
			continue
		}
		b, err := r.n.Invoice(dest, amount, "engine test", 0, r.n.Now())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func code(err error) int {
	var pe *payment.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 0
}

// Spec vector 14 at engine level, and pay across a stop and start: the
// paid invoice succeeds at once from the ledger's record, with no HTLC.
func TestEnginePay(t *testing.T) {
	r := newEngineRig(t, sub300)
	ctx := context.Background()
	b := r.invoices(t, 1, 40_000)[0]
	rec, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("pay: %+v %v", rec, err)
	}
	if _, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Amount: msatp(40_000), Params: payment.DefaultPayParams()}); code(err) != payment.CodeInvalidParams {
		t.Fatalf("msatoshi with an amount invoice: %v", err)
	}
	if _, err := r.e.Pay(ctx, PayRequest{Bolt11: "lnbcrt1garbage", Params: payment.DefaultPayParams()}); code(err) != payment.CodeInvalidParams {
		t.Fatalf("garbage bolt11: %v", err)
	}
	// An invoice that expired a second ago.
	inv, _ := htlc.Decode(r.invoices(t, 2, 1000)[1], htlc.DecodeOptions{Network: htlc.Regtest})
	old, err := r.n.Invoice(inv.Payee, 1000, "old", 60, r.n.Now().Add(-61*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Pay(ctx, PayRequest{Bolt11: old, Params: payment.DefaultPayParams()}); code(err) != payment.CodeInvoiceExpired {
		t.Fatalf("expired: %v", err)
	}
	zero := time.Duration(0)
	if _, err := r.e.WaitSendPay(ctx, [32]byte{7}, &zero); code(err) != payment.CodeNoSuchPayment {
		t.Fatalf("waitsendpay unknown: %v", err)
	}

	// Stop and start over the same ledger: the record is there.
	paid, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	r.e.Stop()
	r.l.Close()
	r.l, r.e = startEngine(t, r.n, r.dir)
	rec2, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
	if err != nil || rec2.Status != payment.StatusComplete || *rec2.Preimage != *rec.Preimage {
		t.Fatalf("pay after restart: %+v %v", rec2, err)
	}
	if d := r.n.Delivered(paid.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
}

func msatp(v graph.MilliSat) *graph.MilliSat { return &v }

// The same bolt11 paid from 50 goroutines at once: one HTLC set in flight;
// the others get 200, or the stored success once it is complete.
func TestEngineSameBolt11Concurrent(t *testing.T) {
	r := newEngineRig(t, sub300)
	b := r.invoices(t, 1, 25_000)[0]
	inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	var wg sync.WaitGroup
	var mu sync.Mutex
	complete, busy := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := r.e.Pay(context.Background(), PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && rec.Status == payment.StatusComplete:
				complete++
			case code(err) == payment.CodeInProgress:
				busy++
			default:
				t.Errorf("pay: %+v %v", rec, err)
			}
		}()
	}
	wg.Wait()
	if complete == 0 || complete+busy != 50 {
		t.Fatalf("%d complete, %d busy", complete, busy)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 || d.Amount != 25_000 {
		t.Fatalf("simnet: %+v", d)
	}
}

// Many pays at once all end, each once: complete or a spec error; simnet's
// truth shows no hash settled twice and no destination paid more than 2x.
func TestEngineManyPays(t *testing.T) {
	r := newEngineRig(t, sub300)
	bolts := r.invoices(t, 280, 10_000)
	var wg sync.WaitGroup
	errs := make(chan error, len(bolts))
	for _, b := range bolts {
		wg.Add(1)
		go func(b string) {
			defer wg.Done()
			rec, err := r.e.Pay(context.Background(), PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
			switch {
			case err == nil && rec.Status == payment.StatusComplete:
			case code(err) >= 203 && code(err) <= 210:
			default:
				errs <- err
			}
		}(b)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("pay ended with %v", err)
	}
	complete := 0
	for _, b := range bolts {
		inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		d := r.n.Delivered(inv.PaymentHash)
		if d.Settlements > 1 || d.Amount > 2*10_000 {
			t.Fatalf("%x: %+v", inv.PaymentHash, d)
		}
		complete += d.Settlements
	}
	t.Logf("%d of %d paid", complete, len(bolts))
	if complete < len(bolts)/2 {
		t.Fatalf("only %d of %d paid", complete, len(bolts))
	}
	if r.n.InFlight() != 0 {
		t.Fatalf("%d HTLCs still in flight", r.n.InFlight())
	}
}

// A payment actor stops once its payment is over and nobody holds it; the
// next call of its hash starts a fresh one from the ledger's record.
func TestEngineIdleActorsStop(t *testing.T) {
	r := newEngineRig(t, sub300)
	ctx := context.Background()
	bolts := r.invoices(t, 20, 10_000)
	for _, b := range bolts {
		if rec, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()}); err != nil || rec.Status != payment.StatusComplete {
			t.Fatalf("pay: %+v %v", rec, err)
		}
	}
	waitFor(t, func() bool { return r.e.Live() == 0 })
	rec, err := r.e.Pay(ctx, PayRequest{Bolt11: bolts[0], Params: payment.DefaultPayParams()})
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("pay of a paid invoice after its actor stopped: %+v %v", rec, err)
	}
	inv, _ := htlc.Decode(bolts[0], htlc.DecodeOptions{Network: htlc.Regtest})
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
	waitFor(t, func() bool { return r.e.Live() == 0 })
}

// testRand is the engine's randomness in a test: seeded from the test's
// name and how many engines it started before (a restarted engine must
// not draw the same HTLC ids), so route fuzz, session keys and ids are
// the same on every run; safe for concurrent use, as Options.Rand must be.
func testRand(t testing.TB) io.Reader {
	startsMu.Lock()
	defer startsMu.Unlock()
	if starts == nil {
		starts = map[string]uint64{}
	}
	starts[t.Name()]++
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], h.Sum64())
	binary.LittleEndian.PutUint64(seed[8:], starts[t.Name()])
	return &lockedRand{r: mrand.NewChaCha8(seed)}
}

var (
	startsMu sync.Mutex
	starts   map[string]uint64
)

type lockedRand struct {
	mu sync.Mutex
	r  *mrand.ChaCha8
}

func (l *lockedRand) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// seedRecorder is a test's randomness that keeps every 16-byte draw: the
// size of a fuzz seed (session keys take 32 bytes, HTLC ids 8), and counts
// the 1-byte ones: a pick from the pool of seeds.
type seedRecorder struct {
	lockedRand
	seeds [][16]byte
	picks int
}

func (s *seedRecorder) Read(p []byte) (int, error) {
	n, err := s.lockedRand.Read(p)
	s.mu.Lock()
	switch len(p) {
	case 16:
		s.seeds = append(s.seeds, [16]byte(p))
	case 1:
		s.picks++
	}
	s.mu.Unlock()
	return n, err
}

// Issue 11, item 3, and issue 14: pay asks the graph for each attempt's
// route with a fuzz seed drawn from the engine's randomness, as v0.7's pay
// calls getroute without one, but from a pool of fuzzSeeds seeds the engine
// draws when it starts, so the graph keeps their hashes and bounds;
// DrawSeed gives getroute a fresh one.
func TestPayDrawsASeedPerRoute(t *testing.T) {
	n, err := simnet.Load(sub300, simnet.Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	l, err := persistence.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := &seedRecorder{lockedRand: lockedRand{r: mrand.NewChaCha8([32]byte{11})}}
	var drawn [][16]byte
	e, err := Start(Options{Self: n.Self(), Graph: n.Graph(), Link: n.Link(), Ledger: l, Channels: simnetChannels(n),
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	rec.mu.Lock()
	drawn = append(drawn, rec.seeds...)
	rec.mu.Unlock()
	pool := map[[16]byte]bool{}
	for _, s := range e.deps.Seeds {
		pool[s] = true
	}
	if len(e.deps.Seeds) != fuzzSeeds || len(pool) != fuzzSeeds || len(drawn) < fuzzSeeds {
		t.Fatalf("the engine drew %d seeds at start, %d in its pool, %d distinct; want %d", len(drawn), len(e.deps.Seeds), len(pool), fuzzSeeds)
	}
	for _, s := range e.deps.Seeds {
		if !slices.Contains(drawn, [16]byte(s)) {
			t.Fatalf("pool seed %x is not from the engine's randomness", s)
		}
	}
	r := &engineRig{n: n, l: l, e: e}
	tg := r.target(t, 50_000_000, false, multiHop)
	last := tg.route[len(tg.route)-1]
	if err := n.SetBalance(last.Channel, tg.route[len(tg.route)-2].ID, 0); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.seeds, rec.picks = nil, 0
	rec.mu.Unlock()
	_, payErr := e.Pay(context.Background(), PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()})
	atts := r.attempts(t, tg.inv.PaymentHash)
	rec.mu.Lock()
	seeds, picks := len(rec.seeds), rec.picks
	rec.mu.Unlock()
	if len(atts) < 2 || picks < len(atts) || seeds != 0 {
		t.Fatalf("%d attempts (pay: %v), %d picks from the pool, %d fresh seeds: want a pick per route asked and no fresh seed", len(atts), payErr, picks, seeds)
	}
	// The picks spread over the pool, each with Reuse.
	used := map[graph.Seed]int{}
	for range 800 {
		s, reuse := e.deps.fuzzSeed()
		if !reuse || !pool[s] {
			t.Fatalf("fuzzSeed gave %x, reuse %v: not from the pool", s, reuse)
		}
		used[s]++
	}
	for s, k := range used {
		if k < 50 {
			t.Fatalf("seed %x picked %d times of 800", s, k)
		}
	}
	if len(used) != fuzzSeeds {
		t.Fatalf("%d of %d seeds picked", len(used), fuzzSeeds)
	}
	// Without a pool, a fresh seed per search.
	d := PaymentDeps{Rand: rec}
	a, ra := d.fuzzSeed()
	b, rb := d.fuzzSeed()
	if a == b || ra || rb {
		t.Fatalf("without a pool: %x (reuse %v) then %x (reuse %v)", a, ra, b, rb)
	}
	if a, b := e.DrawSeed(), e.DrawSeed(); a == b || a == (graph.Seed{}) {
		t.Fatalf("DrawSeed gave %x then %x", a, b)
	}
}

// sendpay picks the HTLC's channel by route[0]'s node, as Core Lightning
// does: route[0].channel when it is ours to that node, else our channel
// to that node that can spend the most; none when we have no channel to
// it.
func TestFirstChannelByPeer(t *testing.T) {
	self, b, c := node(1), node(2), node(3)
	pol := &graph.Policy{BaseMsat: 1, FeePPM: 1, CLTVDelta: 6, HTLCMin: 1, HTLCMax: 1 << 40}
	small, big, other := graph.NewSCID(1, 1, 0), graph.NewSCID(1, 2, 0), graph.NewSCID(1, 3, 0)
	var gb graph.Builder
	for _, scid := range []graph.SCID{small, big} {
		gb.AddChannel(graph.Channel{SCID: scid, Node1: self, Node2: b, Capacity: 1_000_000, Policy: [2]*graph.Policy{pol, pol}})
	}
	gb.AddChannel(graph.Channel{SCID: other, Node1: b, Node2: c, Capacity: 1_000_000, Policy: [2]*graph.Policy{pol, pol}})
	g, err := gb.Build()
	if err != nil {
		t.Fatal(err)
	}
	n, err := simnet.Load(sub300, simnet.Options{Seed: 5}) // a link for the peer actors; nothing is sent
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	l, err := persistence.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := Start(Options{Self: self, Graph: g, Link: n.Link(), Ledger: l, Network: htlc.Regtest, Height: n.Height, Clock: n.Now,
		Rand: testRand(t), Channels: []Channel{{SCID: small, Spendable: 1_000}, {SCID: big, Spendable: 900_000}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	ctx := context.Background()
	for i, tc := range []struct {
		hop  graph.Hop
		want graph.SCID
		ok   bool
	}{
		{graph.Hop{ID: b, Channel: small}, small, true},                // named, ours, to b
		{graph.Hop{ID: b, Channel: other}, big, true},                  // not ours: the one that can spend the most
		{graph.Hop{ID: b, Channel: graph.NewSCID(9, 9, 9)}, big, true}, // unknown
		{graph.Hop{ID: c, Channel: other}, 0, false},                   // no channel of ours to c
	} {
		if got, ok := e.firstChannel(ctx, tc.hop); got != tc.want || ok != tc.ok {
			t.Errorf("#%d %+v: %s %v, want %s %v", i, tc.hop, got, ok, tc.want, tc.ok)
		}
	}
}
