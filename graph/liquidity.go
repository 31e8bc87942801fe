package graph

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Knowledge is what the engine has learned of channel balances, shared by
// all payments: per channel direction, bounds [lo, hi] on what it can carry
// now, and what HTLCs in flight hold on it. Every direction starts from the
// prior [0, min(capacity, htlc_maximum)]; our own channels are set exactly;
// each outcome narrows the bounds; learned bounds relax back toward the
// prior with a half-life, so old news fades (as CLN's askrene and LDK age
// theirs). Time is always an argument: Knowledge never reads the clock.
//
// Writers take a lock; readers take none. The state is an immutable set of
// shards behind an atomic pointer: a write copies the shards it touches and
// publishes a new set, and At hands out a view of one set, which no later
// write changes, so any number of plans read while payments report.
type Knowledge struct {
	mu       sync.Mutex // serialises writers
	root     atomic.Pointer[liqRoot]
	halfLife time.Duration
}

// DefaultHalfLife is how long learned bounds take to relax halfway back to
// the prior when NewKnowledge is given zero (LDK's default).
const DefaultHalfLife = 6 * time.Hour

// The state is 4,096 shards under 64 leaves: a write copies the root, the
// leaves it touches and their shards, so a route's update copies a few
// small maps rather than large ones.
const (
	liqLeaves     = 64
	liqLeafShards = 64
)

// liqRoot is one immutable state: leaves of shards of entries by channel
// direction; a nil leaf holds nothing.
type liqRoot [liqLeaves]*liqLeaf

type liqLeaf [liqLeafShards]map[SCIDDir]liqEntry

func (r *liqRoot) get(d SCIDDir) (liqEntry, bool) {
	i, j := liqShard(d)
	if r[i] == nil {
		return liqEntry{}, false
	}
	e, ok := r[i][j][d]
	return e, ok
}

// each calls fn for every entry; fn may write through a liqTx on r, as
// a write copies what it changes.
func (r *liqRoot) each(fn func(d SCIDDir, e liqEntry)) {
	for _, l := range r {
		if l == nil {
			continue
		}
		for _, m := range l {
			for d, e := range m {
				fn(d, e)
			}
		}
	}
}

// liqEntry is what is known of one channel direction.
type liqEntry struct {
	lo, hi    MilliSat // bounds as learned at time at
	ceil      MilliSat // the prior's upper bound: hi relaxes toward it
	at        int64    // unix nanoseconds of the last learning
	exact     bool     // set for our own channel: never relaxes
	hasBounds bool     // false: only a reservation
	reserved  MilliSat // held by HTLCs in flight
}

// NewKnowledge returns empty knowledge whose learned bounds relax with the
// given half-life (zero: DefaultHalfLife).
func NewKnowledge(halfLife time.Duration) *Knowledge {
	if halfLife <= 0 {
		halfLife = DefaultHalfLife
	}
	k := &Knowledge{halfLife: halfLife}
	k.root.Store(&liqRoot{})
	return k
}

func liqShard(d SCIDDir) (leaf, shard int) {
	h := (uint64(d.SCID)<<1 | uint64(d.Dir)) * 0x9E3779B97F4A7C15
	return int(h >> 58), int(h>>52) & (liqLeafShards - 1)
}

// liqTx is one write: the leaves and shards it has copied so far.
type liqTx struct {
	root       *liqRoot
	leafCopied [liqLeaves]bool
	copied     [liqLeaves]uint64 // a bit per shard of each leaf
}

func (tx *liqTx) get(d SCIDDir) (liqEntry, bool) { return tx.root.get(d) }

func (tx *liqTx) put(d SCIDDir, e liqEntry) {
	i, j := liqShard(d)
	if !tx.leafCopied[i] {
		l := new(liqLeaf)
		if tx.root[i] != nil {
			*l = *tx.root[i]
		}
		tx.root[i], tx.leafCopied[i] = l, true
	}
	l := tx.root[i]
	if tx.copied[i]&(1<<j) == 0 {
		m := make(map[SCIDDir]liqEntry, len(l[j])+1)
		for k, v := range l[j] {
			m[k] = v
		}
		l[j] = m
		tx.copied[i] |= 1 << j
	}
	if !e.hasBounds && e.reserved == 0 {
		delete(l[j], d)
		return
	}
	l[j][d] = e
}

