package htlc

import (
	"errors"
	"strings"
	"testing"

	"github.com/payengine/payengine/graph"
)

// TestNetworks: names and aliases map to networks; an invoice made for one
// network decodes on it with its BOLT 11 prefix and is refused on the
// others (regtest "bcrt" must not pass as mainnet "bc", signet "tbs" not as
// testnet "tb").
func TestNetworks(t *testing.T) {
	for in, want := range map[string]Network{"mainnet": Mainnet, "bitcoin": Mainnet, "testnet": Testnet,
		"testnet3": Testnet, "signet": Signet, "regtest": Regtest} {
		if got, err := ParseNetwork(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseNetwork("simnet"); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("simnet: %v", err)
	}
	prefix := map[Network]string{Mainnet: "lnbc", Testnet: "lntb", Signet: "lntbs", Regtest: "lnbcrt"}
	key := newNode(t, seeded(41)).key
	all := []Network{Mainnet, Testnet, Signet, Regtest}
	for _, n := range all {
		for _, amt := range []uint64{0, 1_000} {
			p := testInvoiceParams(0)
			p.Network, p.Amount = n, graph.MilliSat(amt)
			s, err := EncodeInvoice(p, key)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			if !strings.HasPrefix(s, prefix[n]) {
				t.Errorf("%s: %q", n, s[:10])
			}
			for _, m := range all {
				inv, err := Decode(s, DecodeOptions{Network: m})
				if (m == n) != (err == nil) {
					t.Errorf("%s invoice (amount %d) decoded as %s: %v", n, amt, m, err)
				}
				if err == nil {
					cur, _ := n.Currency()
					if inv.Currency != cur || inv.Network != n {
						t.Errorf("%s: currency %q", n, inv.Currency)
					}
				}
			}
		}
	}
}
