package persistence

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Defaults of Options fields left at zero.
const (
	DefaultMaxBatch = 1024
	DefaultLinger   = time.Millisecond
	maxMaxBatch     = 1 << 20
	maxMaxDelay     = time.Second
)

// Options configures a Ledger. The zero value (or a nil *Options) means
// defaults; Open copies the caller's Options and never changes them.
type Options struct {
	// NoSync turns off the fsync of each group commit. The zero value (sync
	// on) is the only durable setting: a write is acknowledged after the sync
	// that includes it. Meant for tests and benchmarks only.
	NoSync bool
	// MaxBatch is the most Write calls gathered into one commit. The default
	// is DefaultMaxBatch; at most 1<<20.
	MaxBatch int
	// MaxDelay is how long the committer waits for more writes before every
	// commit that is not full. The default, 0, waits for nothing: writes that
	// arrive while a commit is syncing form the next group by themselves, and
	// Linger decides. At most one second.
	MaxDelay time.Duration
	// Linger is how long the committer holds the next commit open for more
	// writes while writers arrive now and then during syncs (as payments,
	// which work between their writes, do): a sync is then shared by more
	// writes, each waiting at most Linger longer. A lone writer, whose next
	// write comes only after its sync, never waits, nor does a crowd of
	// writers that all wait on the ledger, which groups itself. The default
	// is DefaultLinger; a negative value turns lingering off. At most one
	// second.
	Linger time.Duration
	// Logger receives the ledger's and Pebble's log lines (Pebble's info
	// lines at debug level). The default discards them.
	Logger *slog.Logger
}

// EnsureDefaults fills the fields left at zero with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Linger == 0 {
		o.Linger = DefaultLinger
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate checks every field and returns one error, wrapping
// ErrInvalidOptions, that lists every problem found; nil if there is none.
func (o *Options) Validate() error {
	var problems []string
	if o.MaxBatch < 0 {
		problems = append(problems, fmt.Sprintf("MaxBatch %d is negative", o.MaxBatch))
	}
	if o.MaxBatch > maxMaxBatch {
		problems = append(problems, fmt.Sprintf("MaxBatch %d is above %d", o.MaxBatch, maxMaxBatch))
	}
	if o.MaxDelay < 0 {
		problems = append(problems, fmt.Sprintf("MaxDelay %s is negative", o.MaxDelay))
	}
	if o.MaxDelay > maxMaxDelay {
		problems = append(problems, fmt.Sprintf("MaxDelay %s is above %s", o.MaxDelay, maxMaxDelay))
	}
	if o.Linger > maxMaxDelay {
		problems = append(problems, fmt.Sprintf("Linger %s is above %s", o.Linger, maxMaxDelay))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
}

// String describes the options, for the log line Open writes.
func (o *Options) String() string {
	return fmt.Sprintf("NoSync=%t MaxBatch=%d MaxDelay=%s Linger=%s", o.NoSync, o.MaxBatch, o.MaxDelay, o.Linger)
}
