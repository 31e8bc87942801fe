package htlc

import (
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/payengine/payengine/graph"
)

// The cache gives the key a parse gives, for ids that share a slot too,
// and refuses what is not a point.
func TestNodePubKey(t *testing.T) {
	var ids []graph.NodeID
	for i := byte(1); len(ids) < 3*pubKeySlots/2; i++ {
		priv, _ := btcec.PrivKeyFromBytes([]byte{i, byte(len(ids)), 7, byte(len(ids) >> 8)})
		var id graph.NodeID
		copy(id[:], priv.PubKey().SerializeCompressed())
		ids = append(ids, id)
	}
	for round := 0; round < 2; round++ {
		for _, id := range ids {
			got, err := nodePubKey(id)
			if err != nil {
				t.Fatal(err)
			}
			if graph.NodeID(got.SerializeCompressed()) != id {
				t.Fatalf("round %d: key of %s is %x", round, id, got.SerializeCompressed())
			}
		}
	}
	var bad graph.NodeID
	bad[0] = 0x02 // x = 0 is not on the curve
	if _, err := nodePubKey(bad); err == nil {
		t.Fatal("an id that is not a point was accepted")
	}
}
