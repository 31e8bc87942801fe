package simnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// Link returns our node's link (node 0's of several): LinkFor(0).
func (n *Net) Link() link.Link {
	l, _ := n.LinkFor(0) // node 0 always exists
	return l
}

// LinkFor returns our node i's link: AddHTLC offers an HTLC on one of
// that node's channels. The Net walks each HTLC hop by hop to its outcome
// and then calls done, on a goroutine of its own that exists only while
// the HTLC moves: an HTLC that waits (a held node, a hop's latency or a
// slow node's delay, the rest of a multi-part set) is a continuation in a
// queue or behind a timer, not a blocked goroutine, so a network can hold
// a great many (see park.go). Close waits for all of them. HTLC ids are
// the link's own: the same id on two nodes' links is two HTLCs.
// A durable network's HTLCs that a previous run left in flight, on every
// node's link, start again at the first call (durable.go). It fails with
// ErrUnknownNode if there is no node i.
func (n *Net) LinkFor(i int) (link.Link, error) {
	if i < 0 || i >= n.ours {
		return nil, fmt.Errorf("%w: our node %d of %d", ErrUnknownNode, i, n.ours)
	}
	if n.store != nil {
		n.resumeOnce.Do(n.resume)
	}
	return &localLink{n: n, node: int32(i)}, nil
}

// htlcKey names an HTLC of our links: our node (0 to Ours-1) and the id
// its link gave.
type htlcKey struct {
	node int32
	id   uint64
}

// localLink is our node's link.Link; node is which of ours.
type localLink struct {
	n    *Net
	node int32
}

// AddHTLC implements link.Link.
func (l *localLink) AddHTLC(ctx context.Context, req link.AddHTLC, done func(link.Result)) error {
	n := l.n
	if done == nil {
		return ErrNilCallback
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simnet: add htlc %d: %w", req.ID, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return link.ErrClosed
	}
	key := htlcKey{l.node, req.ID}
	if _, dup := n.linkID[key]; dup {
		n.mu.Unlock()
		return fmt.Errorf("%w: %d", link.ErrDuplicateID, req.ID)
	}
	n.linkID[key] = nil
	n.wg.Add(1)
	n.mu.Unlock()
	if n.store == nil {
		n.countHTLC(req.PaymentHash)
	}
	go func() {
		var tr *trace
		if n.store != nil {
			if !n.taken(l.node, &req) {
				n.wg.Done()
				return
			}
			tr = &trace{}
		}
		n.send(l.node, &req, tr, func(res link.Result) {
			n.finish(l.node, &req, res, tr, done)
			n.wg.Done()
		})
	}()
	return nil
}

// finish gives an HTLC's outcome to done and to the callbacks Reattach
// added, and keeps it for later Reattach calls. A durable network writes
// it first; if it cannot, nobody hears of it (see durable.go).
func (n *Net) finish(node int32, req *link.AddHTLC, res link.Result, tr *trace, done func(link.Result)) {
	res.ID = req.ID
	if n.store != nil && !n.resolved(node, req, res, tr) {
		return
	}
	key := htlcKey{node, req.ID}
	n.mu.Lock()
	watchers := n.linkID[key]
	delete(n.linkID, key)
	n.results[key] = res
	n.mu.Unlock()
	if done != nil {
		done(res)
	}
	for _, w := range watchers {
		w(res)
	}
}

// Reattach implements link.Link: simnet remembers every outcome by
// req.ID (a durable network, those of earlier runs too).
func (l *localLink) Reattach(ctx context.Context, req link.AddHTLC, done func(link.Result)) error {
	id := req.ID
	key := htlcKey{l.node, id}
	n := l.n
	if done == nil {
		return ErrNilCallback
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return link.ErrClosed
	}
	if res, ok := n.results[key]; ok {
		n.wg.Add(1)
		n.mu.Unlock()
		go func() { defer n.wg.Done(); done(res) }()
		return nil
	}
	if _, ok := n.linkID[key]; ok {
		n.linkID[key] = append(n.linkID[key], done)
		n.mu.Unlock()
		return nil
	}
	if n.store == nil {
		n.mu.Unlock()
		return fmt.Errorf("%w: %d", link.ErrUnknownHTLC, id)
	}
	// An HTLC of a previous run: its outcome is on disk. The store stays
	// open until Close has waited for this.
	n.wg.Add(1)
	n.mu.Unlock()
	res, ok, err := n.storedResult(l.node, id)
	if err != nil || !ok {
		n.wg.Done()
		if err != nil {
			return fmt.Errorf("simnet: reattach %d: %w", id, err)
		}
		return fmt.Errorf("%w: %d", link.ErrUnknownHTLC, id)
	}
	go func() { defer n.wg.Done(); done(res) }()
	return nil
}

