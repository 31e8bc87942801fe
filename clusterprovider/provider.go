// Package clusterprovider is the fleet's protoactor-go cluster provider on
// etcd: members register under a prefix with a lease whose TTL we choose,
// every process lists and watches the prefix and publishes the membership to
// its cluster, and a member whose registration is lost rejoins under a new
// actor-system id (Member), since protoactor blocks an id that left.
package clusterprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/protobuf/proto"
)

// Config says where etcd is and how membership is kept; zero fields take
// the defaults named.
type Config struct {
	// Endpoints are etcd's client URLs. Required.
	Endpoints []string
	// Prefix is the key prefix; a member of cluster C is at
	// Prefix/C/<member id>. Default "/fleet/members".
	Prefix string
	// TTL is the member lease's time to live: how long a member cut off
	// from etcd (or dead) stays registered. Default 10 s; etcd rounds it
	// to whole seconds, at least 1 s.
	TTL time.Duration
	// Retry is the wait between attempts while etcd is unreachable.
	// Default 500 ms.
	Retry time.Duration
	// Timeout bounds each etcd call, and the first contact at start.
	// Default 2 s.
	Timeout time.Duration
	// Logger is the etcd client's logger. Default: none.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "/fleet/members"
	}
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.Retry == 0 {
		c.Retry = 500 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func (c Config) ttlSeconds() int64 {
	s := int64((c.TTL + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// ErrUnavailable is returned, wrapped, when etcd cannot be reached at start.
var ErrUnavailable = errors.New("clusterprovider: etcd unavailable")

// newClient connects to etcd and checks it answers within cfg.Timeout.
// gRPC's default reconnect backoff grows to 120 s; ours stops at Retry so
// that a member finds etcd again soon after it returns (the stock provider's
// members reconnected too late to keep their lease, docs/fleet.md).
func newClient(ctx context.Context, cfg Config) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no endpoints", ErrUnavailable)
	}
	bo := backoff.DefaultConfig
	bo.BaseDelay = cfg.Retry / 4
	bo.MaxDelay = cfg.Retry
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.Timeout,
		Logger:      cfg.Logger,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: cfg.Timeout})},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrUnavailable, cfg.Endpoints, err)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if _, err := cli.Get(cctx, "/", clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w: %v: %w", ErrUnavailable, cfg.Endpoints, err)
	}
	return cli, nil
}

// Provider implements cluster.ClusterProvider over one etcd client; it
// serves one cluster once (a rejoin makes a new Provider).
type Provider struct {
	cfg    Config
	cli    *clientv3.Client
	onLost func() // called once when this member's registration is gone

	c      *cluster.Cluster
	self   *cluster.Member // nil for a client
	dir    string          // Prefix/cluster/
	lease  clientv3.LeaseID
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	renewed  atomic.Int64 // unix nanoseconds of the lease's last renewal
	mu       sync.Mutex   // guards members and publishing
	members  map[string]*cluster.Member
	lostOnce sync.Once
	stopOnce sync.Once
}

var _ cluster.ClusterProvider = (*Provider)(nil)

// NewProvider makes a provider over cli; onLost, which may be nil, is
// called once, from the provider's own goroutine, when the member's key or
// lease is found gone.
func NewProvider(cli *clientv3.Client, cfg Config, onLost func()) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{cfg: cfg.withDefaults(), cli: cli, onLost: onLost, ctx: ctx, cancel: cancel, members: map[string]*cluster.Member{}}
}

// MemberKey is the etcd key of member id in cluster name under prefix.
func MemberKey(prefix, name, id string) string { return prefix + "/" + name + "/" + id }

// StartMember registers this member with a new lease, lists the members,
// publishes them and keeps the lease and the watch going until Shutdown.
// Registering before listing makes the list hold this member and every
// change after it come through the watch.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	host, port, err := hostPort(c.ActorSystem.Address())
	if err != nil {
		return fmt.Errorf("clusterprovider: member address: %w", err)
	}
	kinds := c.GetClusterKinds()
	sort.Strings(kinds)
	p.c = c
	p.dir = MemberKey(p.cfg.Prefix, c.Config.Name, "")
	p.self = &cluster.Member{Id: c.ActorSystem.ID, Host: host, Port: port, Kinds: kinds}
	val, err := proto.Marshal(p.self)
	if err != nil {
		return fmt.Errorf("clusterprovider: encode member: %w", err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	g, err := p.cli.Grant(ctx, p.cfg.ttlSeconds())
	if err != nil {
		return fmt.Errorf("clusterprovider: grant lease: %w", err)
	}
	p.lease = g.ID
	if _, err := p.cli.Put(ctx, p.dir+p.self.Id, string(val), clientv3.WithLease(g.ID)); err != nil {
		return fmt.Errorf("clusterprovider: register %s: %w", p.self.Id, err)
	}
	rev, err := p.relist(ctx)
	if err != nil {
		return err
	}
	p.wg.Add(2)
	go p.watch(rev)
	go p.keepAlive()
	return nil
}

// StartClient lists and watches the members without registering.
func (p *Provider) StartClient(c *cluster.Cluster) error {
	p.c = c
	p.dir = MemberKey(p.cfg.Prefix, c.Config.Name, "")
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	rev, err := p.relist(ctx)
	if err != nil {
		return err
	}
	p.wg.Add(1)
	go p.watch(rev)
	return nil
}

// Shutdown stops the loops; a graceful one also deletes the member's key
// and revokes its lease, so the others see it leave at once rather than
// after the TTL.
func (p *Provider) Shutdown(graceful bool) error {
	var err error
	p.stopOnce.Do(func() {
		p.cancel()
		p.wg.Wait()
		if !graceful || p.self == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
		defer cancel()
		if _, derr := p.cli.Delete(ctx, p.dir+p.self.Id); derr != nil {
			err = fmt.Errorf("clusterprovider: deregister %s: %w", p.self.Id, derr)
		}
		if _, rerr := p.cli.Revoke(ctx, p.lease); rerr != nil && err == nil {
			err = fmt.Errorf("clusterprovider: revoke lease of %s: %w", p.self.Id, rerr)
		}
	})
	return err
}

// Members returns the membership this provider last published, sorted by id.
func (p *Provider) Members() []*cluster.Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sorted()
}

