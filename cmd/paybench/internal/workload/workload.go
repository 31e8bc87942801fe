// Package workload draws paybench's payments: a destination, an amount and
// an arrival time each, from one seed. Destinations, amounts and arrivals
// come from three independent streams of that seed, so changing how one is
// drawn (say, a rate instead of a closed loop) leaves the other two
// sequences as they were, and two runs with the same seed and settings pay
// the same payments in the same order.
package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/payengine/payengine/graph"
)

// Streams of the seed, one per kind of draw.
const (
	streamDest    = 0x64657374 // "dest"
	streamAmount  = 0x616d6e74 // "amnt"
	streamArrival = 0x61727276 // "arrv"
)

// Node is a destination candidate: a node of the network and the total
// capacity of its channels in satoshis (0 when unknown).
type Node struct {
	ID       graph.NodeID
	Capacity uint64
}

// Item is one payment to make.
type Item struct {
	// Seq is the payment's place in the sequence, from 0.
	Seq int
	// Dest is the node to pay.
	Dest graph.NodeID
	// Amount is what the invoice asks.
	Amount graph.MilliSat
	// At is when the payment arrives, from the start of the run: the sum
	// of exponential gaps in an open loop, 0 in a closed loop (a payment
	// starts when a worker is free).
	At time.Duration
}

// Spec says how to draw payments.
type Spec struct {
	// Seed drives every draw.
	Seed uint64
	// Nodes are the destination candidates (our own node left out).
	Nodes []Node
	// Dest chooses among Nodes: DestUniform or DestCapacity.
	Dest DestMode
	// Amounts draws each amount.
	Amounts Amounts
	// Rate is the open loop's mean arrivals per second; 0 means a closed
	// loop.
	Rate float64
}

// Generator yields a Spec's payments in order. It is not safe for
// concurrent use: one goroutine (the run's dispatcher) draws.
type Generator struct {
	spec                  Spec
	dests                 picker
	dest, amount, arrival *rand.Rand
	seq                   int
	at                    time.Duration
}

// ErrInvalidSpec is returned by New for a Spec it cannot draw from.
var ErrInvalidSpec = errors.New("workload: invalid spec")

// New checks the spec and returns its generator.
func New(spec Spec) (*Generator, error) {
	var errs []error
	if spec.Amounts == nil {
		errs = append(errs, errors.New("no amount distribution"))
	}
	if spec.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g is negative", spec.Rate))
	}
	p, err := newPicker(spec.Dest, spec.Nodes)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}
	return &Generator{
		spec:    spec,
		dests:   p,
		dest:    rand.New(rand.NewPCG(spec.Seed, streamDest)),
		amount:  rand.New(rand.NewPCG(spec.Seed, streamAmount)),
		arrival: rand.New(rand.NewPCG(spec.Seed, streamArrival)),
	}, nil
}

// Next returns the next payment. The sequence never ends; the run decides
// how many to take.
func (g *Generator) Next() Item {
	node := g.dests.pick(g.dest)
	it := Item{Seq: g.seq, Dest: node.ID, Amount: g.spec.Amounts.Draw(g.amount, node)}
	if g.spec.Rate > 0 {
		// Exponential gaps: a Poisson process of the given rate.
		g.at += time.Duration(g.arrival.ExpFloat64() / g.spec.Rate * float64(time.Second))
		it.At = g.at
	}
	g.seq++
	return it
}
