package simnet

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// A durable network (Options.Dir) keeps in its directory everything that
// changes at run time, and New loads it, so that a restart continues the
// same network: the node keys and the initial balance split are still
// derived from the seed, and the store holds what moved since.
//
//   - Channels: each settled HTLC adds its hops' balance moves (and
//     SetBalance its own) to a per-channel counter; a channel's balance is
//     the seeded split plus that. SetPolicy's policies are kept too.
//   - Invoices, with their preimage and secret, and whether they were
//     cancelled. A durable network derives an invoice's preimage and
//     secret from sha256 of a salt, the seed and a draw number that grows
//     across runs (one more than the largest stored), so no preimage
//     repeats in a directory. The salt is drawn from crypto/rand when the
//     directory is created and kept in it, so that two directories (two
//     users, or a network state deleted while a ledger that saw its
//     invoices stays) never share a payment hash.
//   - The ground truth of every payment hash (Delivered).
//   - The destinations' multi-part HTLC sets: an open set's total and
//     start, a settled set's total (mpp.go).
//   - Height, and the simulated clock when it is not the wall clock.
//   - HTLCs: see below.
//
// Faults (SetFault) and held nodes (Hold) stay in memory: a restart heals
// every node, and a daemon sets its faults again from its flags.
//
// An HTLC our link takes is written, with its onion, before it does
// anything another node can see: the HTLC's worker waits for that write to
// be on disk before it takes the channel's balance, and the ground truth
// counts the HTLC from then on. AddHTLC itself does not wait for the disk,
// so the payer's actor is not held up by a sync: if the process dies before
// the write is durable, the restarted network has no trace of the HTLC, and
// Reattach answers link.ErrUnknownHTLC, which is the truth (no node saw it,
// no balance moved). When the HTLC resolves, its outcome, its hops'
// balance moves if it settled and the destination's settlement are written
// in one batch, and only once that is on disk is done called: an outcome a
// payer acted on is never lost. A settlement made in memory but not yet on
// disk at a kill is undone with it, so the destination settles the hash at
// most once for that HTLC.
//
// At New, each HTLC that was taken but has no outcome is resumed: it takes
// its first channel's balance again at once (so Spendable leaves it out, as
// a payer reattaching expects), and the first call of Link starts it along
// its route again from the stored onion, as if the first hop had just
// received it; its outcome is then written and given to Reattach as any
// other. Every HTLC so gets exactly one outcome, and money is neither made
// nor lost: on disk, an HTLC in flight has moved nothing.

// trace is what a durable network notes of an HTLC on its way, for the
// write of its outcome: the channels it holds and what the destination
// settled.
type trace struct {
	hops       []traceHop
	delivered  graph.MilliSat
	settlement bool // the HTLC completed a payment on its own
}

// traceHop is one channel an HTLC holds, offered by side from.
type traceHop struct {
	ch     int32
	from   int
	amount graph.MilliSat
}

// recovered is an HTLC a previous run left in flight on our node's link.
type recovered struct {
	node  int32
	req   link.AddHTLC
	local error // set if its first channel refused it again
	c     *chanState
	side  int
}

// identity is a digest of what the seed and the graph decide: every
// channel, its ends and its initial balances, and how many nodes are ours
// when more than one (a one-node network's identity is what it was before
// Options.Ours). A store written for another graph, seed or Ours does not
// match, and New refuses it.
func (n *Net) identity() []byte {
	h := sha256.New()
	h.Write([]byte("simnet state v1"))
	h.Write(n.ids[n.self][:])
	var b [8 + 4 + 4 + 8 + 8]byte
	for i := range n.chans {
		c := &n.chans[i]
		binary.BigEndian.PutUint64(b[0:], uint64(c.scid))
		binary.BigEndian.PutUint32(b[8:], uint32(c.nodes[0]))
		binary.BigEndian.PutUint32(b[12:], uint32(c.nodes[1]))
		binary.BigEndian.PutUint64(b[16:], uint64(c.balance[0]))
		binary.BigEndian.PutUint64(b[24:], uint64(c.balance[1]))
		h.Write(b[:])
	}
	if n.ours > 1 {
		h.Write(binary.BigEndian.AppendUint32([]byte("ours"), uint32(n.ours)))
	}
	return h.Sum(nil)
}

// openState opens the network's store in dir and loads it; a new store
// gets the network's identity.
func (n *Net) openState(dir string) error {
	id := n.identity()
	s, err := openStore(dir)
	if err != nil {
		return err
	}
	got, err := s.get(metaIdentity)
	if err == nil && got == nil {
		var salt [32]byte
		if _, err = rand.Read(salt[:]); err == nil {
			err = s.write(storeOp{kind: opSet, key: metaIdentity, value: id}, storeOp{kind: opSet, key: metaSalt, value: salt[:]})
		}
	} else if err == nil && !bytes.Equal(got, id) {
		err = fmt.Errorf("%w: %s holds the state of another network (another graph, seed or channel options): start with those it was made with, or use another directory", ErrInvalidOptions, dir)
	}
	if err == nil {
		err = n.load(s)
	}
	if err != nil {
		return errors.Join(err, s.close())
	}
	n.store = s
	// A wall clock's open sets time out on their own; a loaded set whose
	// deadline passed goes at once.
	n.mppMu.Lock()
	for hash, set := range n.sets {
		n.armTimer(hash, set)
	}
	n.mppMu.Unlock()
	return nil
}

