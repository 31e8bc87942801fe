package graph

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// knowGraph is S→A→D and S→B→D, 1,000 sat channels, and returns the route
// through A of 300,000 msat delivered (A's channel charges 1,000 msat).
func knowGraph(t *testing.T) (*Graph, Route) {
	const S, A, B, D = 1, 2, 3, 4
	g := buildFlowGraph(t,
		flowChan{1, S, A, 1000, &Policy{HTLCMax: 1 << 40}, &Policy{HTLCMax: 1 << 40}},
		flowChan{2, A, D, 1000, &Policy{BaseMsat: 1000, HTLCMax: 1 << 40}, nil},
		flowChan{3, S, B, 1000, &Policy{HTLCMax: 1 << 40}, nil},
		flowChan{4, B, D, 1000, &Policy{BaseMsat: 1000, HTLCMax: 1 << 40}, nil})
	r := Route{
		{ID: id(A), Channel: NewSCID(1, 1, 0), Direction: Direction(id(S), id(A)), Amount: 301_000},
		{ID: id(D), Channel: NewSCID(2, 1, 0), Direction: Direction(id(A), id(D)), Amount: 300_000},
	}
	return g, r
}

func bounds(t *testing.T, v *LiquidityView, d SCIDDir) (lo, hi, reserved MilliSat) {
	t.Helper()
	c, ok := v.Channel(d)
	if !ok {
		return 0, math.MaxUint64, 0
	}
	return c.Lo, c.Hi, c.Reserved
}

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

// A failure at hop k: the channels before it carried their amounts, so lo
// rises to them; hop k could not carry its amount, so hi falls below it.
func TestKnowledgeFailed(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(time.Hour)
	if err := k.Failed(g, r, 1, t0); err != nil {
		t.Fatal(err)
	}
	v := k.At(t0)
	if lo, hi, _ := bounds(t, v, SCIDDir{r[0].Channel, r[0].Direction}); lo != 301_000 || hi != 1_000_000 {
		t.Errorf("hop 0: [%s, %s], want [301000msat, 1000000msat]", lo, hi)
	}
	if lo, hi, _ := bounds(t, v, SCIDDir{r[1].Channel, r[1].Direction}); lo != 0 || hi != 299_999 {
		t.Errorf("hop 1: [%s, %s], want [0msat, 299999msat]", lo, hi)
	}
	if err := k.Failed(g, r, 3, t0); err == nil {
		t.Error("a failure past the destination was accepted")
	}
	// A later success through the hop that failed: the newest news wins.
	if err := k.Failed(g, r, 2, t0); err != nil {
		t.Fatal(err)
	}
	if lo, hi, _ := bounds(t, k.At(t0), SCIDDir{r[1].Channel, r[1].Direction}); lo != 300_000 || hi != 300_000 {
		t.Errorf("hop 1 after carrying: [%s, %s], want [300000msat, 300000msat]", lo, hi)
	}
}

// A success: every channel carried its amount and it moved: the direction
// paid has that much less, the other that much more.
func TestKnowledgeSucceeded(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(time.Hour)
	if err := k.Succeeded(g, r, t0); err != nil {
		t.Fatal(err)
	}
	v := k.At(t0)
	d0 := SCIDDir{r[0].Channel, r[0].Direction}
	if lo, hi, _ := bounds(t, v, d0); lo != 0 || hi != 1_000_000-301_000 {
		t.Errorf("hop 0: [%s, %s], want [0msat, 699000msat]", lo, hi)
	}
	if lo, hi, _ := bounds(t, v, SCIDDir{d0.SCID, 1 - d0.Dir}); lo != 301_000 || hi != 1_000_000 {
		t.Errorf("hop 0 reversed: [%s, %s], want [301000msat, 1000000msat]", lo, hi)
	}
}

