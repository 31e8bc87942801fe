package simnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// store keeps a durable network's state in Pebble. Writes go through one
// committer goroutine: every write queued while it syncs the previous
// group becomes one batch and one fsync (group commit), so many HTLCs in
// flight share each sync. A write's waiter returns once its batch is on
// disk. Groups commit in the order they were queued, and so do the writes
// inside a group.
//
// The counters (a channel's balance moves, a payment hash's ground truth)
// are written as Pebble merge operands that add up, never read back and
// rewritten, so concurrent writers need no order between them.
type store struct {
	db *pebble.DB

	mu     sync.Mutex
	queue  []*storeWrite
	closed bool
	notify chan struct{}
	done   chan struct{}
}

// storeWrite is one caller's set of operations, applied atomically.
type storeWrite struct {
	ops  []storeOp
	err  error
	done chan struct{}
}

// storeOp is a Set, a Merge (an addition) or a Delete of one key.
type storeOp struct {
	kind       byte // opSet, opMerge, opDelete
	key, value []byte
}

const (
	opSet byte = iota
	opMerge
	opDelete
)

// errStoreClosed is returned by writes queued after close.
var errStoreClosed = errors.New("simnet: state store closed")

// openStore opens (creating if need be) the store in dir.
func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("simnet: state directory: %w", err)
	}
	db, err := pebble.Open(dir, &pebble.Options{Merger: sumMerger, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("simnet: open state in %s: %w", dir, err)
	}
	s := &store{db: db, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// submit queues ops; wait on the result for them to be on disk. Callers
// that need their writes in a given order queue them under the lock that
// orders the changes in memory, and wait after releasing it.
func (s *store) submit(ops ...storeOp) *storeWrite {
	w := &storeWrite{ops: ops, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		w.err = errStoreClosed
		close(w.done)
		return w
	}
	s.queue = append(s.queue, w)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return w
}

// wait returns once the write is durable, or failed.
func (w *storeWrite) wait() error {
	<-w.done
	return w.err
}

// write queues ops and waits for them to be durable.
func (s *store) write(ops ...storeOp) error { return s.submit(ops...).wait() }

// commitLoop commits every queued write, a group at a time, until close
// and the queue is empty.
func (s *store) commitLoop() {
	defer close(s.done)
	for {
		<-s.notify
		for {
			s.mu.Lock()
			group, closed := s.queue, s.closed
			s.queue = nil
			s.mu.Unlock()
			if len(group) == 0 {
				if closed {
					return
				}
				break
			}
			err := s.commit(group)
			for _, w := range group {
				w.err = err
				close(w.done)
			}
		}
	}
}

// commit applies a group of writes as one batch and syncs it.
func (s *store) commit(group []*storeWrite) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, w := range group {
		for _, op := range w.ops {
			var err error
			switch op.kind {
			case opSet:
				err = b.Set(op.key, op.value, nil)
			case opMerge:
				err = b.Merge(op.key, op.value, nil)
			case opDelete:
				err = b.Delete(op.key, nil)
			}
			if err != nil {
				return fmt.Errorf("simnet: state batch: %w", err)
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("simnet: state commit: %w", err)
	}
	return nil
}

// close commits what is queued, then closes the database.
func (s *store) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("simnet: close state: %w", err)
	}
	return nil
}

// get returns a copy of key's value, or nil if there is none.
func (s *store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("simnet: read state: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// scan calls fn with every key under prefix and its value (both only
// valid during the call), in key order.
func (s *store) scan(prefix byte, fn func(key, value []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return fmt.Errorf("simnet: read state: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("simnet: read state: %w", err)
	}
	return nil
}

// sumMerger adds merge operands that are vectors of big-endian int64 of
// the same length element by element: the channel balance moves and the
// ground truth counters.
var sumMerger = &pebble.Merger{
	Name: "simnet.sum-int64",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		m := &sumValue{}
		return m, m.add(value)
	},
}

// sumValue is a running sum of int64 vectors.
type sumValue struct{ sum []int64 }

func (m *sumValue) add(v []byte) error {
	if len(v)%8 != 0 || m.sum != nil && len(v) != 8*len(m.sum) {
		return fmt.Errorf("simnet: merge of a %d-byte value into %d counters", len(v), len(m.sum))
	}
	if m.sum == nil {
		m.sum = make([]int64, len(v)/8)
	}
	for i := range m.sum {
		m.sum[i] += int64(binary.BigEndian.Uint64(v[8*i:]))
	}
	return nil
}

func (m *sumValue) MergeNewer(v []byte) error { return m.add(v) }
func (m *sumValue) MergeOlder(v []byte) error { return m.add(v) }

func (m *sumValue) Finish(bool) ([]byte, io.Closer, error) {
	return int64s(m.sum...), nil, nil
}

// int64s encodes a vector of counters as sumMerger reads it.
func int64s(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

// readInt64s decodes n counters; false if the value is not n of them.
func readInt64s(b []byte, n int) ([]int64, bool) {
	if len(b) != 8*n {
		return nil, false
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
	}
	return v, true
}

// quietLogger drops Pebble's routine log lines (simnet has no logger),
// keeps its errors on stderr, and exits on a fatal one as Pebble's own
// logger does.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "simnet: pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "simnet: pebble: "+format+"\n", args...)
	os.Exit(1)
}