// update runs fn on a copy of the state and publishes the result.
func (k *Knowledge) update(fn func(tx *liqTx) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	root := *k.root.Load()
	tx := &liqTx{root: &root}
	if err := fn(tx); err != nil {
		return err
	}
	k.root.Store(tx.root)
	return nil
}

// boundsAt returns e's bounds at time now, relaxed toward [0, ceil].
func (k *Knowledge) boundsAt(e liqEntry, now int64) (lo, hi MilliSat) {
	if !e.hasBounds {
		return 0, math.MaxUint64
	}
	if e.exact || now <= e.at {
		return e.lo, e.hi
	}
	f := math.Exp2(-float64(now-e.at) / float64(k.halfLife))
	lo = MilliSat(float64(e.lo) * f)
	if e.hi < e.ceil {
		hi = e.ceil - MilliSat(float64(e.ceil-e.hi)*f)
	} else {
		hi = e.hi
	}
	return lo, hi
}

// current returns d's entry with its bounds relaxed to now, or a fresh
// entry at the prior of g; ok is false if g does not know the channel.
func (k *Knowledge) current(tx *liqTx, g *Graph, d SCIDDir, now int64) (liqEntry, bool) {
	a, ok := g.outIndex(d)
	if !ok {
		return liqEntry{}, false
	}
	ceil := g.prior(&g.out[a])
	e, _ := tx.get(d)
	lo, hi := k.boundsAt(e, now)
	e.lo, e.hi, e.ceil, e.at, e.hasBounds = lo, min(hi, ceil), ceil, now, true
	e.lo = min(e.lo, e.hi)
	return e, true
}

// SetExact records that our own channel direction d can send exactly
// balance now. It does not relax with time: the owner sets it again when it
// changes. Reservations are taken off every direction, this one too, so
// balance should still count the HTLCs reserved here that the channel has
// already added (or they count twice until unreserved: safe, not wrong).
func (k *Knowledge) SetExact(d SCIDDir, balance MilliSat, now time.Time) {
	_ = k.update(func(tx *liqTx) error {
		e, _ := tx.get(d)
		e.lo, e.hi, e.ceil, e.at, e.exact, e.hasBounds = balance, balance, balance, now.UnixNano(), true, true
		tx.put(d, e)
		return nil
	})
}

// Failed learns from a route that failed at hop at (0-based; len(r) for a
// failure at the destination): every channel before it carried its amount,
// so it had at least that much; the channel at hop at could not carry its
// amount besides what is reserved on it, so it has less than their sum.
// The route's own reservation must be released first. Channels g does not
// know are skipped.
func (k *Knowledge) Failed(g *Graph, r Route, at int, now time.Time) error {
	if at < 0 || at > len(r) {
		return fmt.Errorf("graph: failure at hop %d of a %d-hop route", at, len(r))
	}
	t := now.UnixNano()
	return k.update(func(tx *liqTx) error {
		for i := 0; i <= at && i < len(r); i++ {
			d := SCIDDir{r[i].Channel, r[i].Direction}
			e, ok := k.current(tx, g, d, t)
			if !ok || e.exact {
				continue // our own channels are set, not guessed
			}
			x := r[i].Amount
			if i < at {
				// It carried x: the newest news wins over bounds it contradicts.
				e.lo = max(e.lo, x)
				e.hi = max(e.hi, e.lo)
			} else if x > 0 {
				// It could not carry x on top of what our HTLCs in
				// flight hold on it (the failed one's own reservation
				// is already released): bounds count the held amount,
				// which the planner takes off them.
				e.hi = min(e.hi, satAdd(x-1, e.reserved))
				e.lo = min(e.lo, e.hi)
			}
			tx.put(d, e)
		}
		return nil
	})
}

// Succeeded learns from a route that was paid: every channel carried its
// amount, and that amount moved: the direction paid has that much less,
// the opposite direction that much more.
func (k *Knowledge) Succeeded(g *Graph, r Route, now time.Time) error {
	t := now.UnixNano()
	return k.update(func(tx *liqTx) error {
		for _, h := range r {
			d := SCIDDir{h.Channel, h.Direction}
			if e, ok := k.current(tx, g, d, t); ok && !e.exact {
				e.lo = max(e.lo, h.Amount)
				e.hi = max(e.hi, e.lo)
				e.lo, e.hi = e.lo-h.Amount, e.hi-h.Amount
				tx.put(d, e)
			}
			rev := SCIDDir{h.Channel, 1 - h.Direction}
			if e, ok := k.current(tx, g, rev, t); ok && !e.exact {
				e.lo, e.hi = min(satAdd(e.lo, h.Amount), e.ceil), min(satAdd(e.hi, h.Amount), e.ceil)
				tx.put(rev, e)
			}
		}
		return nil
	})
}