// Hold makes node keep every HTLC it receives, neither forwarding nor
// settling nor failing it, until Release (or Close).
func (n *Net) Hold(node graph.NodeID) error {
	i, ok := n.index[node]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownNode, node)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, already := n.held[i]; !already {
		n.held[i] = nil
	}
	return nil
}

// Release lets node go on with the HTLCs it holds, each on a goroutine of
// its own, as they all go on at once.
func (n *Net) Release(node graph.NodeID) {
	i, ok := n.index[node]
	if !ok {
		return
	}
	n.mu.Lock()
	waiting, held := n.held[i]
	if held {
		delete(n.held, i)
	}
	n.mu.Unlock()
	for _, fn := range waiting {
		go fn()
	}
}

// incoming is an HTLC arriving at a node over channel ch, offered by side
// from of that channel.
type incoming struct {
	ch     int32
	from   int
	amount graph.MilliSat
	expiry uint32
	hash   [32]byte
	onion  []byte // the onion_routing_packet, shared with its sender: read only
	tr     *trace // a durable network's notes on the HTLC, else nil
}

// outcome is what a node sends back for an HTLC: exactly one field is set,
// or none when the node could not even encrypt a failure (read as 202).
type outcome struct {
	preimage  *[32]byte
	reason    []byte
	malformed *link.Malformed
}

// send offers req on our node's channel and follows it to its outcome,
// which it gives to k; tr, if not nil, notes its way.
func (n *Net) send(node int32, req *link.AddHTLC, tr *trace, k func(link.Result)) {
	c, side, err := n.takeFirst(node, req)
	if err != nil {
		k(link.Result{Local: err})
		return
	}
	n.route(req, c, side, tr, k)
}

// takeFirst takes req's amount and a slot on our node's channel, or
// returns the local error that channel refuses it with.
func (n *Net) takeFirst(node int32, req *link.AddHTLC) (*chanState, int, error) {
	c, side, err := n.channel(req.Channel, n.ids[n.self+node])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s", link.ErrUnknownChannel, req.Channel)
	}
	if n.fault(c.nodes[1-side]).Offline {
		return nil, 0, fmt.Errorf("%w: %s: the peer is offline", link.ErrUnknownChannel, req.Channel)
	}
	if err := n.reserve(c, side, req.Amount); err != nil {
		return nil, 0, err
	}
	return c, side, nil
}

// route follows an HTLC that holds side's balance on our channel c to its
// outcome, which it gives to k.
func (n *Net) route(req *link.AddHTLC, c *chanState, side int, tr *trace, k func(link.Result)) {
	in := &incoming{ch: n.scids[req.Channel], from: side, amount: req.Amount, expiry: req.Expiry,
		hash: req.PaymentHash, onion: req.Onion[:], tr: tr}
	if tr != nil {
		tr.hops = append(tr.hops, traceHop{ch: in.ch, from: side, amount: req.Amount})
	}
	n.receive(c.nodes[1-side], in, func(out outcome) {
		n.resolve(c, side, req.Amount, out.preimage != nil)
		if out.preimage == nil && out.reason == nil && out.malformed == nil {
			// A node could not encrypt its failure: an unreadable
			// reason, which the payer reports as 202.
			out.reason = []byte{}
		}
		k(link.Result{Preimage: out.preimage, Reason: out.reason, Malformed: out.malformed})
	})
}

// reserve takes amt from side's balance and one of its slots, or returns
// an error wrapping link.ErrInsufficientBalance or link.ErrTooManyHTLCs.
func (n *Net) reserve(c *chanState, side int, amt graph.MilliSat) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slots[side] >= n.opts.MaxHTLCs {
		return fmt.Errorf("%w: %s has %d htlcs", link.ErrTooManyHTLCs, c.scid, c.slots[side])
	}
	if c.balance[side] < amt {
		return fmt.Errorf("%w: %s can send %s, not %s", link.ErrInsufficientBalance, c.scid, c.balance[side], amt)
	}
	c.balance[side] -= amt
	c.pending[side] += amt
	c.slots[side]++
	n.inflight.Add(1)
	return nil
}

