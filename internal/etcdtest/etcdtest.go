// Package etcdtest runs a real, single-member etcd (etcd's own embed
// package, at the version go.mod pins) on loopback ports for tests and for a
// fleet on one machine; cmd/etcdrun runs the same server as its own process,
// so that a test can stop or SIGKILL it while other processes use it.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/payengine/payengine/internal/freeport"
)

// Options says where an etcd keeps its data and listens; zero means default.
type Options struct {
	// Dir holds etcd's data (member/wal, member/snap) and its log,
	// etcd.log. Required. Restarting on the same Dir continues the same
	// keys.
	Dir string
	// ClientAddr is the host:port clients dial. Empty picks a free
	// loopback port. A restart that must be found again at the same URL
	// passes the address the first start returned.
	ClientAddr string
	// PeerAddr is the host:port of etcd's raft peer listener (used by no
	// one in a single-member cluster, but etcd must bind it). Empty picks
	// a free loopback port.
	PeerAddr string
	// Sync makes etcd fsync its log. Off by default: tests stop or kill
	// processes, not machines, and the kernel keeps what a killed process
	// wrote.
	Sync bool
	// StartTimeout bounds the wait for etcd to serve. The default is 30 s.
	StartTimeout time.Duration
}

// Server is a running embedded etcd; Stop ends it.
type Server struct {
	// ClientURL is the URL clients dial, http://host:port.
	ClientURL string
	// ClientAddr and PeerAddr are the addresses etcd listens on, to start
	// it again at the same place.
	ClientAddr, PeerAddr string

	e    *embed.Etcd
	once sync.Once
}

// ErrStart is returned, wrapped, when etcd does not come up.
var ErrStart = errors.New("etcdtest: etcd did not start")

// Start starts etcd in this process and returns once it serves clients. A
// free port taken by someone else between being picked and being bound is
// retried on fresh ports (only for ports Start picked itself).
func Start(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: Options.Dir is required", ErrStart)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	var err error
	for try := 0; try < 3; try++ {
		o := opts
		if o.ClientAddr == "" || o.PeerAddr == "" {
			free, ferr := freeport.Loopback(2)
			if ferr != nil {
				return nil, fmt.Errorf("%w: %w", ErrStart, ferr)
			}
			if o.ClientAddr == "" {
				o.ClientAddr = free[0]
			}
			if o.PeerAddr == "" {
				o.PeerAddr = free[1]
			}
		}
		var s *Server
		s, err = start(o)
		if err == nil {
			return s, nil
		}
		picked := opts.ClientAddr == "" || opts.PeerAddr == ""
		if !picked || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, err
}

func start(o Options) (*Server, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	cu, err := url.Parse("http://" + o.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: client address %q: %w", ErrStart, o.ClientAddr, err)
	}
	pu, err := url.Parse("http://" + o.PeerAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: peer address %q: %w", ErrStart, o.PeerAddr, err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = filepath.Join(o.Dir, "data")
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = !o.Sync
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(o.Dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	case <-time.After(o.StartTimeout):
		e.Close()
		return nil, fmt.Errorf("%w: not ready after %v (log in %s)", ErrStart, o.StartTimeout, cfg.LogOutputs[0])
	}
	return &Server{ClientURL: cu.String(), ClientAddr: o.ClientAddr, PeerAddr: o.PeerAddr, e: e}, nil
}

// Stop ends etcd and waits until its listeners are closed and its data
// is on disk; calling it again does nothing.
func (s *Server) Stop() {
	s.once.Do(s.e.Close)
}

// Err reports an error etcd hit while serving (the channel of embed.Etcd).
func (s *Server) Err() <-chan error { return s.e.Err() }

// Run starts etcd in this test's temporary directory and stops it when the
// test ends.
func Run(t testing.TB) *Server {
	t.Helper()
	s, err := Start(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// NewClient dials endpoints with etcd's client, quietly (its retry warnings
// would fill test logs while etcd is stopped on purpose). Dialling does not
// wait for the server: calls made while it is away fail at their context's
// deadline.
func NewClient(endpoints ...string) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcdtest: dial %v: %w", endpoints, err)
	}
	return c, nil
}

// Client dials s for a test and closes the client when the test ends.
func Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := NewClient(endpoints...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Ping asks etcd for a key, to tell whether it answers within d.
func Ping(c *clientv3.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, err := c.Get(ctx, "/etcdtest/ping"); err != nil {
		return fmt.Errorf("etcdtest: ping: %w", err)
	}
	return nil
}
