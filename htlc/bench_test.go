package htlc

import (
	"fmt"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
)

// BenchmarkOnionBuild measures BuildOnion over 4- and 20-hop routes and
// reports onions built per second.
func BenchmarkOnionBuild(b *testing.B) {
	for _, hops := range []int{4, 20} {
		b.Run(fmt.Sprintf("%d-hop", hops), func(b *testing.B) {
			l := newLine(b, uint64(hops), hops, 1_000_000, 18)
			secret := [32]byte{1}
			p := OnionParams{Route: l.route, PaymentHash: [32]byte{2}, PaymentSecret: &secret, BlockHeight: testHeight}
			rng := seeded(uint64(1000 + hops))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := BuildOnion(p, rng); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "onions/s")
		})
	}
}

// BenchmarkReadFailure measures decrypting and classifying a failure from
// the destination of a 20-hop route (the worst case: every layer unwrapped).
func BenchmarkReadFailure(b *testing.B) {
	l := newLine(b, 20, 20, 1_000_000, 18)
	hash := [32]byte{2}
	o, err := BuildOnion(OnionParams{Route: l.route, PaymentHash: hash, BlockHeight: testHeight}, seeded(3))
	if err != nil {
		b.Fatal(err)
	}
	// Peel along the route to get every node's shared secret.
	packet := o.Packet
	var secrets [][32]byte
	for i := range l.route {
		p, err := PeelOnion(packet[:], hash, l.nodes[i].key)
		if err != nil {
			b.Fatal(err)
		}
		secrets = append(secrets, p.SharedSecret)
		packet = p.Next
	}
	reason, _ := CreateFailure(secrets[19], &lnwire.FailTemporaryNodeFailure{})
	for j := 18; j >= 0; j-- {
		reason, _ = WrapFailure(secrets[j], reason)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f, err := ReadFailure(l.self.id, l.route, o.Circuit, reason)
		if err != nil || f.Routing.ErringIndex != 20 {
			b.Fatal(err)
		}
	}
}
