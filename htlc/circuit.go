package htlc

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	sphinx "github.com/lightningnetwork/lightning-onion"
	"github.com/payengine/payengine/graph"
)

// ErrInvalidCircuit is returned for a Circuit whose session key or path does
// not parse, or that does not belong to the route it is used with.
var ErrInvalidCircuit = errors.New("htlc: invalid circuit")

// Circuit is what the payer keeps of an onion to read a failure that comes
// back: the session key and the nodes of the route. The session key unwraps
// every layer of the onion, so a Circuit is secret; persist it with the
// attempt (MarshalBinary) so that a failure can be read after a restart.
type Circuit struct {
	SessionKey [32]byte
	Path       []graph.NodeID
}

// circuitVersion is the first byte of a Circuit's binary form.
const circuitVersion = 1

// MarshalBinary encodes the circuit as version (1 byte), session key (32),
// path length (1) and the node ids (33 each).
func (c Circuit) MarshalBinary() ([]byte, error) {
	if len(c.Path) > MaxHops {
		return nil, fmt.Errorf("%w: path of %d nodes", ErrInvalidCircuit, len(c.Path))
	}
	b := make([]byte, 0, 2+32+33*len(c.Path))
	b = append(b, circuitVersion)
	b = append(b, c.SessionKey[:]...)
	b = append(b, byte(len(c.Path)))
	for _, id := range c.Path {
		b = append(b, id[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, or returns an error
// wrapping ErrInvalidCircuit.
func (c *Circuit) UnmarshalBinary(b []byte) error {
	if len(b) < 34 || b[0] != circuitVersion {
		return fmt.Errorf("%w: bad header", ErrInvalidCircuit)
	}
	n := int(b[33])
	if n > MaxHops || len(b) != 34+33*n {
		return fmt.Errorf("%w: %d bytes for %d nodes", ErrInvalidCircuit, len(b), n)
	}
	var out Circuit
	copy(out.SessionKey[:], b[1:33])
	for i := range n {
		var id graph.NodeID
		copy(id[:], b[34+33*i:])
		out.Path = append(out.Path, id)
	}
	*c = out
	return nil
}

// sphinxCircuit turns a Circuit into lightning-onion's form.
func (c Circuit) sphinxCircuit() (*sphinx.Circuit, error) {
	var k btcec.ModNScalar
	if k.SetBytes(&c.SessionKey) != 0 || k.IsZero() {
		return nil, fmt.Errorf("%w: session key out of range", ErrInvalidCircuit)
	}
	if len(c.Path) == 0 || len(c.Path) > MaxHops {
		return nil, fmt.Errorf("%w: path of %d nodes", ErrInvalidCircuit, len(c.Path))
	}
	sc := &sphinx.Circuit{SessionKey: btcec.PrivKeyFromScalar(&k)}
	for i, id := range c.Path {
		pub, err := btcec.ParsePubKey(id[:])
		if err != nil {
			return nil, fmt.Errorf("%w: node %d: %w", ErrInvalidCircuit, i, err)
		}
		sc.PaymentPath = append(sc.PaymentPath, pub)
	}
	return sc, nil
}