// satAdd is a+b, or the largest amount if that overflows.
func satAdd(a, b MilliSat) MilliSat {
	if s, err := a.Add(b); err == nil {
		return s
	}
	return math.MaxUint64
}

// Reserve holds each hop's amount on its channel direction for an HTLC in
// flight, so no plan counts on it twice; Unreserve gives it back when the
// HTLC settles or fails.
func (k *Knowledge) Reserve(r Route) {
	_ = k.update(func(tx *liqTx) error {
		for _, h := range r {
			d := SCIDDir{h.Channel, h.Direction}
			e, _ := tx.get(d)
			e.reserved = satAdd(e.reserved, h.Amount)
			tx.put(d, e)
		}
		return nil
	})
}

// Unreserve releases what Reserve held for r. Releasing more than is
// reserved on a channel is an error, and changes nothing.
func (k *Knowledge) Unreserve(r Route) error {
	return k.update(func(tx *liqTx) error {
		need := map[SCIDDir]MilliSat{}
		for _, h := range r {
			need[SCIDDir{h.Channel, h.Direction}] += h.Amount
		}
		for d, x := range need {
			if e, _ := tx.get(d); e.reserved < x {
				return fmt.Errorf("graph: unreserve %s on %s, only %s reserved", x, d, e.reserved)
			}
		}
		for d, x := range need {
			e, _ := tx.get(d)
			e.reserved -= x
			tx.put(d, e)
		}
		return nil
	})
}

// Forget drops what is known of d (not its reservations).
func (k *Knowledge) Forget(d SCIDDir) {
	_ = k.update(func(tx *liqTx) error {
		if e, ok := tx.get(d); ok {
			tx.put(d, liqEntry{reserved: e.reserved})
		}
		return nil
	})
}

// Reset drops everything learned (not reservations): every direction is
// back at its prior.
func (k *Knowledge) Reset() {
	_ = k.update(func(tx *liqTx) error {
		tx.root.each(func(d SCIDDir, e liqEntry) { tx.put(d, liqEntry{reserved: e.reserved}) })
		return nil
	})
}

// Age drops learned bounds that have relaxed to within tolerance of the
// prior by now, so the state does not grow forever, and returns how many.
func (k *Knowledge) Age(now time.Time, tolerance MilliSat) int {
	n, t := 0, now.UnixNano()
	_ = k.update(func(tx *liqTx) error {
		tx.root.each(func(d SCIDDir, e liqEntry) {
			if !e.hasBounds || e.exact {
				return
			}
			if lo, hi := k.boundsAt(e, t); lo <= tolerance && hi+tolerance >= e.ceil {
				tx.put(d, liqEntry{reserved: e.reserved})
				n++
			}
		})
		return nil
	})
	return n
}

// ChannelKnowledge is what is known of one channel direction at a time.
type ChannelKnowledge struct {
	Dir      SCIDDir
	Lo, Hi   MilliSat // Hi is math.MaxUint64 when only a reservation is known
	Reserved MilliSat
	Exact    bool      // set for our own channel
	Learned  time.Time // when the bounds were last narrowed or set
}

// At returns a read-only view of the knowledge as it stands, with bounds
// relaxed to now. Later writes do not change it; it is what PlanFlow reads.
func (k *Knowledge) At(now time.Time) *LiquidityView {
	return &LiquidityView{k: k, root: k.root.Load(), now: now.UnixNano()}
}

// LiquidityView is one immutable state of a Knowledge at one time; it
// implements Liquidity and may be read from any number of goroutines.
type LiquidityView struct {
	k    *Knowledge
	root *liqRoot
	now  int64
}

// EachBound calls fn for every channel direction with learned bounds or a
// reservation (Liquidity).
func (v *LiquidityView) EachBound(fn func(d SCIDDir, lo, hi, reserved MilliSat)) {
	v.root.each(func(d SCIDDir, e liqEntry) {
		lo, hi := v.k.boundsAt(e, v.now)
		fn(d, lo, hi, e.reserved)
	})
}

