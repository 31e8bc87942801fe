//go:build !race

// The race detector stops these tests on a race inside protoactor-go, not
// ours: remote.Start sets gRPC's global logger (grpclog.SetLoggerV2) each
// time a remote starts, while live gRPC connections (etcd's client, other
// members) read it. CI runs them without -race, in a step of their own.

package clusterprovider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/payengine/payengine/clusterprovider"
	"github.com/payengine/payengine/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const fleet = "fleet-test"

// payKind is the grain kind pay.<name>; its grains answer "<name> got <msg>".
func payKind(name string) *cluster.Kind {
	return cluster.NewKind("pay."+name, actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*wrapperspb.StringValue); ok {
			ctx.Respond(wrapperspb.String(name + " got " + m.Value))
		}
	}))
}

func etcdCfg(url string, ttl time.Duration) clusterprovider.Config {
	return clusterprovider.Config{Endpoints: []string{url}, TTL: ttl, Retry: 200 * time.Millisecond, Timeout: time.Second}
}

func startMember(t *testing.T, url, name string, ttl time.Duration) *clusterprovider.Member {
	t.Helper()
	m, err := clusterprovider.StartMember(context.Background(), clusterprovider.Options{
		Name: fleet, Host: "127.0.0.1", Kinds: []*cluster.Kind{payKind(name)}, Etcd: etcdCfg(url, ttl),
	})
	if err != nil {
		t.Fatalf("start member %s: %v", name, err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func startClient(t *testing.T, url string) *clusterprovider.Client {
	t.Helper()
	c, err := clusterprovider.StartClient(context.Background(), clusterprovider.Options{
		Name: fleet, Host: "127.0.0.1", Etcd: etcdCfg(url, 0),
	})
	if err != nil {
		t.Fatalf("start client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ask sends msg to grain id of kind pay.<name> and returns the answer.
func ask(c *cluster.Cluster, name, id, msg string) (string, error) {
	r, err := c.Request(id, "pay."+name, wrapperspb.String(msg), cluster.WithTimeout(time.Second))
	if err != nil {
		return "", err
	}
	s, ok := r.(*wrapperspb.StringValue)
	if !ok {
		return "", fmt.Errorf("answer %T", r)
	}
	return s.Value, nil
}

// payKinds lists the pay.* kinds of the members seen, sorted.
func payKinds(ms []*cluster.Member) []string {
	var out []string
	for _, m := range ms {
		for _, k := range m.Kinds {
			if strings.HasPrefix(k, "pay.") {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// eventually polls cond every 50 ms until it holds or d passes, and
// returns how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < d {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
	return 0
}

func sees(ms func() []*cluster.Member, want ...string) func() error {
	return func() error {
		got := payKinds(ms())
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("kinds seen %v, want %v", got, want)
		}
		return nil
	}
}

func served(c *cluster.Cluster, names ...string) func() error {
	return func() error {
		for _, n := range names {
			got, err := ask(c, n, "hash1", "x")
			if err != nil {
				return fmt.Errorf("pay.%s: %w", n, err)
			}
			if got != n+" got x" {
				return fmt.Errorf("pay.%s answered %q", n, got)
			}
		}
		return nil
	}
}

func TestMembersAndClientSeeEachOther(t *testing.T) {
	e := etcdtest.Run(t)
	a := startMember(t, e.ClientURL, "A", 3*time.Second)
	b := startMember(t, e.ClientURL, "B", 3*time.Second)
	cl := startClient(t, e.ClientURL)

	eventually(t, 3*time.Second, "client sees both", sees(cl.Members, "pay.A", "pay.B"))
	eventually(t, 3*time.Second, "A sees both", sees(a.Members, "pay.A", "pay.B"))
	eventually(t, 3*time.Second, "B sees both", sees(b.Members, "pay.A", "pay.B"))
	for _, m := range cl.Members() {
		if m.Id != a.ID() && m.Id != b.ID() {
			t.Errorf("client sees member %s, neither A (%s) nor B (%s)", m.Id, a.ID(), b.ID())
		}
	}
	// Each kind is answered by the member hosting it, from the client and
	// from the other member.
	eventually(t, 3*time.Second, "client served", served(cl.Cluster(), "A", "B"))
	for _, c := range []*cluster.Cluster{a.Cluster(), b.Cluster()} {
		if err := served(c, "A", "B")(); err != nil {
			t.Errorf("member %s: %v", c.ActorSystem.ID, err)
		}
	}
	if _, err := ask(cl.Cluster(), "C", "hash1", "x"); err == nil {
		t.Errorf("pay.C, hosted by no one, answered")
	}
}

func TestMemberStoppedSeenGone(t *testing.T) {
	e := etcdtest.Run(t)
	const ttl = 2 * time.Second
	a := startMember(t, e.ClientURL, "A", ttl)
	b := startMember(t, e.ClientURL, "B", ttl)
	c := startMember(t, e.ClientURL, "C", ttl)
	cl := startClient(t, e.ClientURL)
	eventually(t, 3*time.Second, "client sees all", sees(cl.Members, "pay.A", "pay.B", "pay.C"))

	// A member that leaves deregisters: seen gone at once.
	if err := b.Close(); err != nil {
		t.Fatalf("close B: %v", err)
	}
	d := eventually(t, time.Second, "B seen gone by client", sees(cl.Members, "pay.A", "pay.C"))
	eventually(t, time.Second, "B seen gone by A", sees(a.Members, "pay.A", "pay.C"))
	t.Logf("closed member seen gone after %v", d)
	if _, err := ask(cl.Cluster(), "B", "hash1", "x"); err == nil {
		t.Errorf("pay.B answered after B left")
	}

	// A member that crashes is seen gone once its lease runs out.
	c.Kill()
	d = eventually(t, ttl+3*time.Second, "C seen gone by client", sees(cl.Members, "pay.A"))
	t.Logf("killed member seen gone after %v (TTL %v)", d, ttl)
	if d < ttl/2 {
		t.Errorf("killed member gone after %v, before its lease (TTL %v) could run out", d, ttl)
	}
	if err := served(cl.Cluster(), "A")(); err != nil {
		t.Errorf("A after the others left: %v", err)
	}
}

// TestEtcdOutage SIGKILLs etcd (its own process, as in the probe of
// docs/fleet.md) for 10 s under two members and a client and starts it
// again on its data: both members must be served again, and stay so,
// within a bounded time. The TTL is the stock provider's 3 s, under which
// its members vanished for good.
func TestEtcdOutage(t *testing.T) {
	bin, err := etcdtest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := etcdtest.StartProcess(bin, etcdtest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Kill)
	const ttl = 3 * time.Second
	a := startMember(t, e.ClientURL, "A", ttl)
	b := startMember(t, e.ClientURL, "B", ttl)
	cl := startClient(t, e.ClientURL)
	eventually(t, 3*time.Second, "client served before", served(cl.Cluster(), "A", "B"))

	stopped := time.Now()
	e.Kill()
	t.Logf("etcd killed in %v", time.Since(stopped).Round(time.Millisecond))
	time.Sleep(10 * time.Second)
	// Members keep their last view while etcd is away.
	if err := served(cl.Cluster(), "A", "B")(); err != nil {
		t.Errorf("during the outage: %v", err)
	}
	e2, err := etcdtest.StartProcess(bin, e.Opts)
	if err != nil {
		t.Fatalf("restart etcd: %v", err)
	}
	t.Cleanup(e2.Kill)
	back := time.Now()
	t.Logf("etcd down %v in all (restart included)", back.Sub(stopped).Round(time.Millisecond))

	// Watch for a window long enough for the stock failure (leases
	// expiring a TTL after etcd returns) to show, and record the last
	// moment either member was not served or not seen.
	const window = 2*ttl + 2*time.Second
	var lastFail time.Time
	var lastErr error
	firstRenewal := map[*clusterprovider.Member]time.Duration{}
	for time.Since(back) < window {
		for _, m := range []*clusterprovider.Member{a, b} {
			if _, ok := firstRenewal[m]; !ok && m.Renewed().After(back) {
				firstRenewal[m] = m.Renewed().Sub(back)
			}
		}
		err := served(cl.Cluster(), "A", "B")()
		if err == nil {
			err = sees(cl.Members, "pay.A", "pay.B")()
		}
		if err != nil {
			lastFail, lastErr = time.Now(), err
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := served(cl.Cluster(), "A", "B")(); err != nil {
		t.Fatalf("%v after etcd returned: %v", window, err)
	}
	eventually(t, time.Second, "client sees both after", sees(cl.Members, "pay.A", "pay.B"))
	eventually(t, time.Second, "A sees both after", sees(a.Members, "pay.A", "pay.B"))
	eventually(t, time.Second, "B sees both after", sees(b.Members, "pay.A", "pay.B"))
	for _, m := range []struct {
		name string
		m    *clusterprovider.Member
	}{{"A", a}, {"B", b}} {
		if r, ok := firstRenewal[m.m]; ok {
			t.Logf("%s's registration renewed %v after etcd served", m.name, r.Round(time.Millisecond))
		} else {
			t.Errorf("%s's registration not renewed since etcd returned (last %v)", m.name, m.m.Renewed())
		}
	}
	rejoin := time.Duration(0)
	if !lastFail.IsZero() {
		rejoin = lastFail.Sub(back)
	}
	t.Logf("etcd back after a 10 s outage: both members served for good %v after etcd served (last failure: %v); rejoins under a new id: A %d, B %d",
		rejoin.Round(time.Millisecond), lastErr, a.Rejoins(), b.Rejoins())
	if bound := 2 * ttl; rejoin > bound {
		t.Errorf("served again only %v after etcd returned, bound %v", rejoin, bound)
	}
}

// TestLostRegistrationRejoins revokes a member's lease in etcd, as etcd does
// when a member stays cut off past its TTL: the member must rejoin under a
// new id (its old one is blocked) and be served again.
func TestLostRegistrationRejoins(t *testing.T) {
	e := etcdtest.Run(t)
	a := startMember(t, e.ClientURL, "A", 3*time.Second)
	b := startMember(t, e.ClientURL, "B", 3*time.Second)
	cl := startClient(t, e.ClientURL)
	eventually(t, 3*time.Second, "client served before", served(cl.Cluster(), "A", "B"))

	etc := etcdtest.Client(t, e.ClientURL)
	old := b.ID()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := etc.Get(ctx, clusterprovider.MemberKey("/fleet/members", fleet, old))
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("B's key: %v, %d keys", err, len(r.Kvs))
	}
	changed := b.Changed()
	revoked := time.Now()
	if _, err := etc.Revoke(ctx, clientv3.LeaseID(r.Kvs[0].Lease)); err != nil {
		t.Fatalf("revoke B's lease: %v", err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatalf("B did not rejoin")
	}
	if b.ID() == old || b.Rejoins() != 1 {
		t.Fatalf("B after rejoin: id %s (old %s), %d rejoins", b.ID(), old, b.Rejoins())
	}
	d := eventually(t, 5*time.Second, "B served again", served(cl.Cluster(), "A", "B"))
	t.Logf("B rejoined as %s (was %s); served again %v after its lease was revoked", b.ID(), old, time.Since(revoked).Round(time.Millisecond))
	_ = d
	eventually(t, time.Second, "A served by B", served(a.Cluster(), "B"))
	for _, m := range cl.Members() {
		if m.Id == old {
			t.Errorf("client still sees B's old id %s", old)
		}
	}
}

func TestEtcdUnreachableAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = clusterprovider.StartMember(context.Background(), clusterprovider.Options{
		Name: fleet, Host: "127.0.0.1", Kinds: []*cluster.Kind{payKind("A")},
		Etcd: clusterprovider.Config{Endpoints: []string{url}, Timeout: 500 * time.Millisecond},
	})
	if !errors.Is(err, clusterprovider.ErrUnavailable) {
		t.Fatalf("member with etcd down: error %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("member start failed after %v, timeout 500ms", d)
	}
	_, err = clusterprovider.StartClient(context.Background(), clusterprovider.Options{
		Name: fleet, Host: "127.0.0.1", Etcd: clusterprovider.Config{Endpoints: []string{url}, Timeout: 500 * time.Millisecond},
	})
	if !errors.Is(err, clusterprovider.ErrUnavailable) {
		t.Fatalf("client with etcd down: error %v, want ErrUnavailable", err)
	}
	t.Logf("start with etcd unreachable: %v", err)
}

// cutProxy forwards TCP to an address; while cut it drops every connection
// it carries and closes new ones at once: a partition between one process
// and etcd, while etcd serves the others.
type cutProxy struct {
	target string
	l      net.Listener
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{target: target, l: l, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.l.Addr().String() }

func (p *cutProxy) serve(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		d.Close()
		return
	}
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(d, c); d.Close(); c.Close() }()
	_, _ = io.Copy(c, d)
	c.Close()
	d.Close()
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// TestPartitionRejoins cuts member B from etcd (through a proxy) for longer
// than its TTL while etcd serves the others: they must see B leave when
// its lease expires, and once the cut heals B must find its registration
// gone, rejoin under a new id and be served again.
func TestPartitionRejoins(t *testing.T) {
	e := etcdtest.Run(t)
	const ttl = 2 * time.Second
	px := newCutProxy(t, e.ClientAddr)
	a := startMember(t, e.ClientURL, "A", ttl)
	b := startMember(t, px.URL(), "B", ttl)
	cl := startClient(t, e.ClientURL)
	eventually(t, 3*time.Second, "client served before", served(cl.Cluster(), "A", "B"))
	old := b.ID()

	cut := time.Now()
	px.setCut(true)
	d := eventually(t, ttl+3*time.Second, "client sees B gone", sees(cl.Members, "pay.A"))
	t.Logf("B cut from etcd: seen gone by the client %v later (TTL %v)", d.Round(time.Millisecond), ttl)
	eventually(t, time.Second, "A sees B gone", sees(a.Members, "pay.A"))
	if b.Rejoins() != 0 {
		t.Fatalf("B rejoined while cut from etcd")
	}
	time.Sleep(time.Until(cut.Add(2*ttl + time.Second)))

	changed := b.Changed()
	px.setCut(false)
	healed := time.Now()
	d = eventually(t, 10*time.Second, "B served again", served(cl.Cluster(), "A", "B"))
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatalf("B did not finish its rejoin within 5s of the cut healing")
	}
	t.Logf("cut healed after %v: B rejoined as %s (was %s), served again %v later, its rejoin done %v later",
		healed.Sub(cut).Round(time.Millisecond), b.ID(), old, d.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
	if b.ID() == old || b.Rejoins() != 1 {
		t.Errorf("B after the cut: id %s (old %s), %d rejoins, want a new id and 1 rejoin", b.ID(), old, b.Rejoins())
	}
	eventually(t, 2*time.Second, "A sees B again", sees(a.Members, "pay.A", "pay.B"))
	eventually(t, 2*time.Second, "A served by B", served(a.Cluster(), "B"))
	eventually(t, 2*time.Second, "B served by A", served(b.Cluster(), "A"))
	for _, m := range cl.Members() {
		if m.Id == old {
			t.Errorf("client still sees B's old id %s", old)
		}
	}
}