// Learned bounds relax toward the prior: after one half-life, halfway.
// Exact bounds do not; a time before the learning changes nothing.
func TestKnowledgeRelaxes(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(time.Hour)
	if err := k.Failed(g, r, 1, t0); err != nil {
		t.Fatal(err)
	}
	own := SCIDDir{NewSCID(3, 1, 0), Direction(id(1), id(3))}
	k.SetExact(own, 123_000, t0)
	d0, d1 := SCIDDir{r[0].Channel, r[0].Direction}, SCIDDir{r[1].Channel, r[1].Direction}
	v := k.At(t0.Add(time.Hour))
	if lo, _, _ := bounds(t, v, d0); lo != 150_500 {
		t.Errorf("lo after a half-life: %s, want 150500msat", lo)
	}
	if _, hi, _ := bounds(t, v, d1); hi != 1_000_000-350_000 {
		t.Errorf("hi after a half-life: %s, want 650000msat (halfway from 299999 to 1000000, rounded)", hi)
	}
	if lo, hi, _ := bounds(t, k.At(t0.Add(100*time.Hour)), own); lo != 123_000 || hi != 123_000 {
		t.Errorf("exact bounds relaxed to [%s, %s]", lo, hi)
	}
	if lo, _, _ := bounds(t, k.At(t0.Add(-time.Hour)), d0); lo != 301_000 {
		t.Errorf("lo before the learning: %s, want 301000msat", lo)
	}
	if n := k.Age(t0.Add(40*time.Hour), 1); n != 2 {
		t.Errorf("Age dropped %d entries, want the 2 learned", n)
	}
	if _, ok := k.At(t0).Channel(d0); ok {
		t.Error("an aged entry is still there")
	}
	if _, ok := k.At(t0).Channel(own); !ok {
		t.Error("Age dropped an exact entry")
	}
}

