package persistence

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
)

func hashOf(i uint64) (h [32]byte) {
	binary.BigEndian.PutUint64(h[:], i)
	h[31] = 0xAB
	return h
}

func nodeOf(b byte) (n graph.NodeID) {
	n[0] = 2
	for i := 1; i < len(n); i++ {
		n[i] = b + byte(i)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// fullPayment has every field set, failed so the failure is set too.
func fullPayment(i uint64) messages.Payment {
	return messages.Payment{
		PaymentHash:    hashOf(i),
		GroupID:        7,
		Destination:    nodeOf(9),
		AmountMsat:     ptr(graph.MilliSat(100_000)),
		AmountSentMsat: 100_123,
		CreatedAt:      1_700_000_000 + i,
		CompletedAt:    ptr(uint64(1_700_000_100)),
		Status:         messages.PaymentFailed,
		Preimage:       &[32]byte{1, 2, 3},
		Label:          "label ☃",
		Bolt11:         "lnbc1...",
		Description:    "coffee",
		PaymentSecret:  &[32]byte{4, 5, 6},
		Failure:        fullFailure(),
		Pay: &messages.PayRun{StartedAt: 1_700_000_000_123_456_789, RetryFor: 60e9, RiskFactor: 1.5, MaxFeePercent: 0.25,
			ExemptFee: 5000, MaxDelay: 2016, MaxParts: 16},
	}
}

func fullFailure() *messages.Failure {
	return &messages.Failure{
		Code:    -204,
		Message: "WIRE_TEMPORARY_CHANNEL_FAILURE",
		Routing: &messages.RoutingFailure{
			ErringIndex:     2,
			OriginIndex:     1,
			ErringNode:      nodeOf(5),
			Destination:     true,
			ErringChannel:   graph.NewSCID(700_000, 12, 1),
			ErringDirection: 1,
			FailCode:        0x1007,
			ChannelUpdate:   []byte{0x01, 0x02},
			RawMessage:      []byte{0x10, 0x07, 0, 0},
		},
		ErrorOnion: []byte{0xde, 0xad},
	}
}

func fullAttempt(i, part uint64, st messages.AttemptStatus) messages.Attempt {
	return messages.Attempt{
		PaymentHash: hashOf(i),
		GroupID:     7,
		PartID:      part,
		Route: graph.Route{
			{ID: nodeOf(1), Channel: graph.NewSCID(1, 2, 3), Direction: 1, Amount: 100_123, Delay: 40, Style: "tlv"},
			{ID: nodeOf(9), Channel: graph.NewSCID(4, 5, 6), Direction: 0, Amount: 100_000, Delay: 9, Style: "tlv"},
		},
		AmountMsat:     100_000,
		AmountSentMsat: 100_123,
		FirstHop:       graph.NewSCID(1, 2, 3),
		LinkID:         42 + part,
		Circuit:        []byte{7, 7, byte(part)},
		Status:         st,
		Preimage:       &[32]byte{9},
		Failure:        fullFailure(),
		CreatedAt:      1_700_000_000 + i,
		ResolvedAt:     ptr(uint64(1_700_000_050)),
	}
}

func openT(t testing.TB, dir string, o *Options) *Ledger {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

func write(t testing.TB, l *Ledger, b *Batch) {
	t.Helper()
	if err := l.Write(context.Background(), b); err != nil {
		t.Fatalf("Write: %v", err)
	}
}
