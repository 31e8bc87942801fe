package clusterprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Options describe one process's place in a cluster.
type Options struct {
	// Name is the cluster's name; every process of one fleet uses the same.
	Name string
	// Host and Port are where this process's gRPC remote listens; Port 0
	// picks a free port at the first start, kept for every rejoin.
	Host string
	Port int
	// Kinds are the grain kinds this member hosts (none for a client).
	Kinds []*cluster.Kind
	// ClusterOptions are passed on to cluster.Configure (request timeout...).
	ClusterOptions []cluster.ConfigOption
	// Logger is the actor systems' logger. Default: discard.
	Logger *slog.Logger
	// Etcd says where etcd is and how membership is kept.
	Etcd Config
}

// Member is a cluster member that stays one: the cluster runs in an actor
// system of its own, and when the member's registration is lost (its lease
// ran out while etcd was away or the member was cut off) Member stops that
// system and starts a new one at the same address, which registers under a
// new id, because protoactor blocks for good an id it has seen leave.
type Member struct {
	opts Options
	cli  *clientv3.Client

	mu      sync.Mutex
	c       *cluster.Cluster
	p       *Provider
	rejoins int
	closed  bool
	changed chan struct{} // closed and replaced at every rejoin

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartMember connects to etcd and joins the cluster as a member hosting
// opts.Kinds. If etcd cannot be reached within opts.Etcd.Timeout it returns
// an error wrapping ErrUnavailable (protoactor's StartMember would panic).
func StartMember(ctx context.Context, opts Options) (*Member, error) {
	opts.Etcd = opts.Etcd.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cli, err := newClient(ctx, opts.Etcd)
	if err != nil {
		return nil, err
	}
	m := &Member{opts: opts, cli: cli, changed: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	c, p, err := m.start()
	if err != nil {
		m.cancel()
		cli.Close()
		return nil, err
	}
	m.c, m.p = c, p
	if m.opts.Port == 0 {
		if _, port, err := hostPort(c.ActorSystem.Address()); err == nil {
			m.opts.Port = int(port)
		}
	}
	return m, nil
}

// start builds a fresh actor system and cluster and starts it as a member.
func (m *Member) start() (*cluster.Cluster, *Provider, error) {
	p := NewProvider(m.cli, m.opts.Etcd, m.lost)
	c := newCluster(m.opts, p)
	if err := safeStart(c, p, c.StartMember); err != nil {
		return nil, nil, fmt.Errorf("clusterprovider: start member of %s at %s:%d: %w", m.opts.Name, m.opts.Host, m.opts.Port, err)
	}
	return c, p, nil
}

func newCluster(opts Options, p *Provider) *cluster.Cluster {
	logger := opts.Logger
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	copts := append([]cluster.ConfigOption{cluster.WithKinds(opts.Kinds...)}, opts.ClusterOptions...)
	cfg := cluster.Configure(opts.Name, p, disthash.New(), remote.Configure(opts.Host, opts.Port), copts...)
	return cluster.New(sys, cfg)
}

// safeStart runs protoactor's start, which panics when the provider fails,
// and turns the panic into an error after stopping what it had started.
func safeStart(c *cluster.Cluster, p *Provider, start func()) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if e, ok := r.(error); ok {
			err = e
		} else {
			err = fmt.Errorf("%v", r)
		}
		_ = p.Shutdown(false)
		if c.Remote != nil {
			stopClient(c)
		}
	}()
	start()
	return nil
}

// stopClient stops a cluster's actor system and remote. cluster.Shutdown
// cannot stop a client (it sets gossip state, and a client has no gossip:
// nil pointer), nor a member whose start failed half way.
func stopClient(c *cluster.Cluster) {
	c.ActorSystem.Shutdown()
	c.Remote.Shutdown(false)
}

// Cluster is the member's current cluster; it changes at every rejoin.
func (m *Member) Cluster() *cluster.Cluster {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c
}

// ID is the member's current id (its actor system's).
func (m *Member) ID() string { return m.Cluster().ActorSystem.ID }

// Rejoins counts the rejoins under a new id since the start.
func (m *Member) Rejoins() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejoins
}

// Changed is closed at the next rejoin.
func (m *Member) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// lost is the provider's signal: replace the cluster, retrying while etcd
// is away.
func (m *Member) lost() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1) // under mu, so Close, which sets closed first, waits for it
	defer m.wg.Done()
	old, oldP := m.c, m.p
	m.mu.Unlock()
	m.opts.Logger.Warn("cluster registration lost; rejoining under a new id", slog.String("id", old.ActorSystem.ID))
	_ = oldP.Shutdown(false)
	old.Shutdown(false)
	for m.ctx.Err() == nil {
		c, p, err := m.start()
		if err == nil {
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				_ = p.Shutdown(true)
				c.Shutdown(false)
				return
			}
			m.c, m.p = c, p
			m.rejoins++
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
			m.opts.Logger.Info("cluster rejoined", slog.String("old", old.ActorSystem.ID), slog.String("new", c.ActorSystem.ID))
			return
		}
		m.opts.Logger.Warn("cluster rejoin failed; retrying", slog.Any("error", err))
		select {
		case <-time.After(m.opts.Etcd.Retry):
		case <-m.ctx.Done():
		}
	}
}

// Close leaves the cluster: the member's key is deleted and its lease
// revoked, so the others see it gone at once; then its actor system stops.
func (m *Member) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	c, p := m.c, m.p
	m.mu.Unlock()
	err := p.Shutdown(true)
	c.Shutdown(false)
	return errors.Join(err, m.cli.Close())
}

// Kill stops the member as a crash would, for tests: no deregistration,
// so its key stays until its lease runs out.
func (m *Member) Kill() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	c, p := m.c, m.p
	m.mu.Unlock()
	_ = p.Shutdown(false)
	c.Shutdown(false)
	// The client's lessor would renew the lease as long as it lives.
	m.cli.Close()
}

// Client is a client-only process (a front-end): it sees the members and
// their kinds and sends to grains, but hosts none and is not registered.
type Client struct {
	c   *cluster.Cluster
	p   *Provider
	cli *clientv3.Client
}

// StartClient connects to etcd and joins as a client; an unreachable etcd
// is an error wrapping ErrUnavailable.
func StartClient(ctx context.Context, opts Options) (*Client, error) {
	opts.Etcd = opts.Etcd.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Kinds = nil
	cli, err := newClient(ctx, opts.Etcd)
	if err != nil {
		return nil, err
	}
	p := NewProvider(cli, opts.Etcd, nil)
	c := newCluster(opts, p)
	if err := safeStart(c, p, c.StartClient); err != nil {
		cli.Close()
		return nil, fmt.Errorf("clusterprovider: start client of %s: %w", opts.Name, err)
	}
	return &Client{c: c, p: p, cli: cli}, nil
}

// Cluster is the client's cluster, to send requests with.
func (cl *Client) Cluster() *cluster.Cluster { return cl.c }

// Members is the membership the client sees, with each member's kinds.
func (cl *Client) Members() []*cluster.Member { return cl.p.Members() }

// Close stops the client.
func (cl *Client) Close() error {
	err := cl.p.Shutdown(false)
	stopClient(cl.c)
	return errors.Join(err, cl.cli.Close())
}

// Members is the membership the member sees, itself included.
func (m *Member) Members() []*cluster.Member {
	m.mu.Lock()
	p := m.p
	m.mu.Unlock()
	return p.Members()
}

// Renewed is when etcd last renewed the current registration's lease.
func (m *Member) Renewed() time.Time {
	m.mu.Lock()
	p := m.p
	m.mu.Unlock()
	return p.Renewed()
}