// resolve removes an HTLC offered by side: settled, its amount goes to the
// other side; failed, it returns to side.
func (n *Net) resolve(c *chanState, side int, amt graph.MilliSat, settled bool) {
	c.mu.Lock()
	c.pending[side] -= amt
	c.slots[side]--
	if settled {
		c.balance[1-side] += amt
	} else {
		c.balance[side] += amt
	}
	c.mu.Unlock()
	n.inflight.Add(-1)
}

// latency draws one hop's latency.
func (n *Net) latency() time.Duration {
	d := n.opts.HopLatency
	if j := n.opts.HopJitter; j > 0 {
		n.rngMu.Lock()
		d += time.Duration(n.rng.Int64N(int64(j)))
		n.rngMu.Unlock()
	}
	return d
}

// receive is what node does with an HTLC it gets, after the hop's latency,
// while the node is held and its fault's delay: peel, then settle as the
// destination or forward. It gives the outcome to k.
func (n *Net) receive(node int32, in *incoming, k func(outcome)) {
	n.after(n.latency(), func() {
		n.whenReleased(node, func() {
			f := n.fault(node)
			n.after(f.Delay, func() { n.process(node, in, f, k) })
		})
	})
}

// process is receive once the node takes the HTLC up, with its fault f.
func (n *Net) process(node int32, in *incoming, f Fault, k func(outcome)) {
	if f.Garbage {
		k(n.garbage())
		return
	}
	peeled, err := htlc.PeelOnion(in.onion, in.hash, n.keys[node])
	if err != nil {
		var pe *htlc.PeelError
		switch {
		case !errors.As(err, &pe):
			k(outcome{})
		case pe.SharedSecret == nil:
			// BADONION: update_fail_malformed_htlc to the previous node.
			k(outcome{malformed: &link.Malformed{Code: pe.Code, OnionHash: pe.OnionHash}})
		default:
			k(n.fail(*pe.SharedSecret, pe.Failure()))
		}
		return
	}
	switch {
	case f.NodeFailure:
		k(n.fail(peeled.SharedSecret, &lnwire.FailTemporaryNodeFailure{}))
	case peeled.Payload.Final:
		n.settle(node, in, peeled, k)
	default:
		n.forward(node, in, peeled, k)
	}
}

// fail is a node failing an HTLC with msg, encrypted for the payer.
func (n *Net) fail(secret [32]byte, msg lnwire.FailureMessage) outcome {
	reason, err := htlc.CreateFailure(secret, msg)
	if err != nil {
		return outcome{}
	}
	return outcome{reason: reason}
}

