package simnet

import (
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// A destination takes multi-part payments as BOLT 4 says a node with
// basic_mpp does. Every part carries payment_data (the invoice's secret and
// total_msat); the parts of one payment hash form its HTLC set, held until
// their sum reaches total_msat, then all settled at once with the preimage.
// If the sum has not reached the total Options.MPPTimeout (60 s) after the
// first part arrived, on the network's clock, every part fails with
// mpp_timeout. A part whose total_msat is not the set's is refused with
// incorrect_or_unknown_payment_details, as Core Lightning does, and the
// others stay held. A part that reaches its total on its own (a
// single-part payment) settles at once, as it always did, unless a set of
// its hash is open, which it then joins.
//
// The invoice's amount rules apply to total_msat, as in Core Lightning's
// invoice_check_payment: at least the invoice's amount and at most twice
// it. A part larger than total_msat is refused.
//
// Once a set settled, the receiver has released the preimage: a later part
// of the same total that does not reach it alone (a part of that set
// resumed after a restart, or one that came late) settles at once, without
// counting another settlement; a part that reaches its total alone counts
// one, so a double payment still shows in the ground truth.
//
// A durable network keeps an open set's total and start time, and the
// settlement of a set (written, with the settlement's count, before any
// preimage goes out), so the parts a restart resumes join their set again
// with its first deadline, or settle if it had settled. Close fails the
// parts of every open set with mpp_timeout: each held part so gets exactly
// one outcome, written as any other.

// DefaultMPPTimeout is how long a destination holds the parts of an
// incomplete multi-part payment (BOLT 4: at least 60 seconds).
const DefaultMPPTimeout = 60 * time.Second

// mppSet is the HTLC set of one payment hash at its destination.
type mppSet struct {
	total graph.MilliSat
	sum   graph.MilliSat
	start int64                // unix nanoseconds on the network's clock: the first part
	parts []func(settled bool) // each held part's continuation
	timer *time.Timer          // wall clock only
	done  bool
}

// deadline is when the set times out, in unix nanoseconds.
func (n *Net) deadline(s *mppSet) int64 { return s.start + int64(n.opts.MPPTimeout) }

// collect is the destination's HTLC-set logic for a part that passed the
// final node's checks: it settles the part (now, or when its set is
// complete) or fails it, and gives the outcome to k. A part waiting for the
// rest of its set is its continuation in the set, which the part that
// completes the set, or the set's expiry, calls.
func (n *Net) collect(in *incoming, secret [32]byte, total graph.MilliSat, preimage [32]byte, k func(outcome)) {
	now := n.Now().UnixNano()
	n.mppMu.Lock()
	set := n.sets[in.hash]
	if set != nil && now >= n.deadline(set) {
		// The set's deadline passed while nobody looked (a set a restart
		// loaded): this part was late for it too.
		n.expire(in.hash, set)
		n.mppMu.Unlock()
		k(n.fail(secret, &lnwire.FailMPPTimeout{}))
		return
	}
	if set == nil {
		if paid, ok := n.paid[in.hash]; ok && paid == total && in.amount < total {
			n.mppMu.Unlock()
			k(n.deliver(in, preimage, false))
			return
		}
		if in.amount >= total {
			n.mppMu.Unlock()
			k(n.deliver(in, preimage, true))
			return
		}
		set = &mppSet{total: total, start: now}
		n.sets[in.hash] = set
		if n.store != nil {
			// Not waited for: the settlement's write is queued after it.
			n.store.submit(storeOp{kind: opSet, key: keyHash(prefixSet, in.hash), value: encodeSet(storedSet{total: total, start: now})})
		}
		n.armTimer(in.hash, set)
	} else if set.total != total {
		n.mppMu.Unlock()
		k(n.fail(secret, lnwire.NewFailIncorrectDetails(lnwire.MilliSatoshi(in.amount), n.Height())))
		return
	}
	set.parts = append(set.parts, func(settled bool) {
		if !settled {
			k(n.fail(secret, &lnwire.FailMPPTimeout{}))
			return
		}
		k(n.deliver(in, preimage, false))
	})
	set.sum += in.amount
	var settled *storeWrite
	complete := set.sum >= set.total
	if complete {
		set.done = true
		delete(n.sets, in.hash)
		n.paid[in.hash] = set.total
		if set.timer != nil {
			set.timer.Stop()
		}
		if n.store != nil {
			settled = n.store.submit(
				storeOp{kind: opSet, key: keyHash(prefixSet, in.hash), value: encodeSet(storedSet{total: set.total, start: set.start, settled: true})},
				storeOp{kind: opMerge, key: keyHash(prefixTruth, in.hash), value: int64s(0, 1, 0)})
		}
	}
	n.mppMu.Unlock()
	if !complete {
		select {
		case <-n.stop:
			// Close expired the sets it found; this one may have
			// opened or grown since.
			n.mppMu.Lock()
			if !set.done {
				n.expire(in.hash, set)
			}
			n.mppMu.Unlock()
		default:
		}
		return
	}
	// The settlement is durable before any part releases the preimage.
	if settled != nil {
		if err := settled.wait(); err != nil {
			n.broke(err)
		}
	}
	n.truthMu.Lock()
	n.truthOf(in.hash).Settlements++
	n.truthMu.Unlock()
	// The other parts go on at once, each on a goroutine of its own; this
	// one, the last of the set, on this one.
	last := len(set.parts) - 1
	for _, p := range set.parts[:last] {
		go p(true)
	}
	set.parts[last](true)
}

// deliver settles one part: the ground truth counts its amount and the
// part, and a settlement if it completes a payment on its own.
func (n *Net) deliver(in *incoming, preimage [32]byte, settlement bool) outcome {
	n.truthMu.Lock()
	d := n.truthOf(in.hash)
	d.Amount += in.amount
	d.Parts++
	if settlement {
		d.Settlements++
	}
	n.truthMu.Unlock()
	if in.tr != nil {
		in.tr.delivered = in.amount
		in.tr.settlement = settlement
	}
	return outcome{preimage: &preimage}
}

// expire fails every part of an open set with mpp_timeout and forgets it;
// the caller holds mppMu.
func (n *Net) expire(hash [32]byte, set *mppSet) {
	set.done = true
	if n.sets[hash] == set {
		delete(n.sets, hash)
	}
	if set.timer != nil {
		set.timer.Stop()
	}
	if n.store != nil {
		n.store.submit(storeOp{kind: opDelete, key: keyHash(prefixSet, hash)})
	}
	for _, p := range set.parts {
		go p(false)
	}
}

// expireWaiting fails the parts of every open set that has parts waiting
// (Close): a set a restart loaded, with none of its parts back yet, stays.
func (n *Net) expireWaiting() {
	n.mppMu.Lock()
	defer n.mppMu.Unlock()
	for hash, set := range n.sets {
		if len(set.parts) > 0 {
			n.expire(hash, set)
		}
	}
}

// expireDue times out every open set whose deadline has passed on the
// network's clock (SetNow calls it, and a wall clock's timers).
func (n *Net) expireDue() {
	now := n.Now().UnixNano()
	n.mppMu.Lock()
	defer n.mppMu.Unlock()
	for hash, set := range n.sets {
		if now >= n.deadline(set) {
			n.expire(hash, set)
		}
	}
}

// armTimer makes a wall-clock network look at the set when its deadline
// comes; a simulated clock moves only by SetNow, which looks itself. The
// caller holds mppMu.
func (n *Net) armTimer(hash [32]byte, set *mppSet) {
	if !n.wall {
		return
	}
	d := time.Duration(n.deadline(set) - n.Now().UnixNano())
	set.timer = time.AfterFunc(max(d, 0), n.expireDue)
}

// OpenSets returns how many payment hashes have parts held by their
// destination, waiting for the rest.
func (n *Net) OpenSets() int {
	n.mppMu.Lock()
	defer n.mppMu.Unlock()
	return len(n.sets)
}