func (p *Provider) sorted() []*cluster.Member {
	out := make([]*cluster.Member, 0, len(p.members))
	for _, m := range p.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// relist reads every member, replaces the view with it and publishes it;
// it returns the revision read at.
func (p *Provider) relist(ctx context.Context) (int64, error) {
	resp, err := p.cli.Get(ctx, p.dir, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("clusterprovider: list members under %s: %w", p.dir, err)
	}
	ms := map[string]*cluster.Member{}
	for _, kv := range resp.Kvs {
		m := &cluster.Member{}
		if err := proto.Unmarshal(kv.Value, m); err != nil || m.Id == "" {
			continue // not a member record; skip it rather than stop the fleet
		}
		ms[m.Id] = m
	}
	selfGone := p.self != nil && ms[p.self.Id] == nil
	if p.self != nil {
		ms[p.self.Id] = p.self
	}
	p.mu.Lock()
	p.members = ms
	p.publish()
	p.mu.Unlock()
	if selfGone {
		p.lost()
	}
	return resp.Header.Revision, nil
}

// publish hands the view to the cluster; p.mu is held, which keeps the
// topologies in order.
func (p *Provider) publish() {
	if p.ctx.Err() != nil {
		return
	}
	p.c.MemberList.UpdateClusterTopology(p.sorted())
}

// watch applies every change after rev. When the stream ends (compaction,
// cancellation by the server) it lists again and watches from there, so no
// change is missed; during an outage the etcd client keeps the stream and
// resumes it from the last revision seen.
func (p *Provider) watch(rev int64) {
	defer p.wg.Done()
	for p.ctx.Err() == nil {
		for resp := range p.cli.Watch(p.ctx, p.dir, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if resp.Err() != nil || resp.Canceled {
				break
			}
			p.apply(resp.Events)
			rev = resp.Header.Revision
		}
		for p.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
			r, err := p.relist(ctx)
			cancel()
			if err == nil {
				rev = r
				break
			}
			p.sleep()
		}
	}
}

func (p *Provider) apply(evs []*clientv3.Event) {
	selfGone := false
	p.mu.Lock()
	for _, ev := range evs {
		id := string(ev.Kv.Key[len(p.dir):])
		switch ev.Type {
		case clientv3.EventTypePut:
			m := &cluster.Member{}
			if err := proto.Unmarshal(ev.Kv.Value, m); err != nil || m.Id != id {
				continue
			}
			p.members[id] = m
		case clientv3.EventTypeDelete:
			if p.self != nil && id == p.self.Id {
				selfGone = true // keep ourselves in our own view until the rejoin
				continue
			}
			delete(p.members, id)
		}
	}
	p.publish()
	p.mu.Unlock()
	if selfGone {
		p.lost()
	}
}

// keepAlive keeps the member's lease. The etcd client ends a keep-alive
// once a TTL passes without an answer, which an outage longer than the TTL
// causes even though etcd, when it returns, renews every lease by a TTL. So
// the same lease is renewed again as soon as etcd answers; only when etcd
// says the lease or the key is gone is the registration lost.
func (p *Provider) keepAlive() {
	defer p.wg.Done()
	for p.ctx.Err() == nil {
		ch, err := p.cli.KeepAlive(p.ctx, p.lease)
		if err == nil {
			for range ch {
				p.renewed.Store(time.Now().UnixNano())
			}
		}
		for p.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
			_, err := p.cli.KeepAliveOnce(ctx, p.lease)
			var got *clientv3.GetResponse
			if err == nil {
				got, err = p.cli.Get(ctx, p.dir+p.self.Id, clientv3.WithCountOnly())
			}
			cancel()
			if errors.Is(err, rpctypes.ErrLeaseNotFound) || (err == nil && got.Count == 0) {
				p.lost()
				return
			}
			if err == nil {
				p.renewed.Store(time.Now().UnixNano())
				break
			}
			p.sleep()
		}
	}
}

// Renewed is when etcd last renewed the member's lease (zero before the
// first renewal, and for a client).
func (p *Provider) Renewed() time.Time {
	n := p.renewed.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (p *Provider) lost() {
	if p.ctx.Err() != nil || p.onLost == nil {
		return
	}
	p.lostOnce.Do(func() { go p.onLost() })
}

func (p *Provider) sleep() {
	t := time.NewTimer(p.cfg.Retry)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.ctx.Done():
	}
}

func hostPort(addr string) (string, int32, error) {
	h, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	port, err := strconv.ParseInt(ps, 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("port of %q: %w", addr, err)
	}
	return h, int32(port), nil
}