// forward runs a node's checks on the outgoing channel its payload names
// (BOLT 4 failure messages, in LND's order of checks), offers the HTLC to
// the next node and passes its outcome back to k, wrapped.
func (n *Net) forward(node int32, in *incoming, peeled *htlc.PeeledOnion, k func(outcome)) {
	p := peeled.Payload
	secret := peeled.SharedSecret
	ci, ok := n.scids[p.NextChannel]
	if !ok {
		k(n.fail(secret, &lnwire.FailUnknownNextPeer{}))
		return
	}
	c := &n.chans[ci]
	side := -1
	for s := range 2 {
		if c.nodes[s] == node {
			side = s
		}
	}
	if side < 0 || n.fault(c.nodes[1-side]).Offline {
		k(n.fail(secret, &lnwire.FailUnknownNextPeer{}))
		return
	}
	failRate := n.draw(n.fault(node).FailRate)
	amt, height := p.AmountToForward, n.Height()
	c.mu.Lock()
	pol, known := c.policy[side], c.known[side]
	fee, ferr := graph.Fee(amt, pol.BaseMsat, pol.FeePPM)
	var failure func(lnwire.ChannelUpdate1) lnwire.FailureMessage
	switch {
	case !known || pol.Disabled:
		failure = func(u lnwire.ChannelUpdate1) lnwire.FailureMessage { return lnwire.NewChannelDisabled(0, u) }
	case amt < pol.HTLCMin:
		failure = func(u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewAmountBelowMinimum(lnwire.MilliSatoshi(amt), u)
		}
	case amt > pol.HTLCMax:
		failure = tempChannelFailure
	case ferr != nil || in.amount < amt || in.amount-amt < fee:
		failure = func(u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewFeeInsufficient(lnwire.MilliSatoshi(in.amount), u)
		}
	case uint64(p.OutgoingCLTV) <= uint64(height)+uint64(n.opts.ExpirySafety):
		failure = func(u lnwire.ChannelUpdate1) lnwire.FailureMessage { return lnwire.NewExpiryTooSoon(u) }
	case in.expiry < p.OutgoingCLTV || in.expiry-p.OutgoingCLTV < uint32(pol.CLTVDelta):
		failure = func(u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewIncorrectCltvExpiry(in.expiry, u)
		}
	case c.balance[side] < amt || c.slots[side] >= n.opts.MaxHTLCs || failRate:
		failure = tempChannelFailure
	default:
		c.balance[side] -= amt
		c.pending[side] += amt
		c.slots[side]++
		n.inflight.Add(1)
	}
	c.mu.Unlock()
	if failure != nil {
		// Sign outside the channel's lock: it is the slow part.
		k(n.fail(secret, failure(n.update(node, c.scid, side, pol, known))))
		return
	}

	next := &incoming{ch: ci, from: side, amount: amt, expiry: p.OutgoingCLTV, hash: in.hash, onion: peeled.Next[:], tr: in.tr}
	if in.tr != nil {
		in.tr.hops = append(in.tr.hops, traceHop{ch: ci, from: side, amount: amt})
	}
	if n.tamper != nil && *n.tamper == n.ids[node] {
		next.onion[100] ^= 1 // inside the routing info: the next HMAC fails
	}
	n.receive(c.nodes[1-side], next, func(out outcome) {
		n.resolve(c, side, amt, out.preimage != nil)
		k(n.passBack(secret, out))
	})
}

// passBack is what a forwarding node whose shared secret with the payer is
// secret sends back for the outcome out of the next hop: a preimage as it
// is, a failure wrapped in its layer.
func (n *Net) passBack(secret [32]byte, out outcome) outcome {
	switch {
	case out.preimage != nil:
		return out
	case out.malformed != nil:
		msg, err := htlc.MalformedFailure(out.malformed.Code, out.malformed.OnionHash)
		if err != nil {
			return n.fail(secret, &lnwire.FailTemporaryNodeFailure{})
		}
		return n.fail(secret, msg)
	}
	reason, err := htlc.WrapFailure(secret, out.reason)
	if err != nil {
		return outcome{}
	}
	return outcome{reason: reason}
}

// update is node's channel_update for its side of the channel, signed with
// its key (or, under the forge test hook, with another node's).
func (n *Net) update(node int32, scid graph.SCID, side int, pol graph.Policy, known bool) lnwire.ChannelUpdate1 {
	flags := lnwire.ChanUpdateChanFlags(side)
	if !known || pol.Disabled {
		flags |= lnwire.ChanUpdateDisabled
	}
	u := lnwire.ChannelUpdate1{
		ChainHash:       *chaincfg.RegressionNetParams.GenesisHash,
		ShortChannelID:  lnwire.NewShortChanIDFromInt(uint64(scid)),
		Timestamp:       max(pol.LastUpdate, uint32(n.Now().Unix())),
		MessageFlags:    lnwire.ChanUpdateRequiredMaxHtlc,
		ChannelFlags:    flags,
		TimeLockDelta:   pol.CLTVDelta,
		HtlcMinimumMsat: lnwire.MilliSatoshi(pol.HTLCMin),
		BaseFee:         pol.BaseMsat,
		FeeRate:         pol.FeePPM,
		HtlcMaximumMsat: lnwire.MilliSatoshi(pol.HTLCMax),
	}
	key := n.keys[node]
	if n.forge {
		key = n.keys[(int(node)+1)%len(n.keys)]
	}
	// The only error is a nil key or update; the update then goes out
	// unsigned and the payer drops it as forged.
	_ = htlc.SignChannelUpdate(&u, key)
	return u
}