// Channels calls fn for every known channel direction, in no set order.
func (v *LiquidityView) Channels(fn func(ChannelKnowledge)) {
	v.root.each(func(d SCIDDir, e liqEntry) {
		lo, hi := v.k.boundsAt(e, v.now)
		fn(ChannelKnowledge{Dir: d, Lo: lo, Hi: hi, Reserved: e.reserved, Exact: e.exact, Learned: time.Unix(0, e.at)})
	})
}

// Channel returns what is known of d; ok is false when nothing is.
func (v *LiquidityView) Channel(d SCIDDir) (ChannelKnowledge, bool) {
	e, ok := v.root.get(d)
	if !ok {
		return ChannelKnowledge{}, false
	}
	lo, hi := v.k.boundsAt(e, v.now)
	return ChannelKnowledge{Dir: d, Lo: lo, Hi: hi, Reserved: e.reserved, Exact: e.exact, Learned: time.Unix(0, e.at)}, true
}

// liqVersion is the first byte of the encoding.
const liqVersion = 1

// ErrBadKnowledge is returned by UnmarshalBinary for data it cannot read.
var ErrBadKnowledge = errors.New("graph: bad liquidity knowledge encoding")

// MarshalBinary encodes the learned bounds for storage: a version byte, a
// count, and per direction its channel, direction, flags, bounds, ceiling
// and time, as varints. Reservations are not kept: they belong to HTLCs in
// flight, which whoever resumes them reserves again.
func (k *Knowledge) MarshalBinary() ([]byte, error) {
	root := k.root.Load()
	n := 0
	root.each(func(_ SCIDDir, e liqEntry) {
		if e.hasBounds {
			n++
		}
	})
	b := []byte{liqVersion}
	b = binary.AppendUvarint(b, uint64(n))
	root.each(func(d SCIDDir, e liqEntry) {
		if !e.hasBounds {
			return
		}
		b = binary.BigEndian.AppendUint64(b, uint64(d.SCID))
		flags := d.Dir
		if e.exact {
			flags |= 2
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(e.lo))
		b = binary.AppendUvarint(b, uint64(e.hi))
		b = binary.AppendUvarint(b, uint64(e.ceil))
		b = binary.AppendVarint(b, e.at)
	})
	return b, nil
}

// UnmarshalBinary replaces the learned bounds with those encoded in data
// (MarshalBinary's format), keeping current reservations. On an error
// nothing changes.
func (k *Knowledge) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != liqVersion {
		return fmt.Errorf("%w: unknown version", ErrBadKnowledge)
	}
	p := data[1:]
	uv := func() (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, fmt.Errorf("%w: truncated", ErrBadKnowledge)
		}
		p = p[n:]
		return v, nil
	}
	count, err := uv()
	if err != nil {
		return err
	}
	if count > uint64(len(p))/9 {
		return fmt.Errorf("%w: %d entries in %d bytes", ErrBadKnowledge, count, len(p))
	}
	entries := make(map[SCIDDir]liqEntry, count)
	for i := uint64(0); i < count; i++ {
		if len(p) < 9 {
			return fmt.Errorf("%w: truncated", ErrBadKnowledge)
		}
		d := SCIDDir{SCID(binary.BigEndian.Uint64(p)), p[8] & 1}
		e := liqEntry{exact: p[8]&2 != 0, hasBounds: true}
		if p[8]&^3 != 0 {
			return fmt.Errorf("%w: flags %#x", ErrBadKnowledge, p[8])
		}
		p = p[9:]
		var v [3]uint64
		for j := range v {
			if v[j], err = uv(); err != nil {
				return err
			}
		}
		at, n := binary.Varint(p)
		if n <= 0 {
			return fmt.Errorf("%w: truncated", ErrBadKnowledge)
		}
		p = p[n:]
		e.lo, e.hi, e.ceil, e.at = MilliSat(v[0]), MilliSat(v[1]), MilliSat(v[2]), at
		if e.lo > e.hi {
			return fmt.Errorf("%w: %s has lo %s above hi %s", ErrBadKnowledge, d, e.lo, e.hi)
		}
		entries[d] = e
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: %d bytes after the entries", ErrBadKnowledge, len(p))
	}
	return k.update(func(tx *liqTx) error {
		tx.root.each(func(d SCIDDir, e liqEntry) { tx.put(d, liqEntry{reserved: e.reserved}) })
		for d, e := range entries {
			old, _ := tx.get(d)
			e.reserved = old.reserved
			tx.put(d, e)
		}
		return nil
	})
}
