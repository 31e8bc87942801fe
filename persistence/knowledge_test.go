package persistence

import (
	"bytes"
	"context"
	"testing"

	"github.com/payengine/payengine/messages"
)

// The liquidity knowledge is one value: absent at first, replaced by each
// write, kept across a reopen, and written in the same group as payments
// without disturbing them.
func TestKnowledgeSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	if got, err := l.Knowledge(); err != nil || got != nil {
		t.Fatalf("Knowledge of a new ledger = %x, %v; want nil, nil", got, err)
	}
	ctx := context.Background()
	if err := l.WriteKnowledge(ctx, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	write(t, l, &Batch{Payments: []messages.Payment{fullPayment(1)}})
	if err := l.WriteKnowledge(ctx, []byte{4, 5}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteKnowledge(ctx, []byte{6}); err == nil {
		t.Fatal("WriteKnowledge on a closed ledger succeeded")
	}
	l = openT(t, dir, nil)
	defer l.Close()
	if got, err := l.Knowledge(); err != nil || !bytes.Equal(got, []byte{4, 5}) {
		t.Fatalf("Knowledge after reopen = %x, %v; want 0405", got, err)
	}
	if _, err := l.Payment(hashOf(1), 7); err != nil {
		t.Fatalf("the payment written between: %v", err)
	}
	if pend, err := l.Pending(); err != nil || len(pend) != 0 {
		t.Fatalf("Pending = %v, %v; the knowledge key must not look like an attempt", pend, err)
	}
}
