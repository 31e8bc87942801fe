package wirelink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of Options and ServerOptions.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultMinBackoff   = 50 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
	DefaultConnectWait  = 3 * time.Second
	DefaultAnswerWait   = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultHelloTimeout = 5 * time.Second
)

// Options configure a Client. The zero value means the defaults.
type Options struct {
	// Seed drives the jitter of the reconnect backoff.
	Seed uint64
	// DialTimeout bounds one connection attempt, hello included.
	// Default DefaultDialTimeout.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnect
	// attempts: it doubles from MinBackoff up to MaxBackoff, and each
	// wait is drawn uniformly from its upper half. Defaults
	// DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// ConnectWait is how long after the connection dropped AddHTLC and
	// Reattach still wait for the next one; past it they fail at once
	// with ErrNotConnected. The peer actors call AddHTLC with a context
	// that never ends, so this is what bounds their wait. Default
	// DefaultConnectWait.
	ConnectWait time.Duration
	// AnswerWait is how long the client waits for the answer to an add
	// or a query before it takes the connection for dead and reconnects.
	// Default DefaultAnswerWait.
	AnswerWait time.Duration
	// WriteTimeout bounds one write to the socket; a write that takes
	// longer closes the connection. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives connection events and protocol errors. Default
	// slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.MinBackoff, DefaultMinBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.ConnectWait, DefaultConnectWait)
	def(&o.AnswerWait, DefaultAnswerWait)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", o.DialTimeout}, {"MinBackoff", o.MinBackoff}, {"MaxBackoff", o.MaxBackoff},
		{"ConnectWait", o.ConnectWait}, {"AnswerWait", o.AnswerWait}, {"WriteTimeout", o.WriteTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative (%v)", d.name, d.v))
		}
	}
	if o.MinBackoff > o.MaxBackoff {
		errs = append(errs, fmt.Errorf("MinBackoff %v exceeds MaxBackoff %v", o.MinBackoff, o.MaxBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wirelink: invalid options: %w", err)
	}
	return nil
}

// ServerOptions configure a Server. The zero value means the defaults.
type ServerOptions struct {
	// HelloTimeout bounds the wait for a new connection's hello.
	// Default DefaultHelloTimeout.
	HelloTimeout time.Duration
	// WriteTimeout bounds one write to the socket; a write that takes
	// longer closes the connection. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives connection events and protocol errors. Default
	// slog.Default().
	Logger *slog.Logger
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.HelloTimeout == 0 {
		o.HelloTimeout = DefaultHelloTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o ServerOptions) validate() error {
	var errs []error
	if o.HelloTimeout < 0 {
		errs = append(errs, fmt.Errorf("HelloTimeout is negative (%v)", o.HelloTimeout))
	}
	if o.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("WriteTimeout is negative (%v)", o.WriteTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wirelink: invalid server options: %w", err)
	}
	return nil
}
