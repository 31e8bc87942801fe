package graph

import (
	"fmt"
	"strconv"
	"strings"
)

// SCID is a short channel id: block height (24 bits), transaction index (24
// bits) and output index (16 bits), packed as BOLT 7 packs it.
type SCID uint64

// NewSCID packs a block height, transaction index and output index.
func NewSCID(block, tx uint32, out uint16) SCID {
	return SCID(uint64(block&0xFFFFFF)<<40 | uint64(tx&0xFFFFFF)<<16 | uint64(out))
}

// Block returns the funding block height.
func (s SCID) Block() uint32 { return uint32(s >> 40) }

// TxIndex returns the funding transaction's index in its block.
func (s SCID) TxIndex() uint32 { return uint32(s>>16) & 0xFFFFFF }

// Output returns the funding output index.
func (s SCID) Output() uint16 { return uint16(s) }

// String formats the id in Core Lightning's text form BLOCKxTXxOUT.
func (s SCID) String() string {
	return fmt.Sprintf("%dx%dx%d", s.Block(), s.TxIndex(), s.Output())
}

// MarshalText implements encoding.TextMarshaler (BLOCKxTXxOUT).
func (s SCID) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (BLOCKxTXxOUT).
func (s *SCID) UnmarshalText(b []byte) error {
	v, err := ParseSCID(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSCID parses BLOCKxTXxOUT; Core Lightning's older BLOCK:TX:OUT form is
// accepted too, because v0.6 documents print it that way.
func ParseSCID(s string) (SCID, error) {
	sep := "x"
	if !strings.Contains(s, "x") && strings.Contains(s, ":") {
		sep = ":"
	}
	parts := strings.Split(s, sep)
	if len(parts) != 3 {
		return 0, fmt.Errorf("graph: short channel id %q: want BLOCKxTXxOUT", s)
	}
	block, err1 := strconv.ParseUint(parts[0], 10, 24)
	tx, err2 := strconv.ParseUint(parts[1], 10, 24)
	out, err3 := strconv.ParseUint(parts[2], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("graph: short channel id %q: numbers out of range", s)
	}
	return NewSCID(uint32(block), uint32(tx), uint16(out)), nil
}

// SCIDDir is one direction of a channel: Dir 0 is from the lesser node id
// (BOLT 7 node_id_1), Dir 1 from the greater.
type SCIDDir struct {
	SCID SCID
	Dir  uint8
}

// String formats the direction in Core Lightning's form BLOCKxTXxOUT/D.
func (d SCIDDir) String() string { return d.SCID.String() + "/" + strconv.Itoa(int(d.Dir)) }

// ParseSCIDDir parses BLOCKxTXxOUT/0 or BLOCKxTXxOUT/1.
func ParseSCIDDir(s string) (SCIDDir, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return SCIDDir{}, fmt.Errorf("graph: %q: want BLOCKxTXxOUT/DIR", s)
	}
	scid, err := ParseSCID(s[:i])
	if err != nil {
		return SCIDDir{}, err
	}
	switch s[i+1:] {
	case "0":
		return SCIDDir{SCID: scid, Dir: 0}, nil
	case "1":
		return SCIDDir{SCID: scid, Dir: 1}, nil
	}
	return SCIDDir{}, fmt.Errorf("graph: %q: direction must be 0 or 1", s)
}
