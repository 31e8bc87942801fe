package htlc

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/payengine/payengine/graph"
)

// pubKeySlots is the size of the parsed-key cache: routes keep crossing
// the same few hundred hubs, and a slot is about 100 bytes.
const pubKeySlots = 4096

// parsedKey is one cache slot: a node id and its parsed point.
type parsedKey struct {
	id  graph.NodeID
	pub btcec.PublicKey
}

// pubKeys caches parsed node keys: parsing a compressed key takes a field
// square root, about a tenth of an onion's cost per hop. Direct-mapped
// and lock-free: a slot holds the last key hashed to it, and readers
// compare the id, so a collision costs a parse, never a wrong key.
var pubKeys [pubKeySlots]atomic.Pointer[parsedKey]

// nodePubKey returns id's public key, parsed once while it stays cached.
func nodePubKey(id graph.NodeID) (*btcec.PublicKey, error) {
	// Node ids are hashes of points: any 8 of their bytes spread well.
	slot := &pubKeys[binary.LittleEndian.Uint64(id[1:9])%pubKeySlots]
	if k := slot.Load(); k != nil && k.id == id {
		return &k.pub, nil
	}
	pub, err := btcec.ParsePubKey(id[:])
	if err != nil {
		return nil, err
	}
	slot.Store(&parsedKey{id: id, pub: *pub})
	return pub, nil
}
