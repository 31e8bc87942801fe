package graph

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// NodeID is a node's 33-byte compressed public key, as gossip carries it.
type NodeID [33]byte

// ParseNodeID parses 66 hex characters of a compressed public key (prefix 02
// or 03). It checks the shape, not that the point is on the curve.
func ParseNodeID(s string) (NodeID, error) {
	var id NodeID
	if len(s) != 66 {
		return id, fmt.Errorf("graph: node id %q: want 66 hex characters, got %d", s, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("graph: node id %q: %w", s, err)
	}
	if id[0] != 2 && id[0] != 3 {
		return id, fmt.Errorf("graph: node id %q: prefix must be 02 or 03", s)
	}
	return id, nil
}

// String returns the id as lower-case hex.
func (n NodeID) String() string { return hex.EncodeToString(n[:]) }

// Less reports whether n sorts before o; BOLT 7 calls the lesser of a
// channel's two nodes node_id_1.
func (n NodeID) Less(o NodeID) bool { return bytes.Compare(n[:], o[:]) < 0 }

// MarshalText implements encoding.TextMarshaler (hex).
func (n NodeID) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (n *NodeID) UnmarshalText(b []byte) error {
	id, err := ParseNodeID(string(b))
	if err != nil {
		return err
	}
	*n = id
	return nil
}
