// Package persistence is payengine's durable ledger: payment and attempt
// records in Pebble, a created-time index, a pending index of attempts that
// may be in flight (scanned by recovery at start), and group commit so that
// thousands of concurrent writers share a few syncs.
//
// It imports the record types of package messages and graph's value types,
// and nothing of the actors.
package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/payengine/payengine/messages"
)

// openDirs holds the absolute paths of the directories held by open Ledgers
// of this process, so a second Open fails with ErrLocked without relying on
// the wording of Pebble's error.
var openDirs struct {
	sync.Mutex
	m map[string]bool
}

// Ledger is the durable store of payments and attempts. Open one per
// directory; all methods are safe for concurrent use. Writes go through one
// committer goroutine owned by the Ledger (see Write); reads go straight to
// Pebble and see every acknowledged write.
type Ledger struct {
	opts Options
	dir  string
	db   *pebble.DB
	lock *pebble.Lock

	// dbMu guards db against Close: readers hold it shared.
	dbMu     sync.RWMutex
	dbClosed bool

	// mu guards the queue of writes waiting for the committer.
	mu      sync.Mutex
	queue   []*request
	closing bool
	notify  chan struct{} // capacity 1: "the queue is not empty"
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed by the committer when it exits

	nextID atomic.Uint64 // next payment row id; written only by the committer

	metricsMu sync.Mutex
	metrics   Metrics
}

// Open opens (creating if needed) the ledger in dir. A nil opts means
// defaults; opts is copied, then EnsureDefaults and Validate run on the copy.
// Open fails with an error wrapping ErrLocked if another Ledger, in this
// process or another, holds dir, and with ErrInvalidOptions for bad options.
func Open(dir string, opts *Options) (*Ledger, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("persistence: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("persistence: open %s: %w", dir, err)
	}

	openDirs.Lock()
	defer openDirs.Unlock()
	if openDirs.m[abs] {
		return nil, fmt.Errorf("%w: %s is open in this process", ErrLocked, abs)
	}
	lock, err := pebble.LockDirectory(abs, vfs.Default)
	if err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)) {
			return nil, fmt.Errorf("%w: %s: %w", ErrLocked, abs, err)
		}
		return nil, fmt.Errorf("persistence: lock %s: %w", abs, err)
	}
	popts := &pebble.Options{Lock: lock, Logger: pebbleLogger{o.Logger}}
	db, err := pebble.Open(abs, popts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("persistence: open %s: %w", abs, err)
	}
	l := &Ledger{
		opts:   o,
		dir:    abs,
		db:     db,
		lock:   lock,
		notify: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := l.loadMeta(); err != nil {
		db.Close()
		lock.Close()
		return nil, err
	}
	if openDirs.m == nil {
		openDirs.m = map[string]bool{}
	}
	openDirs.m[abs] = true
	o.Logger.Info("ledger opened", "dir", abs, "options", o.String(), "next_payment_id", l.nextID.Load())
	go l.commitLoop()
	return l, nil
}

// loadMeta reads the next row id and checks, or writes, the schema version.
func (l *Ledger) loadMeta() error {
	v, closer, err := l.db.Get(metaKey(metaSchema))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], schemaVersion)
		if err := l.db.Set(metaKey(metaSchema), b[:], pebble.Sync); err != nil {
			return fmt.Errorf("persistence: write schema version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("persistence: read schema version: %w", err)
	default:
		ok := len(v) == 8 && binary.BigEndian.Uint64(v) == schemaVersion
		var got uint64
		if len(v) == 8 {
			got = binary.BigEndian.Uint64(v)
		}
		closer.Close()
		if !ok {
			return fmt.Errorf("%w: ledger schema version %d, this code knows %d", ErrUnknownVersion, got, schemaVersion)
		}
	}
	next := uint64(1)
	v, closer, err = l.db.Get(metaKey(metaNextPaymentID))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("persistence: read next payment id: %w", err)
	default:
		bad := len(v) != 8
		if !bad {
			next = binary.BigEndian.Uint64(v)
		}
		closer.Close()
		if bad {
			return fmt.Errorf("%w: next payment id of %d bytes", ErrCorrupt, len(v))
		}
	}
	l.nextID.Store(next)
	return nil
}

// Close stops the committer and waits for it, then closes the store. A
// commit already under way finishes and its writers get its outcome; writes
// still queued get ErrClosed. Every call after Close returns ErrClosed,
// including a second Close.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closing = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done

	l.dbMu.Lock()
	l.dbClosed = true
	err := l.db.Close()
	l.dbMu.Unlock()
	if lerr := l.lock.Close(); err == nil {
		err = lerr
	}
	openDirs.Lock()
	delete(openDirs.m, l.dir)
	openDirs.Unlock()
	if err != nil {
		return fmt.Errorf("persistence: close %s: %w", l.dir, err)
	}
	return nil
}

// NextPaymentID returns the row id the next new payment will get. Ids are
// monotonic and persisted, so they continue across Close and Open.
func (l *Ledger) NextPaymentID() uint64 { return l.nextID.Load() }

// reading runs f with the store held open, or returns ErrClosed.
func (l *Ledger) reading(f func() error) error {
	l.dbMu.RLock()
	defer l.dbMu.RUnlock()
	if l.dbClosed {
		return ErrClosed
	}
	return f()
}

