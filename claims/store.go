package claims

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrUnavailable is returned, wrapped with etcd's error, when etcd did not
// answer in time or refused the request. Fail closed: after it, the caller sends nothing for the
// hash. A Claim that returns it may still have been written (etcd can commit
// and lose the answer); the member's next Claim then finds the claim pending
// and held by itself (Claim.HeldBy).
var ErrUnavailable = errors.New("claims: etcd unavailable")

// ErrContention is returned, wrapped, when a record kept changing under a
// compare-and-set for maxTries rounds.
var ErrContention = errors.New("claims: claim record kept changing")

// maxTries bounds the compare-and-set rounds of one call. Each lost round
// means another writer changed the record; a replaced failed claim is
// pending and ends the loop, so more than a few rounds never happen.
const maxTries = 16

// Options configure a Store; zero means default.
type Options struct {
	// Prefix is the key prefix of the records; a record's key is Prefix
	// followed by the hash in lowercase hex. The default is "/claims/".
	Prefix string
	// HeldPrefix is the key prefix of the index of pending claims by
	// member: HeldPrefix + member + "/" + hash, written and removed in the
	// same transaction as the record, so Held need not scan every record.
	// The default is "/claims-held/".
	HeldPrefix string
	// Timeout bounds each call (inside the caller's context). The default
	// is 2 s.
	Timeout time.Duration
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Prefix == "" {
		o.Prefix = "/claims/"
	}
	if o.HeldPrefix == "" {
		o.HeldPrefix = "/claims-held/"
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
}

// Validate reports every problem in o in one error.
func (o *Options) Validate() error {
	var errs []string
	if !strings.HasPrefix(o.Prefix, "/") {
		errs = append(errs, fmt.Sprintf("Prefix %q must start with /", o.Prefix))
	}
	if !strings.HasPrefix(o.HeldPrefix, "/") {
		errs = append(errs, fmt.Sprintf("HeldPrefix %q must start with /", o.HeldPrefix))
	}
	if strings.HasPrefix(o.HeldPrefix, o.Prefix) || strings.HasPrefix(o.Prefix, o.HeldPrefix) {
		errs = append(errs, fmt.Sprintf("Prefix %q and HeldPrefix %q overlap", o.Prefix, o.HeldPrefix))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Sprintf("Timeout %v is negative", o.Timeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("claims: options: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Store reads and writes claim records through an etcd client. It is safe
// for concurrent use; the caller owns the client and closes it.
type Store struct {
	c *clientv3.Client
	o Options
}

// New returns a Store over c with a copy of opts, defaults filled in.
func New(c *clientv3.Client, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errors.New("claims: nil etcd client")
	}
	return &Store{c: c, o: opts}, nil
}

// Key is the etcd key of hash's record.
func (s *Store) Key(hash [32]byte) string {
	return s.o.Prefix + hex.EncodeToString(hash[:])
}

// heldKey is the index key saying member holds hash pending.
func (s *Store) heldKey(member string, hash [32]byte) string {
	return s.o.HeldPrefix + member + "/" + hex.EncodeToString(hash[:])
}

// writeOps are the operations that store next over the record prev (nil:
// none): the record, and the held index moved to match.
func (s *Store) writeOps(prev *Claim, next Claim) []clientv3.Op {
	ops := []clientv3.Op{clientv3.OpPut(s.Key(next.Hash), string(encode(next)))}
	if prev != nil && prev.State == StatePending && !(next.State == StatePending && next.Member == prev.Member) {
		ops = append(ops, clientv3.OpDelete(s.heldKey(prev.Member, next.Hash)))
	}
	if next.State == StatePending {
		ops = append(ops, clientv3.OpPut(s.heldKey(next.Member, next.Hash), ""))
	}
	return ops
}

// Claim asks for hash on behalf of member, before the first HTLC of its
// payment group leaves. It creates a pending record if there is none, or
// replaces a failed one, with a compare-and-set, so of any number of
// concurrent callers across the fleet exactly one writes (Claim.Wrote).
// Otherwise it returns the record that stands: pending (someone pays;
// answer 200), complete (answer with its preimage). The caller may pay when
// the result is HeldBy(member). On any error nothing may be sent.
func (s *Store) Claim(ctx context.Context, hash [32]byte, member string) (Claim, error) {
	if err := checkMember(member); err != nil {
		return Claim{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	key := s.Key(hash)
	var cur *Claim // nil: absent, as far as we know
	for try := 0; try < maxTries; try++ {
		next, write := claimNext(hash, cur, member)
		if !write {
			return next, nil
		}
		// Create if absent; replace only the very revision we read.
		cond := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if cur != nil {
			cond = clientv3.Compare(clientv3.ModRevision(key), "=", cur.Revision)
		}
		resp, err := s.c.Txn(ctx).If(cond).
			Then(s.writeOps(cur, next)...).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return Claim{}, unavailable("claim", hash, err)
		}
		if resp.Succeeded {
			next.Revision = resp.Header.Revision
			next.Wrote = true
			return next, nil
		}
		cur, err = fromRange(hash, resp.Responses[0].GetResponseRange().GetKvs())
		if err != nil {
			return Claim{}, err
		}
	}
	return Claim{}, fmt.Errorf("%w: claim %x: %d rounds", ErrContention, hash, maxTries)
}

// Complete writes that member's payment of hash succeeded with preimage,
// after member's ledger has the outcome. Writing it again is no error.
func (s *Store) Complete(ctx context.Context, hash [32]byte, member string, preimage [32]byte) (Claim, error) {
	return s.outcome(ctx, hash, member, StateComplete, preimage)
}

// Fail writes that member's payment of hash failed with nothing in flight,
// after member's ledger has the outcome, so another Claim may take the
// hash. Writing it again is no error; failing a complete payment is
// ErrComplete.
func (s *Store) Fail(ctx context.Context, hash [32]byte, member string) (Claim, error) {
	return s.outcome(ctx, hash, member, StateFailed, [32]byte{})
}

func (s *Store) outcome(ctx context.Context, hash [32]byte, member string, want State, preimage [32]byte) (Claim, error) {
	if err := checkMember(member); err != nil {
		return Claim{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	key := s.Key(hash)
	resp, err := s.c.Get(ctx, key)
	if err != nil {
		return Claim{}, unavailable("write "+want.String(), hash, err)
	}
	cur, err := fromRange(hash, resp.Kvs)
	if err != nil {
		return Claim{}, err
	}
	for try := 0; try < maxTries; try++ {
		next, write, err := outcomeNext(hash, cur, member, want, preimage)
		if err != nil || !write {
			return next, err
		}
		tr, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.Revision)).
			Then(s.writeOps(cur, next)...).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return Claim{}, unavailable("write "+want.String(), hash, err)
		}
		if tr.Succeeded {
			next.Revision = tr.Header.Revision
			next.Wrote = true
			return next, nil
		}
		if cur, err = fromRange(hash, tr.Responses[0].GetResponseRange().GetKvs()); err != nil {
			return Claim{}, err
		}
	}
	return Claim{}, fmt.Errorf("%w: write %s %x: %d rounds", ErrContention, want, hash, maxTries)
}

// Get reads hash's record, for a front-end: complete (answer with the
// preimage), pending (answer 200), failed (pick a member and forward; its
// Claim replaces the record); found is false when no member ever claimed
// hash.
func (s *Store) Get(ctx context.Context, hash [32]byte) (c Claim, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	resp, err := s.c.Get(ctx, s.Key(hash))
	if err != nil {
		return Claim{}, false, unavailable("get", hash, err)
	}
	cur, err := fromRange(hash, resp.Kvs)
	if err != nil || cur == nil {
		return Claim{}, false, err
	}
	return *cur, true, nil
}

// Held returns the hashes member holds pending, in hash order: what a
// member reconciles with its ledger when it starts (an outcome its ledger
// has but etcd missed is written again; a hash its ledger never sent may be
// paid). It reads the index, a page of pageSize keys at a time, within the
// Store's timeout for each page.
func (s *Store) Held(ctx context.Context, member string) ([][32]byte, error) {
	if err := checkMember(member); err != nil {
		return nil, err
	}
	prefix := s.o.HeldPrefix + member + "/"
	end := clientv3.GetPrefixRangeEnd(prefix)
	var out [][32]byte
	from := prefix
	for {
		pctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
		resp, err := s.c.Get(pctx, from, clientv3.WithRange(end), clientv3.WithLimit(pageSize),
			clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%w: held by %s: %w", ErrUnavailable, member, err)
		}
		for _, kv := range resp.Kvs {
			var h [32]byte
			raw, err := hex.DecodeString(strings.TrimPrefix(string(kv.Key), prefix))
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("%w: index key %q", ErrCorrupt, kv.Key)
			}
			copy(h[:], raw)
			out = append(out, h)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// pageSize is how many index keys Held reads at a time.
const pageSize = 1000

// fromRange decodes the record a range read returned (nil if none).
func fromRange(hash [32]byte, kvs []*mvccpb.KeyValue) (*Claim, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	c, err := decode(hash, kvs[0].Value)
	if err != nil {
		return nil, err
	}
	c.Revision = kvs[0].ModRevision
	return &c, nil
}

func unavailable(op string, hash [32]byte, err error) error {
	return fmt.Errorf("%w: %s %x: %w", ErrUnavailable, op, hash, err)
}