// load reads the store into the freshly built network.
func (n *Net) load(s *store) error {
	if v, err := s.get(metaSalt); err != nil {
		return err
	} else if len(v) != len(n.salt) {
		return fmt.Errorf("%w: salt", errCorrupt)
	} else {
		n.salt = [32]byte(v)
	}
	if v, err := s.get(metaHeight); err != nil {
		return err
	} else if v != nil {
		h, ok := readInt64s(v, 1)
		if !ok {
			return fmt.Errorf("%w: height", errCorrupt)
		}
		n.height.Store(uint32(h[0]))
	}
	if v, err := s.get(metaNow); err != nil {
		return err
	} else if v != nil {
		t, ok := readInt64s(v, 1)
		if !ok {
			return fmt.Errorf("%w: clock", errCorrupt)
		}
		n.now.Store(t[0])
	}
	err := s.scan(prefixChannel, func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: channel key %x", errCorrupt, k)
		}
		d, ok := readInt64s(v, 2)
		ci, known := n.scids[graph.SCID(binary.BigEndian.Uint64(k[1:]))]
		if !ok || !known || d[0]+d[1] != 0 {
			return fmt.Errorf("%w: channel %x", errCorrupt, k[1:])
		}
		c := &n.chans[ci]
		for side := range 2 {
			b := int64(c.balance[side]) + d[side]
			if b < 0 {
				return fmt.Errorf("%w: channel %s side %d would hold %d msat", errCorrupt, c.scid, side, b)
			}
			c.balance[side] = graph.MilliSat(b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = s.scan(prefixPolicy, func(k, v []byte) error {
		if len(k) != 10 {
			return fmt.Errorf("%w: policy key %x", errCorrupt, k)
		}
		p, err := decodePolicy(v)
		ci, known := n.scids[graph.SCID(binary.BigEndian.Uint64(k[1:9]))]
		if err != nil || !known || k[9] > 1 {
			return fmt.Errorf("%w: policy %x", errCorrupt, k[1:])
		}
		n.chans[ci].policy[k[9]], n.chans[ci].known[k[9]] = p, true
		return nil
	})
	if err != nil {
		return err
	}
	err = s.scan(prefixInvoice, func(k, v []byte) error {
		si, err := decodeInvoice(v)
		if err != nil || len(k) != 33 || si.inv.node < 0 || int(si.inv.node) >= len(n.ids) {
			return fmt.Errorf("%w: invoice %x", errCorrupt, k[1:])
		}
		n.draws = max(n.draws, si.inv.draw+1)
		if !si.cancelled {
			inv := si.inv
			n.invoices[[32]byte(k[1:])] = &inv
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = s.scan(prefixTruth, func(k, v []byte) error {
		t, ok := readInt64s(v, 3)
		if !ok || len(k) != 33 {
			return fmt.Errorf("%w: truth %x", errCorrupt, k[1:])
		}
		d := n.truthOf([32]byte(k[1:]))
		d.Amount, d.Settlements, d.HTLCs = graph.MilliSat(t[0]), int(t[1]), int(t[2])
		return nil
	})
	if err != nil {
		return err
	}
	err = s.scan(prefixParts, func(k, v []byte) error {
		t, ok := readInt64s(v, 1)
		if !ok || len(k) != 33 {
			return fmt.Errorf("%w: parts %x", errCorrupt, k[1:])
		}
		n.truthOf([32]byte(k[1:])).Parts = int(t[0])
		return nil
	})
	if err != nil {
		return err
	}
	err = s.scan(prefixSet, func(k, v []byte) error {
		st, err := decodeSet(v)
		if err != nil || len(k) != 33 {
			return fmt.Errorf("%w: htlc set %x", errCorrupt, k[1:])
		}
		hash := [32]byte(k[1:])
		if st.settled {
			n.paid[hash] = st.total
		} else {
			n.sets[hash] = &mppSet{total: st.total, start: st.start}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.scan(prefixPending, func(k, v []byte) error {
		key, ok := n.parseHTLCKey(k)
		if !ok {
			return fmt.Errorf("%w: htlc key %x", errCorrupt, k)
		}
		req, err := decodeHTLC(key.id, v)
		if err != nil {
			return err
		}
		r := &recovered{node: key.node, req: req}
		r.c, r.side, r.local = n.takeFirst(key.node, &req)
		n.recovered = append(n.recovered, r)
		n.linkID[key] = nil
		return nil
	})
}

// resume starts the HTLCs a previous run left in flight (at the first
// call of Link).
func (n *Net) resume() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	for _, r := range n.recovered {
		n.wg.Add(1)
		go func() {
			tr := &trace{}
			k := func(res link.Result) {
				n.finish(r.node, &r.req, res, tr, nil)
				n.wg.Done()
			}
			if r.local != nil {
				k(link.Result{Local: r.local})
				return
			}
			n.route(&r.req, r.c, r.side, tr, k)
		}()
	}
	n.recovered = nil
}

// taken writes an HTLC the link took, and counts it in the ground truth
// once that is durable. It returns false if the write failed: the HTLC
// must then go no further.
func (n *Net) taken(node int32, req *link.AddHTLC) bool {
	err := n.store.write(
		storeOp{kind: opSet, key: htlcStoreKey(prefixPending, node, req.ID), value: encodeHTLC(req)},
		storeOp{kind: opMerge, key: keyHash(prefixTruth, req.PaymentHash), value: int64s(0, 0, 1)})
	if err != nil {
		n.broke(err)
		return false
	}
	n.countHTLC(req.PaymentHash)
	return true
}

// resolved writes an HTLC's outcome with the balance moves of its hops
// and the destination's settlement if it settled; false if that failed,
// and the outcome must then not be given to anyone.
func (n *Net) resolved(node int32, req *link.AddHTLC, res link.Result, tr *trace) bool {
	ops := []storeOp{
		{kind: opDelete, key: htlcStoreKey(prefixPending, node, req.ID)},
		{kind: opSet, key: htlcStoreKey(prefixResult, node, req.ID), value: encodeResult(res)},
	}
	if res.Preimage != nil {
		for _, h := range tr.hops {
			d := [2]int64{}
			d[h.from], d[1-h.from] = -int64(h.amount), int64(h.amount)
			ops = append(ops, storeOp{kind: opMerge, key: key8(prefixChannel, uint64(n.chans[h.ch].scid)), value: int64s(d[0], d[1])})
		}
		settlements := int64(0)
		if tr.settlement {
			settlements = 1 // a multi-part set's was written when it completed
		}
		ops = append(ops,
			storeOp{kind: opMerge, key: keyHash(prefixTruth, req.PaymentHash), value: int64s(int64(tr.delivered), settlements, 0)},
			storeOp{kind: opMerge, key: keyHash(prefixParts, req.PaymentHash), value: int64s(1)})
	}
	if err := n.store.write(ops...); err != nil {
		n.broke(err)
		return false
	}
	return true
}

// broke keeps the first write error of the store, which Close returns.
// The network goes on in memory, but what it could not write it does not
// acknowledge.
func (n *Net) broke(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.storeErr == nil {
		n.storeErr = err
	}
}

// persist writes ops durably when the network has a store; a failure is
// kept for Close and returned.
func (n *Net) persist(ops ...storeOp) error {
	if n.store == nil {
		return nil
	}
	if err := n.store.write(ops...); err != nil {
		n.broke(err)
		return err
	}
	return nil
}

// storedResult reads the outcome of an HTLC of a previous run on our
// node's link.
func (n *Net) storedResult(node int32, id uint64) (link.Result, bool, error) {
	v, err := n.store.get(htlcStoreKey(prefixResult, node, id))
	if err != nil || v == nil {
		return link.Result{}, false, err
	}
	r, err := decodeResult(id, v)
	return r, err == nil, err
}

// invoiceDraw derives a durable network's preimage and secret for its
// draw-th invoice.
func invoiceDraw(salt [32]byte, seed, draw uint64) (preimage, secret [32]byte) {
	var b [16 + 8 + 8 + 32]byte
	binary.BigEndian.PutUint64(b[16:], seed)
	binary.BigEndian.PutUint64(b[24:], draw)
	copy(b[32:], salt[:])
	copy(b[:16], "simnet preimage ")
	preimage = sha256.Sum256(b[:])
	copy(b[:16], "simnet secret   ")
	secret = sha256.Sum256(b[:])
	return preimage, secret
}

// htlcStoreKey is the store key of an HTLC record of our node's link:
// prefix and id for node 0 (the keys of a one-node network, so its stored
// state still loads), then the node as 4 bytes for the others.
func htlcStoreKey(prefix byte, node int32, id uint64) []byte {
	k := key8(prefix, id)
	if node == 0 {
		return k
	}
	return binary.BigEndian.AppendUint32(k, uint32(node))
}

// parseHTLCKey reads what htlcStoreKey wrote; false if it is not the key
// of one of our nodes.
func (n *Net) parseHTLCKey(k []byte) (htlcKey, bool) {
	switch len(k) {
	case 9:
		return htlcKey{0, binary.BigEndian.Uint64(k[1:])}, true
	case 13:
		node := binary.BigEndian.Uint32(k[9:])
		if node == 0 || node >= uint32(n.ours) {
			return htlcKey{}, false
		}
		return htlcKey{int32(node), binary.BigEndian.Uint64(k[1:9])}, true
	}
	return htlcKey{}, false
}
