package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
)

// DestMode is how destinations are chosen.
type DestMode string

// The destination modes.
const (
	// DestUniform picks every candidate with the same probability.
	DestUniform DestMode = "uniform"
	// DestCapacity picks a candidate with probability proportional to
	// its channels' total capacity, as SimLN's random activity does;
	// candidates of unknown or zero capacity are never picked.
	DestCapacity DestMode = "capacity"
)

// ParseDestMode parses a --dest value.
func ParseDestMode(s string) (DestMode, error) {
	switch m := DestMode(s); m {
	case DestUniform, DestCapacity:
		return m, nil
	}
	return "", fmt.Errorf("destination mode %q: want %s or %s", s, DestUniform, DestCapacity)
}

// picker draws destinations: cum[i] is the total weight of nodes[:i+1].
type picker struct {
	nodes []Node
	cum   []uint64
}

func newPicker(mode DestMode, nodes []Node) (picker, error) {
	var p picker
	switch mode {
	case DestUniform:
		p.nodes = nodes
	case DestCapacity:
		var total uint64
		for _, n := range nodes {
			if n.Capacity == 0 {
				continue
			}
			total += n.Capacity
			p.nodes = append(p.nodes, n)
			p.cum = append(p.cum, total)
		}
	default:
		return p, fmt.Errorf("destination mode %q: want %s or %s", mode, DestUniform, DestCapacity)
	}
	if len(p.nodes) == 0 {
		return p, errors.New("no destination to choose from (for --dest capacity: no node of known capacity)")
	}
	return p, nil
}

func (p picker) pick(r *rand.Rand) Node {
	if p.cum == nil {
		return p.nodes[r.IntN(len(p.nodes))]
	}
	x := r.Uint64N(p.cum[len(p.cum)-1])
	return p.nodes[sort.Search(len(p.cum), func(i int) bool { return p.cum[i] > x })]
}
