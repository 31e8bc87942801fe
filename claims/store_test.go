package claims

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/payengine/payengine/internal/etcdtest"
)

// newStore returns a Store over a fresh client of url.
func newStore(t *testing.T, url string) *Store {
	t.Helper()
	s, err := New(etcdtest.Client(t, url), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Many members race for the same hashes, each member with its own etcd
// client (as separate processes would have): for each hash exactly one
// call writes the claim, and every caller is told the same holder.
func TestClaimOneWinner(t *testing.T) {
	url := etcdtest.Run(t).ClientURL
	const clients, perClient, hashes = 4, 8, 10
	stores := make([]*Store, clients)
	for i := range stores {
		stores[i] = newStore(t, url)
	}
	for h := 0; h < hashes; h++ {
		hash, _ := paid(byte(h))
		var wg sync.WaitGroup
		results := make([]Claim, clients*perClient)
		errs := make([]error, clients*perClient)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				member := fmt.Sprintf("member-%d", i)
				results[i], errs[i] = stores[i%clients].Claim(bg(t), hash, member)
			}()
		}
		wg.Wait()
		winners := 0
		var winner string
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("hash %d caller %d: %v", h, i, errs[i])
			}
			if r.Wrote {
				winners++
				winner = fmt.Sprintf("member-%d", i)
				if !r.HeldBy(winner) {
					t.Fatalf("hash %d: the writer %s does not hold %+v", h, winner, r)
				}
			}
		}
		if winners != 1 {
			t.Fatalf("hash %d: %d callers wrote the claim, want exactly 1", h, winners)
		}
		for i, r := range results {
			if r.Member != winner || r.State != StatePending || r.Round != 1 {
				t.Fatalf("hash %d caller %d told %+v, want pending held by %s", h, i, r, winner)
			}
		}
		got, found, err := stores[0].Get(bg(t), hash)
		if err != nil || !found || got.Member != winner || got.State != StatePending {
			t.Fatalf("hash %d: Get = %+v, %v, %v; want pending held by %s", h, got, found, err, winner)
		}
	}
	// The held index agrees with the records: every hash is listed under
	// its one holder and under nobody else.
	total := 0
	for i := 0; i < clients*perClient; i++ {
		member := fmt.Sprintf("member-%d", i)
		held, err := stores[0].Held(bg(t), member)
		if err != nil {
			t.Fatal(err)
		}
		for _, hash := range held {
			c, _, err := stores[0].Get(bg(t), hash)
			if err != nil || !c.HeldBy(member) {
				t.Fatalf("%s's index lists %x, whose record is %+v, %v", member, hash, c, err)
			}
		}
		total += len(held)
	}
	if total != hashes {
		t.Fatalf("the held index lists %d claims, want %d", total, hashes)
	}
}

