package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// keyValue is one key written as is by the committer.
type keyValue struct{ key, value []byte }

// knowledgeKey holds the engine's liquidity knowledge (graph.Knowledge's
// MarshalBinary): one value, replaced at each write.
var knowledgeKey = append([]byte{prefixKnowledge}, "liquidity"...)

// WriteKnowledge stores the engine's encoded liquidity knowledge durably,
// replacing what was stored, through the same group commit as Write (so it
// costs no sync of its own when payments write at the same time). The
// ledger does not read the bytes. Errors are those of Write.
func (l *Ledger) WriteKnowledge(ctx context.Context, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := append([]byte(nil), data...)
	req := &request{done: make(chan struct{}), put: &keyValue{key: knowledgeKey, value: v}, records: 1}
	if err := l.submit(ctx, req); err != nil {
		return fmt.Errorf("persistence: write liquidity knowledge: %w", err)
	}
	return nil
}

// Knowledge returns the liquidity knowledge last stored by WriteKnowledge,
// or nil (and no error) if none ever was.
func (l *Ledger) Knowledge() ([]byte, error) {
	var out []byte
	err := l.reading(func() error {
		v, closer, err := l.db.Get(knowledgeKey)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("persistence: read liquidity knowledge: %w", err)
		}
		defer closer.Close()
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}
