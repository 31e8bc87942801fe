package actors

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

// Issue: on the mainnet simnet with zero latency, 10,000 pays started at
// once all end, complete or with a spec error, and simnet's truth shows no
// payment hash settled twice and no destination paid more than twice its
// invoice. -short runs 1,000.
func TestEngineTenThousandPays(t *testing.T) {
	count := 10_000
	if testing.Short() {
		count = 1_000
	}
	n, err := simnet.Load(mainnetFile, simnet.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	l, e := startEngine(t, n, t.TempDir())
	defer func() { e.Stop(); l.Close() }()
	g := n.Graph()
	r := rand.New(rand.NewPCG(7, 7))
	nodes := g.Nodes()
	bolts := make([]string, 0, count)
	for len(bolts) < count {
		d := nodes[r.IntN(len(nodes))]
		if d == n.Self() || g.NodeChannels(d) == 0 {
			continue
		}
		amount := graph.MilliSat(1_000 + r.Uint64N(5_000_000))
		b, err := n.Invoice(d, amount, "many", 0, n.Now())
		if err != nil {
			t.Fatal(err)
		}
		bolts = append(bolts, b)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[int]int{}
	for _, b := range bolts {
		wg.Add(1)
		go func(b string) {
			defer wg.Done()
			rec, err := e.Pay(context.Background(), PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
			c := code(err)
			if err == nil && rec.Status == payment.StatusComplete {
				c = 0
			} else if c < 203 || c > 210 {
				t.Errorf("pay ended with %v", err)
			}
			mu.Lock()
			outcomes[c]++
			mu.Unlock()
		}(b)
	}
	wg.Wait()
	for _, b := range bolts {
		inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		if d := n.Delivered(inv.PaymentHash); d.Settlements > 1 || d.Amount > 2**inv.Amount {
			t.Fatalf("%x: %+v for an invoice of %s", inv.PaymentHash, d, *inv.Amount)
		}
	}
	if n.InFlight() != 0 {
		t.Fatalf("%d HTLCs in flight", n.InFlight())
	}
	t.Logf("%d pays: outcomes by code (0 = complete) %v", count, outcomes)
	if outcomes[0] < count/2 {
		t.Fatalf("only %d of %d complete", outcomes[0], count)
	}
}