// Held lists exactly the hashes a member holds pending, as claims are
// made, completed, failed and taken over, across pages.
func TestHeld(t *testing.T) {
	url := etcdtest.Run(t).ClientURL
	s := newStore(t, url)
	var h [6][32]byte
	var pre [6][32]byte
	for i := range h {
		h[i], pre[i] = paid(byte(i))
	}
	for i, m := range []string{"a", "a", "a", "b", "a", "ab"} {
		if _, err := s.Claim(bg(t), h[i], m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Complete(bg(t), h[0], "a", pre[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fail(bg(t), h[1], "a"); err != nil {
		t.Fatal(err)
	}
	want := func(member string, idx ...int) {
		t.Helper()
		got, err := s.Held(bg(t), member)
		if err != nil {
			t.Fatal(err)
		}
		w := map[[32]byte]bool{}
		for _, i := range idx {
			w[h[i]] = true
		}
		if len(got) != len(w) {
			t.Fatalf("Held(%s) has %d hashes, want %d", member, len(got), len(w))
		}
		for _, x := range got {
			if !w[x] {
				t.Fatalf("Held(%s) lists %x, not held", member, x)
			}
		}
	}
	want("a", 2, 4) // "ab"'s claim is not a's: the index separates names
	want("b", 3)
	want("ab", 5)
	if c, err := s.Claim(bg(t), h[1], "b"); err != nil || !c.Wrote {
		t.Fatalf("b takes a's failed claim: %+v, %v", c, err)
	}
	want("a", 2, 4)
	want("b", 1, 3)
	want("nobody")

	// More than a page: every one listed once.
	s.o.Timeout = 10 * time.Second
	many := pageSize + 7
	ops := make([]clientv3.Op, 0, 100)
	for i := 0; i < many; i++ {
		var x [32]byte
		x[0], x[1] = byte(i), byte(i>>8)
		ops = append(ops, clientv3.OpPut(s.heldKey("c", x), ""))
		if len(ops) == cap(ops) || i == many-1 {
			if _, err := s.c.Txn(bg(t)).Then(ops...).Commit(); err != nil {
				t.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	got, err := s.Held(bg(t), "c")
	if err != nil || len(got) != many {
		t.Fatalf("Held over pages: %d hashes, %v; want %d", len(got), err, many)
	}
	seen := map[[32]byte]bool{}
	for _, x := range got {
		if seen[x] {
			t.Fatalf("Held lists %x twice", x)
		}
		seen[x] = true
	}
}

// A failed claim is replaced by the next Claim, once, even when many race
// for it; the loser of the first round cannot then write an outcome.
func TestClaimReplacesFailed(t *testing.T) {
	url := etcdtest.Run(t).ClientURL
	s := newStore(t, url)
	hash, pre := paid(1)
	if c, err := s.Claim(bg(t), hash, "a"); err != nil || !c.Wrote {
		t.Fatalf("first claim: %+v, %v", c, err)
	}
	if c, err := s.Claim(bg(t), hash, "b"); err != nil || c.Wrote || c.Member != "a" {
		t.Fatalf("b's claim over a's pending one: %+v, %v; want a's claim, not written", c, err)
	}
	if c, err := s.Fail(bg(t), hash, "a"); err != nil || c.State != StateFailed {
		t.Fatalf("a fails: %+v, %v", c, err)
	}
	if c, found, err := s.Get(bg(t), hash); err != nil || !found || c.State != StateFailed {
		t.Fatalf("Get after Fail: %+v, %v, %v", c, found, err)
	}

	const racers = 16
	results := make([]Claim, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = newStore(t, url).Claim(bg(t), hash, fmt.Sprintf("r%d", i))
		}()
	}
	wg.Wait()
	var winner string
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if r.Wrote {
			if winner != "" {
				t.Fatalf("both %s and r%d replaced the failed claim", winner, i)
			}
			winner = r.Member
		}
	}
	if winner == "" {
		t.Fatal("no racer replaced the failed claim")
	}
	for i, r := range results {
		if r.Member != winner || r.State != StatePending || r.Round != 2 {
			t.Fatalf("racer %d told %+v, want round 2 pending held by %s", i, r, winner)
		}
	}
	// a's claim is gone: a can neither complete nor fail the hash now.
	if _, err := s.Complete(bg(t), hash, "a", pre); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("a completes after being replaced: %v, want ErrNotHolder", err)
	}
	if _, err := s.Fail(bg(t), hash, "a"); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("a fails after being replaced: %v, want ErrNotHolder", err)
	}
}

// A completed claim is what everyone reads afterwards: Get gives the
// preimage, a new Claim is answered with it, and it cannot be failed.
func TestCompleteVisible(t *testing.T) {
	url := etcdtest.Run(t).ClientURL
	member, frontEnd := newStore(t, url), newStore(t, url)
	hash, pre := paid(7)
	_, wrong := paid(8)
	if _, found, err := frontEnd.Get(bg(t), hash); err != nil || found {
		t.Fatalf("Get before any claim: found %v, %v", found, err)
	}
	if _, err := member.Complete(bg(t), hash, "a", pre); !errors.Is(err, ErrNotClaimed) {
		t.Fatalf("Complete before Claim: %v, want ErrNotClaimed", err)
	}
	if _, err := member.Claim(bg(t), hash, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := member.Complete(bg(t), hash, "a", wrong); !errors.Is(err, ErrBadPreimage) {
		t.Fatalf("Complete with a wrong preimage: %v, want ErrBadPreimage", err)
	}
	if _, err := member.Complete(bg(t), hash, "b", pre); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("Complete by b: %v, want ErrNotHolder", err)
	}
	if c, err := member.Complete(bg(t), hash, "a", pre); err != nil || !c.Wrote || c.State != StateComplete {
		t.Fatalf("Complete: %+v, %v", c, err)
	}
	if c, err := member.Complete(bg(t), hash, "a", pre); err != nil || c.Wrote {
		t.Fatalf("Complete again: %+v, %v; want no error and no write", c, err)
	}
	c, found, err := frontEnd.Get(bg(t), hash)
	if err != nil || !found || c.State != StateComplete || c.Preimage != pre || c.Member != "a" {
		t.Fatalf("front-end Get: %+v, %v, %v; want complete with the preimage", c, found, err)
	}
	if c, err := frontEnd.Claim(bg(t), hash, "b"); err != nil || c.Wrote || c.State != StateComplete || c.Preimage != pre {
		t.Fatalf("Claim after complete: %+v, %v; want the complete record", c, err)
	}
	if _, err := member.Fail(bg(t), hash, "a"); !errors.Is(err, ErrComplete) {
		t.Fatalf("Fail after complete: %v, want ErrComplete", err)
	}
}

// Claims carry no lease: the record of a member whose client is gone (a
// crashed process) stays pending, and stays its own.
func TestClaimOutlivesItsClient(t *testing.T) {
	url := etcdtest.Run(t).ClientURL
	hash, _ := paid(3)
	c, err := etcdtest.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	crashed, _ := New(c, Options{})
	if _, err := crashed.Claim(bg(t), hash, "a"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	raw := etcdtest.Client(t, url)
	kv, err := raw.Get(bg(t), (&Store{o: Options{Prefix: "/claims/"}}).Key(hash))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("raw get: %v, %d keys", err, len(kv.Kvs))
	}
	if kv.Kvs[0].Lease != 0 {
		t.Fatalf("claim carries lease %d, want none", kv.Kvs[0].Lease)
	}
	restarted := newStore(t, url)
	got, err := restarted.Claim(bg(t), hash, "a")
	if err != nil || got.Wrote || !got.HeldBy("a") {
		t.Fatalf("a's Claim after its restart: %+v, %v; want its own pending claim, not rewritten", got, err)
	}
	if got, err := restarted.Claim(bg(t), hash, "b"); err != nil || got.HeldBy("b") {
		t.Fatalf("b's Claim: %+v, %v; want a's claim", got, err)
	}
	if held, err := restarted.Held(bg(t), "a"); err != nil || len(held) != 1 || held[0] != hash {
		t.Fatalf("Held(a) after its restart: %x, %v; want its one claim", held, err)
	}
}

// etcd stopped: Claim fails closed within its deadline with ErrUnavailable,
// and when etcd is back nothing was claimed.
func TestEtcdStopped(t *testing.T) {
	dir := t.TempDir()
	srv, err := etcdtest.Start(etcdtest.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Stop() }()
	s := newStore(t, srv.ClientURL)
	hash, pre := paid(9)
	held, _ := paid(10)
	if _, err := s.Claim(bg(t), held, "a"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	for _, tt := range []struct {
		name     string
		timeout  time.Duration // the Store's
		deadline time.Duration // the caller's
	}{
		{"caller's deadline", time.Minute, 700 * time.Millisecond},
		{"store's timeout", 700 * time.Millisecond, time.Minute},
	} {
		st, err := New(s.c, Options{Timeout: tt.timeout})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
		began := time.Now()
		c, err := st.Claim(ctx, hash, "a")
		took := time.Since(began)
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: Claim with etcd stopped = %+v, %v; want ErrUnavailable", tt.name, c, err)
		}
		if took > 1500*time.Millisecond {
			t.Fatalf("%s: Claim took %v to fail, want about 700ms", tt.name, took)
		}
		t.Logf("%s: failed after %v: %v", tt.name, took.Round(time.Millisecond), err)
	}
	quick, _ := New(s.c, Options{Timeout: 300 * time.Millisecond})
	if _, _, err := quick.Get(bg(t), held); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get with etcd stopped: %v, want ErrUnavailable", err)
	}
	if _, err := quick.Complete(bg(t), held, "a", pre); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Complete with etcd stopped: %v, want ErrUnavailable", err)
	}

	srv, err = etcdtest.Start(etcdtest.Options{Dir: dir, ClientAddr: srv.ClientAddr, PeerAddr: srv.PeerAddr})
	if err != nil {
		t.Fatal(err)
	}
	// The client reconnects by itself, after a backoff of about 2 s.
	s, _ = New(s.c, Options{Timeout: 10 * time.Second})
	if _, found, err := s.Get(bg(t), hash); err != nil || found {
		t.Fatalf("after restart, the hash claimed while etcd was down: found %v, %v; want nothing", found, err)
	}
	if c, found, err := s.Get(bg(t), held); err != nil || !found || !c.HeldBy("a") {
		t.Fatalf("after restart, the claim made before: %+v, %v, %v", c, found, err)
	}
	if c, err := s.Claim(bg(t), hash, "a"); err != nil || !c.Wrote {
		t.Fatalf("Claim once etcd is back: %+v, %v", c, err)
	}
}

// Options: zero means default; bad values are refused together.
func TestOptions(t *testing.T) {
	s, err := New(&clientv3.Client{}, Options{})
	if err != nil || s.o.Prefix != "/claims/" || s.o.Timeout != 2*time.Second {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	if s.Key([32]byte{0xab}) != "/claims/ab00000000000000000000000000000000000000000000000000000000000000" {
		t.Fatalf("key %s", s.Key([32]byte{0xab}))
	}
	for i, o := range []Options{
		{Prefix: "claims"},
		{HeldPrefix: "held"},
		{Timeout: -1},
		{Prefix: "/c/", HeldPrefix: "/c/held/"},
	} {
		if _, err := New(&clientv3.Client{}, o); err == nil {
			t.Fatalf("#%d: bad options %+v accepted", i, o)
		}
	}
	if _, err := s.Claim(context.Background(), [32]byte{}, "a/b"); !errors.Is(err, ErrBadMember) {
		t.Fatalf("member with a /: %v", err)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("nil client accepted")
	}
	if _, err := s.Claim(context.Background(), [32]byte{}, ""); !errors.Is(err, ErrBadMember) {
		t.Fatalf("empty member: %v", err)
	}
}

// BenchmarkClaim measures one Claim and its Complete against a real etcd,
// with and without fsync: the cost a member adds to each payment.
func BenchmarkClaim(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) { benchClaim(b, sync) })
	}
}