// Reservations add up per direction across routes, come off the bounds the
// planner sees, and go back on Unreserve; releasing more is refused.
func TestKnowledgeReservations(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(0)
	k.Reserve(r)
	k.Reserve(r)
	d1 := SCIDDir{r[1].Channel, r[1].Direction}
	if _, _, res := bounds(t, k.At(t0), d1); res != 600_000 {
		t.Fatalf("reserved %s, want 600000msat", res)
	}
	// 1,000 sat less 600,000 msat reserved leaves 400,000: 95% of it is
	// offered, so 390,000 msat cannot pass through A; B takes it.
	p := FlowParams{Source: id(1), Destination: id(4), Amount: 390_000, MaxFee: 1 << 30, MaxParts: 1, Liquidity: k.At(t0)}
	f, err := g.PlanFlow(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Parts[0].Route[0].ID != id(3) {
		t.Errorf("planned through %s, want B", f.Parts[0].Route[0].ID)
	}
	checkPlan(t, g, p, f)
	if err := k.Unreserve(r); err != nil {
		t.Fatal(err)
	}
	if err := k.Unreserve(append(r, r...)); err == nil {
		t.Error("released more than was reserved")
	}
	if err := k.Unreserve(r); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.At(t0).Channel(d1); ok {
		t.Error("an entry with nothing learned nor reserved remains")
	}
}

// A channel that fails while HTLCs of ours hold part of it could not carry
// the amount on top of them: what is free is below the amount, the whole
// below the amount plus what is held. Once the held HTLC settles and its
// amount has left, the channel is known to have less than the amount; had
// the failure forgotten what was held, it would count that amount off
// twice and starve the channel.
func TestKnowledgeFailedUnderReservation(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(time.Hour)
	d1 := SCIDDir{r[1].Channel, r[1].Direction}
	held := Route{r[0], r[1]}
	held[0].Amount, held[1].Amount = 201_000, 200_000
	k.Reserve(held)
	if err := k.Failed(g, r, 1, t0); err != nil {
		t.Fatal(err)
	}
	if lo, hi, res := bounds(t, k.At(t0), d1); lo != 0 || hi != 299_999+200_000 || res != 200_000 {
		t.Fatalf("after the failure: [%s, %s] reserved %s, want [0msat, 499999msat] reserved 200000msat", lo, hi, res)
	}
	// The planner sees 299,999 msat free: 290,000 pass through A.
	p := FlowParams{Source: id(1), Destination: id(4), Amount: 280_000, MaxFee: 1 << 30, MaxParts: 1, Liquidity: k.At(t0),
		Avoid: g.NewAvoidSet([]SCIDDir{{NewSCID(3, 1, 0), Direction(id(1), id(3))}}, nil)}
	if _, err := g.PlanFlow(p); err != nil {
		t.Fatalf("280,000 msat through A: %v", err)
	}
	if err := k.Unreserve(held); err != nil {
		t.Fatal(err)
	}
	if err := k.Succeeded(g, held, t0); err != nil {
		t.Fatal(err)
	}
	if lo, hi, res := bounds(t, k.At(t0), d1); lo != 0 || hi != 299_999 || res != 0 {
		t.Errorf("after the held HTLC settled: [%s, %s] reserved %s, want [0msat, 299999msat] reserved 0msat", lo, hi, res)
	}
}

// A view is a snapshot: writes after At do not change it.
func TestKnowledgeViewIsImmutable(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(0)
	v := k.At(t0)
	_ = k.Failed(g, r, 1, t0)
	k.Reserve(r)
	n := 0
	v.EachBound(func(SCIDDir, MilliSat, MilliSat, MilliSat) { n++ })
	if n != 0 {
		t.Errorf("the earlier view sees %d entries", n)
	}
	k.Reset()
	if _, _, res := bounds(t, k.At(t0), SCIDDir{r[1].Channel, r[1].Direction}); res != 301_000-1000 {
		t.Errorf("Reset dropped the reservation: %s", res)
	}
}

// MarshalBinary and UnmarshalBinary round-trip the learned bounds; garbage
// is refused with ErrBadKnowledge and leaves the knowledge as it was.
func TestKnowledgeEncoding(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(time.Hour)
	_ = k.Failed(g, r, 1, t0)
	_ = k.Succeeded(g, r[:1], t0.Add(time.Minute))
	k.SetExact(SCIDDir{NewSCID(3, 1, 0), 0}, 5, t0)
	k.Reserve(r)
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k2 := NewKnowledge(time.Hour)
	if err := k2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(30 * time.Minute)
	want := map[SCIDDir]ChannelKnowledge{}
	k.At(now).Channels(func(c ChannelKnowledge) {
		c.Reserved = 0 // not kept
		if c.Hi != math.MaxUint64 {
			want[c.Dir] = c
		}
	})
	got := 0
	k2.At(now).Channels(func(c ChannelKnowledge) {
		got++
		if w := want[c.Dir]; w != c {
			t.Errorf("%s: decoded %+v, want %+v", c.Dir, c, w)
		}
	})
	if got != len(want) || got != 4 {
		t.Errorf("decoded %d entries, want %d (4)", got, len(want))
	}
	b2, _ := k2.MarshalBinary()
	if len(b2) != len(b) {
		t.Errorf("re-encoding is %d bytes, was %d", len(b2), len(b))
	}
	r2 := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		bad := bytes.Clone(b)
		switch i % 3 {
		case 0:
			bad = bad[:r2.IntN(len(bad))]
		case 1:
			bad[r2.IntN(len(bad))] ^= byte(1 + r2.IntN(255))
		default:
			bad = append(bad, byte(r2.IntN(256)))
		}
		before, _ := k2.MarshalBinary()
		if err := k2.UnmarshalBinary(bad); err != nil {
			if !errors.Is(err, ErrBadKnowledge) {
				t.Fatalf("garbage %x: %v", bad, err)
			}
			if after, _ := k2.MarshalBinary(); len(after) != len(before) {
				t.Fatalf("a refused decode changed the knowledge")
			}
		}
	}
}

// Plans read views while payments learn and reserve, from many goroutines
// (run with -race).
func TestKnowledgeConcurrent(t *testing.T) {
	g, r := knowGraph(t)
	k := NewKnowledge(time.Hour)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				k.Reserve(r)
				_ = k.Failed(g, r, j%3, t0.Add(time.Duration(j)*time.Second))
				if err := k.Unreserve(r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				_, err := g.PlanFlow(FlowParams{Source: id(1), Destination: id(4), Amount: 100_000, MaxFee: 1 << 30, Liquidity: k.At(t0)})
				if err != nil && !errors.Is(err, ErrNoRoute) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, _, res := bounds(t, k.At(t0), SCIDDir{r[1].Channel, r[1].Direction}); res != 0 {
		t.Errorf("%s still reserved after every reservation was released", res)
	}
}