// Payment returns the payment (hash, group), or an error wrapping ErrNotFound.
func (l *Ledger) Payment(hash [32]byte, group uint64) (messages.Payment, error) {
	var p messages.Payment
	err := l.reading(func() error {
		v, closer, err := l.db.Get(paymentKey(hash, group))
		if errors.Is(err, pebble.ErrNotFound) {
			return fmt.Errorf("%w: payment %x group %d", ErrNotFound, hash, group)
		}
		if err != nil {
			return fmt.Errorf("persistence: read payment %x group %d: %w", hash, group, err)
		}
		defer closer.Close()
		p, err = DecodePayment(v)
		if err != nil {
			return fmt.Errorf("payment %x group %d: %w", hash, group, err)
		}
		return nil
	})
	return p, err
}

// Payments returns every group of the payment hash, by group id; an empty
// slice if there is none.
func (l *Ledger) Payments(hash [32]byte) ([]messages.Payment, error) {
	var out []messages.Payment
	err := l.reading(func() error {
		return scan(l.db, hashPrefix(prefixPayment, hash), func(k, v []byte) (bool, error) {
			p, err := DecodePayment(v)
			if err != nil {
				return false, fmt.Errorf("payment key %x: %w", k, err)
			}
			out = append(out, p)
			return true, nil
		})
	})
	return out, err
}

// Attempts returns the attempts of payment (hash, group), by part id.
func (l *Ledger) Attempts(hash [32]byte, group uint64) ([]messages.Attempt, error) {
	var out []messages.Attempt
	err := l.reading(func() error {
		return scan(l.db, groupPrefix(prefixAttempt, hash, group), func(k, v []byte) (bool, error) {
			a, err := DecodeAttempt(v)
			if err != nil {
				return false, fmt.Errorf("attempt key %x: %w", k, err)
			}
			out = append(out, a)
			return true, nil
		})
	})
	return out, err
}

// Pending returns every attempt whose status is pending: the HTLCs that may
// be in flight, which recovery re-attaches to at start. They come in (hash,
// group, part) order, read from one consistent snapshot.
func (l *Ledger) Pending() ([]messages.Attempt, error) {
	var out []messages.Attempt
	err := l.reading(func() error {
		snap := l.db.NewSnapshot()
		defer snap.Close()
		return scan(snap, []byte{prefixPending}, func(k, _ []byte) (bool, error) {
			hash, group, part, err := parseAttemptKey(k)
			if err != nil {
				return false, err
			}
			v, closer, err := snap.Get(attemptKey(prefixAttempt, hash, group, part))
			if err != nil {
				return false, fmt.Errorf("persistence: pending attempt %x/%d/%d: %w", hash, group, part, err)
			}
			a, err := DecodeAttempt(v)
			closer.Close()
			if err != nil {
				return false, fmt.Errorf("pending attempt %x/%d/%d: %w", hash, group, part, err)
			}
			out = append(out, a)
			return true, nil
		})
	})
	return out, err
}

// PendingHashes returns the payment hash of every attempt whose status is
// pending, each once, in hash order, from one consistent snapshot: what
// Pending gives without reading the attempts, so that a start with
// thousands in flight reads only the index.
func (l *Ledger) PendingHashes() ([][32]byte, error) {
	var out [][32]byte
	err := l.reading(func() error {
		snap := l.db.NewSnapshot()
		defer snap.Close()
		return scan(snap, []byte{prefixPending}, func(k, _ []byte) (bool, error) {
			hash, _, _, err := parseAttemptKey(k)
			if err != nil {
				return false, err
			}
			if len(out) == 0 || out[len(out)-1] != hash {
				out = append(out, hash)
			}
			return true, nil
		})
	})
	return out, err
}

// ListByCreated returns up to limit payments (all if limit <= 0) at or after
// start in created-time order: by CreatedAt, then hash, then group id. To
// read the next page, pass CursorAt(last.CreatedAt, last.PaymentHash,
// last.GroupID).Next(). The page is read from one consistent snapshot.
func (l *Ledger) ListByCreated(start Cursor, limit int) ([]messages.Payment, error) {
	var out []messages.Payment
	err := l.reading(func() error {
		snap := l.db.NewSnapshot()
		defer snap.Close()
		lower := createdKey(start.CreatedAt, start.PaymentHash, start.GroupID)
		return scanRange(snap, lower, prefixEnd([]byte{prefixCreated}), func(k, _ []byte) (bool, error) {
			c, err := parseCreatedKey(k)
			if err != nil {
				return false, err
			}
			v, closer, err := snap.Get(paymentKey(c.PaymentHash, c.GroupID))
			if err != nil {
				return false, fmt.Errorf("persistence: indexed payment %x group %d: %w", c.PaymentHash, c.GroupID, err)
			}
			p, err := DecodePayment(v)
			closer.Close()
			if err != nil {
				return false, fmt.Errorf("payment %x group %d: %w", c.PaymentHash, c.GroupID, err)
			}
			out = append(out, p)
			return limit <= 0 || len(out) < limit, nil
		})
	})
	return out, err
}

type iterable interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

// scan calls f on every key with the prefix, in order, until f says stop.
func scan(r iterable, prefix []byte, f func(k, v []byte) (bool, error)) error {
	return scanRange(r, prefix, prefixEnd(prefix), f)
}

func scanRange(r iterable, lower, upper []byte, f func(k, v []byte) (bool, error)) (err error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("persistence: iterator: %w", err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("persistence: iterator: %w", cerr)
		}
	}()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("persistence: read %x: %w", it.Key(), err)
		}
		more, err := f(it.Key(), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// pebbleLogger sends Pebble's log lines to the ledger's logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble on an invariant violation it cannot survive;
// Pebble expects it not to return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble fatal: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