func benchClaim(b *testing.B, sync bool) {
	srv, err := etcdtest.Start(etcdtest.Options{Dir: b.TempDir(), Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	c, err := etcdtest.NewClient(srv.ClientURL)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, _ := New(c, Options{})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var pre [32]byte
		pre[0], pre[1], pre[2], pre[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		hash := sha256.Sum256(pre[:])
		if c, err := s.Claim(ctx, hash, "a"); err != nil || !c.Wrote {
			b.Fatal(c, err)
		}
		if _, err := s.Complete(ctx, hash, "a", pre); err != nil {
			b.Fatal(err)
		}
	}
}

// etcd as its own process, SIGKILLed: claims acknowledged before the kill
// are there after the restart (no fsync: the kernel keeps a killed
// process's writes), a Claim during the outage fails closed and leaves
// nothing behind.
func TestEtcdKilled(t *testing.T) {
	bin, err := etcdtest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := etcdtest.StartProcess(bin, etcdtest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	s := newStore(t, p.ClientURL)
	before, pre := paid(20)
	during, _ := paid(21)
	if _, err := s.Claim(bg(t), before, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(bg(t), before, "a", pre); err != nil {
		t.Fatal(err)
	}
	p.Kill()

	quick, _ := New(s.c, Options{Timeout: 500 * time.Millisecond})
	began := time.Now()
	if c, err := quick.Claim(bg(t), during, "a"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Claim with etcd killed: %+v, %v; want ErrUnavailable", c, err)
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Fatalf("Claim with etcd killed took %v, want its 500ms timeout", took)
	}

	p2, err := etcdtest.StartProcess(bin, p.Opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Kill() })
	patient, _ := New(s.c, Options{Timeout: 10 * time.Second})
	if c, found, err := patient.Get(bg(t), before); err != nil || !found || c.State != StateComplete || c.Preimage != pre {
		t.Fatalf("after kill and restart, the completed claim: %+v, %v, %v", c, found, err)
	}
	if _, found, err := patient.Get(bg(t), during); err != nil || found {
		t.Fatalf("after restart, the hash claimed during the outage: found %v, %v; want nothing", found, err)
	}
}
