package simnet

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// Errors returned by simnet. Test with errors.Is.
var (
	// ErrInvalidOptions is returned by New for options it cannot use.
	ErrInvalidOptions = errors.New("simnet: invalid options")
	// ErrUnknownNode is returned for a node id that is not in the network.
	ErrUnknownNode = errors.New("simnet: unknown node")
	// ErrUnknownChannel is returned for a channel that is not in the
	// network, or that the given node is not an end of.
	ErrUnknownChannel = errors.New("simnet: unknown channel")
	// ErrNilCallback is returned by the link's AddHTLC when done is nil.
	ErrNilCallback = errors.New("simnet: nil result callback")
)

// Defaults of Options.
const (
	DefaultLocalChannels = 8
	DefaultLocalCapacity = 10_000_000 // satoshis
	DefaultMaxHTLCs      = 483
	DefaultStartHeight   = 800_000
	DefaultMinFinalCLTV  = 18
	DefaultExpirySafety  = 3
	DefaultLocalAlias    = "payengine"
	// MaxOurs is the most nodes of ours a network can have.
	MaxOurs = 1000
)

// DefaultStartTime is the simulated clock's start: the snapshot's date,
// 2026-02-03T00:00:00Z.
var DefaultStartTime = time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)

// DefaultPolicy is the policy of our channels, both directions, when
// Options leaves it zero (htlc_maximum is then the channel capacity).
var DefaultPolicy = graph.Policy{BaseMsat: 1000, FeePPM: 1, CLTVDelta: 40, HTLCMin: 1}

// Options configure a network. The zero value of every field means its
// default; New does not change the caller's struct.
type Options struct {
	// Seed drives every random choice: node keys, balance splits,
	// preimages and latency draws.
	Seed uint64
	// LocalChannels is how many channels our node opens to the nodes
	// with the most enabled channels. Default DefaultLocalChannels.
	LocalChannels int
	// LocalCapacity is the capacity of each of our channels in
	// satoshis, all of it on our side. Default DefaultLocalCapacity.
	LocalCapacity uint64
	// LocalPolicy is our policy (us to peer) and RemotePolicy the peer's
	// (peer to us) on our channels. The zero Policy means DefaultPolicy;
	// an HTLCMax of 0 means the capacity.
	LocalPolicy, RemotePolicy graph.Policy
	// LocalAlias is our node's alias in the exported graph. Default
	// DefaultLocalAlias.
	LocalAlias string
	// MaxHTLCs is the number of HTLC slots per channel direction.
	// Default DefaultMaxHTLCs (BOLT 2's 483).
	MaxHTLCs int
	// StartHeight is the initial block height. Default
	// DefaultStartHeight.
	StartHeight uint32
	// StartTime is the initial simulated time, which invoice expiry is
	// checked against. Default DefaultStartTime.
	StartTime time.Time
	// MinFinalCLTV is the min_final_cltv_expiry of the invoices
	// destinations issue. Default DefaultMinFinalCLTV.
	MinFinalCLTV uint32
	// ExpirySafety: a forwarding node answers expiry_too_soon when the
	// outgoing expiry is at most height + ExpirySafety. Default
	// DefaultExpirySafety.
	ExpirySafety uint32
	// HopLatency is the delay each node adds before it processes an
	// HTLC, plus a uniform draw in [0, HopJitter). Both zero (the
	// default) means no delay.
	HopLatency, HopJitter time.Duration
	// WallClock makes the network's time the machine's clock (StartTime
	// and SetNow are then ignored), as a daemon serving real users needs.
	WallClock bool
	// Dir, when set, makes the network durable: what changes at run time
	// (balances, invoices, HTLCs and their outcomes, ground truth, height)
	// is kept in this directory, created if need be, and New continues
	// the network found there (durable.go says what is kept and when).
	// The directory must have been written with the same graph, Seed and
	// channel options. Empty keeps everything in memory.
	Dir string
	// Ours is how many nodes of ours the network has (a fleet's nodes),
	// each with its own LocalChannels channels to the same best-connected
	// peers and its own link (LinkFor); none has a channel to another.
	// Default 1. Node 0 is the node of a one-node network, unchanged.
	Ours int
	// MPPTimeout is how long, on the network's clock, a destination
	// holds the parts of a multi-part payment whose sum has not reached
	// its total before failing them with mpp_timeout (mpp.go). Default
	// DefaultMPPTimeout.
	MPPTimeout time.Duration
}

// withDefaults returns a copy with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.LocalChannels == 0 {
		o.LocalChannels = DefaultLocalChannels
	}
	if o.LocalCapacity == 0 {
		o.LocalCapacity = DefaultLocalCapacity
	}
	if o.LocalPolicy == (graph.Policy{}) {
		o.LocalPolicy = DefaultPolicy
	}
	if o.RemotePolicy == (graph.Policy{}) {
		o.RemotePolicy = DefaultPolicy
	}
	capMsat := graph.MilliSat(o.LocalCapacity) * 1000
	if o.LocalPolicy.HTLCMax == 0 {
		o.LocalPolicy.HTLCMax = capMsat
	}
	if o.RemotePolicy.HTLCMax == 0 {
		o.RemotePolicy.HTLCMax = capMsat
	}
	if o.LocalAlias == "" {
		o.LocalAlias = DefaultLocalAlias
	}
	if o.MaxHTLCs == 0 {
		o.MaxHTLCs = DefaultMaxHTLCs
	}
	if o.StartHeight == 0 {
		o.StartHeight = DefaultStartHeight
	}
	if o.StartTime.IsZero() {
		o.StartTime = DefaultStartTime
	}
	if o.MinFinalCLTV == 0 {
		o.MinFinalCLTV = DefaultMinFinalCLTV
	}
	if o.ExpirySafety == 0 {
		o.ExpirySafety = DefaultExpirySafety
	}
	if o.MPPTimeout == 0 {
		o.MPPTimeout = DefaultMPPTimeout
	}
	if o.Ours == 0 {
		o.Ours = 1
	}
	return o
}

// validate reports every problem with the options at once.
func (o Options) validate() error {
	var errs []error
	if o.LocalChannels < 0 {
		errs = append(errs, fmt.Errorf("LocalChannels %d is negative", o.LocalChannels))
	}
	if o.MaxHTLCs < 0 {
		errs = append(errs, fmt.Errorf("MaxHTLCs %d is negative", o.MaxHTLCs))
	}
	if o.LocalCapacity > 21_000_000*100_000_000 {
		errs = append(errs, fmt.Errorf("LocalCapacity %d sat is more than all bitcoin", o.LocalCapacity))
	}
	if o.HopLatency < 0 || o.HopJitter < 0 {
		errs = append(errs, errors.New("HopLatency and HopJitter must not be negative"))
	}
	if o.Ours < 0 || o.Ours > MaxOurs {
		errs = append(errs, fmt.Errorf("Ours %d is not between 1 and %d", o.Ours, MaxOurs))
	}
	if o.MPPTimeout < 0 {
		errs = append(errs, fmt.Errorf("MPPTimeout %s is negative", o.MPPTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return nil
}

// chanState is the live state of one channel. Side 0 is the channel's
// Node1 in the simnet graph (the lesser simnet id), as graph.Direction.
type chanState struct {
	mu      sync.Mutex
	scid    graph.SCID
	nodes   [2]int32
	balance [2]graph.MilliSat // what each side can send
	pending [2]graph.MilliSat // held in HTLCs offered by each side
	slots   [2]int            // HTLCs in flight offered by each side
	policy  [2]graph.Policy   // what each side enforces when forwarding
	known   [2]bool
}

// Net is a simulated network. Its methods are safe for concurrent use.
// Close stops it and waits for every HTLC in flight to resolve.
type Net struct {
	opts  Options
	g     *graph.Graph
	self  int32 // our node 0's index; node i is self+i
	ours  int   // how many nodes of ours
	ids   []graph.NodeID
	keys  []*btcec.PrivateKey
	index map[graph.NodeID]int32
	real  map[graph.NodeID]graph.NodeID // real id -> simnet id
	chans []chanState
	scids map[graph.SCID]int32
	local [][]graph.SCID // per node of ours

	height atomic.Uint32
	now    atomic.Int64 // unix nanoseconds
	wall   bool

	rngMu sync.Mutex
	rng   *rand.Rand

	invMu    sync.RWMutex
	invoices map[[32]byte]*invoice

	truthMu sync.Mutex
	truth   map[[32]byte]*Delivery

	// The destinations' HTLC sets of multi-part payments still open, and
	// the total of each hash's last settled set (mpp.go).
	mppMu sync.Mutex
	sets  map[[32]byte]*mppSet
	paid  map[[32]byte]graph.MilliSat

	inflight atomic.Int64

	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
	// linkID holds, per HTLC in flight (our node and the id its link
	// gave), the callbacks Reattach added; results keeps every outcome,
	// so Reattach can answer after it.
	linkID  map[htlcKey][]func(link.Result)
	results map[htlcKey]link.Result
	// held nodes keep every HTLC they receive, as the step that goes on
	// with it, until released; timers are the steps waiting out a delay
	// (park.go).
	held   map[int32][]func()
	timers map[*parked]struct{}
	// faults are the misbehaving nodes (SetFault).
	faults map[int32]Fault
	// flow is the feasibility oracle's arcs and scratch, built on first
	// use.
	flowOnce sync.Once
	flow     *flowCache

	// A durable network's store (nil in memory), the first write error,
	// its invoices' salt and next draw (under rngMu), the HTLCs a previous
	// run left in flight until resume starts them, and the order of height
	// writes.
	store      *store
	storeErr   error // under mu
	salt       [32]byte
	draws      uint64
	recovered  []*recovered
	resumeOnce sync.Once
	heightMu   sync.Mutex

	// Test hooks, set before any HTLC is sent. tamper makes that node
	// flip a bit of every onion it forwards; forge makes every node sign
	// its channel_updates with the wrong key.
	tamper *graph.NodeID
	forge  bool
}

// Load reads a describegraph file (plain or gzip) and builds a network
// from it with New.
func Load(path string, opts Options) (*Net, error) {
	g, err := graph.LoadDescribeGraphFile(path)
	if err != nil {
		return nil, fmt.Errorf("simnet: %w", err)
	}
	return New(g, opts)
}

// New builds a network from the graph: every node gets a key derived from
// the seed and its index, every channel keeps its id, capacity and
// policies and gets a seeded balance split, and our node is attached.
// The same graph and options give the same network. With Options.Dir it
// then loads the state a previous run left there.
func New(real *graph.Graph, opts Options) (*Net, error) {
	if real == nil {
		return nil, fmt.Errorf("%w: nil graph", ErrInvalidOptions)
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	realIDs := real.Nodes()
	n := &Net{
		opts:     opts,
		rng:      rand.New(rand.NewPCG(opts.Seed, 0x73696d6e6574)), // "simnet"
		invoices: make(map[[32]byte]*invoice),
		truth:    make(map[[32]byte]*Delivery),
		sets:     make(map[[32]byte]*mppSet),
		paid:     make(map[[32]byte]graph.MilliSat),
		stop:     make(chan struct{}),
		linkID:   make(map[htlcKey][]func(link.Result)),
		results:  make(map[htlcKey]link.Result),
		held:     make(map[int32][]func()),
		timers:   make(map[*parked]struct{}),
		faults:   make(map[int32]Fault),
		real:     make(map[graph.NodeID]graph.NodeID, len(realIDs)),
	}
	n.keys, n.ids = deriveKeys(opts.Seed, len(realIDs)+opts.Ours)
	n.index = make(map[graph.NodeID]int32, len(n.keys))
	for i := range n.keys {
		if _, dup := n.index[n.ids[i]]; dup {
			return nil, fmt.Errorf("simnet: derived key %d collides", i)
		}
		n.index[n.ids[i]] = int32(i)
	}
	n.self = int32(len(realIDs))
	n.ours = opts.Ours
	self := n.ids[n.self]

	var b graph.Builder
	for i, id := range realIDs {
		n.real[id] = n.ids[i]
		b.AddNode(graph.Node{ID: n.ids[i], Alias: real.Alias(id)})
	}
	b.AddNode(graph.Node{ID: self, Alias: opts.LocalAlias})
	for i := 1; i < n.ours; i++ {
		b.AddNode(graph.Node{ID: n.ids[n.self+int32(i)], Alias: fmt.Sprintf("%s-%d", opts.LocalAlias, i)})
	}
	maxBlock := uint32(0)
	real.Channels(func(c graph.ChannelInfo) bool {
		// The policies stay with the node that set them: Builder swaps
		// them if the new ids sort the other way round.
		b.AddChannel(graph.Channel{SCID: c.SCID, Node1: n.real[c.Node1], Node2: n.real[c.Node2],
			Capacity: c.Capacity, Policy: c.Policy})
		maxBlock = max(maxBlock, c.SCID.Block())
		return true
	})
	// Our nodes' channels come after every real one (node 0's first) and
	// draw nothing from the generator below, so a node added leaves every
	// other channel as it was.
	peers := bestConnected(real, realIDs, opts.LocalChannels)
	n.local = make([][]graph.SCID, n.ours)
	for o := range n.ours {
		for i, peer := range peers {
			scid := graph.NewSCID(maxBlock+1+uint32(o), uint32(i+1), 0)
			local, remote := opts.LocalPolicy, opts.RemotePolicy
			b.AddChannel(graph.Channel{SCID: scid, Node1: n.ids[n.self+int32(o)], Node2: n.real[peer],
				Capacity: opts.LocalCapacity, Policy: [2]*graph.Policy{&local, &remote}})
			n.local[o] = append(n.local[o], scid)
		}
	}
	g, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("simnet: build graph: %w", err)
	}
	n.g = g
	n.chans = make([]chanState, g.NumChannels())
	n.scids = make(map[graph.SCID]int32, g.NumChannels())
	next := int32(0)
	g.Channels(func(c graph.ChannelInfo) bool {
		cs := &n.chans[next]
		cs.scid, cs.nodes = c.SCID, [2]int32{n.index[c.Node1], n.index[c.Node2]}
		total := graph.MilliSat(c.Capacity) * 1000
		switch {
		case n.isOurs(cs.nodes[0]):
			cs.balance[0] = total
		case n.isOurs(cs.nodes[1]):
			cs.balance[1] = total
		default:
			cs.balance[0] = graph.MilliSat(n.rng.Uint64N(uint64(total) + 1))
			cs.balance[1] = total - cs.balance[0]
		}
		for d := range 2 {
			if c.Policy[d] != nil {
				cs.policy[d], cs.known[d] = *c.Policy[d], true
			}
		}
		n.scids[c.SCID] = next
		next++
		return true
	})
	n.height.Store(opts.StartHeight)
	n.now.Store(opts.StartTime.UnixNano())
	n.wall = opts.WallClock
	if opts.Dir != "" {
		if err := n.openState(opts.Dir); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// bestConnected returns up to k nodes with the most usable outgoing
// half-channels, ties broken by load order.
func bestConnected(g *graph.Graph, ids []graph.NodeID, k int) []graph.NodeID {
	type cand struct {
		id  graph.NodeID
		n   int
		pos int
	}
	cs := make([]cand, len(ids))
	for i, id := range ids {
		cs[i] = cand{id, g.NodeChannels(id), i}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
	out := make([]graph.NodeID, 0, k)
	for _, c := range cs[:min(k, len(cs))] {
		out = append(out, c.id)
	}
	return out
}

// deriveKeys derives count node keys from the seed: key i is the first
// valid scalar among sha256("simnet node" || seed || i || counter). The
// public keys are computed on all CPUs (the slow part on mainnet).
func deriveKeys(seed uint64, count int) ([]*btcec.PrivateKey, []graph.NodeID) {
	keys := make([]*btcec.PrivateKey, count)
	ids := make([]graph.NodeID, count)
	workers := min(runtime.GOMAXPROCS(0), max(1, count/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += workers {
				keys[i] = deriveKey(seed, uint64(i))
				copy(ids[i][:], keys[i].PubKey().SerializeCompressed())
			}
		}()
	}
	wg.Wait()
	return keys, ids
}

// deriveKey derives one node key.
func deriveKey(seed, i uint64) *btcec.PrivateKey {
	var buf [11 + 8 + 8 + 4]byte
	copy(buf[:], "simnet node")
	binary.BigEndian.PutUint64(buf[11:], seed)
	binary.BigEndian.PutUint64(buf[19:], i)
	for ctr := uint32(0); ; ctr++ {
		binary.BigEndian.PutUint32(buf[27:], ctr)
		h := sha256.Sum256(buf[:])
		var k btcec.ModNScalar
		if k.SetBytes(&h) == 0 && !k.IsZero() {
			return btcec.PrivKeyFromScalar(&k)
		}
	}
}

// Graph returns the network's graph as a payer sees it in gossip: simnet's
// node ids, the real aliases, channel ids, capacities and policies, and our
// node with its channels. It does not follow SetPolicy.
func (n *Net) Graph() *graph.Graph { return n.g }

// WriteDescribeGraph writes Graph as describegraph JSON.
func (n *Net) WriteDescribeGraph(w io.Writer) error {
	if err := n.g.WriteDescribeGraph(w); err != nil {
		return fmt.Errorf("simnet: %w", err)
	}
	return nil
}

// Self returns our node's id (node 0's of several).
func (n *Net) Self() graph.NodeID { return n.ids[n.self] }

// LocalChannels returns our channels' ids (node 0's of several).
func (n *Net) LocalChannels() []graph.SCID { return slices.Clone(n.local[0]) }

// Ours returns how many nodes of ours the network has (Options.Ours).
func (n *Net) Ours() int { return n.ours }

// SelfOf returns the id of our node i, or the zero id if there is no
// node i (i outside [0, Ours)).
func (n *Net) SelfOf(i int) graph.NodeID {
	if i < 0 || i >= n.ours {
		return graph.NodeID{}
	}
	return n.ids[n.self+int32(i)]
}

// LocalChannelsOf returns the ids of our node i's channels, or nil if
// there is no node i.
func (n *Net) LocalChannelsOf(i int) []graph.SCID {
	if i < 0 || i >= n.ours {
		return nil
	}
	return slices.Clone(n.local[i])
}

// isOurs says whether the node at index u is one of ours.
func (n *Net) isOurs(u int32) bool { return u >= n.self && u < n.self+int32(n.ours) }

// SimID returns the simnet id of a node of the graph New was given.
func (n *Net) SimID(real graph.NodeID) (graph.NodeID, bool) {
	id, ok := n.real[real]
	return id, ok
}

// Height returns the current block height.
func (n *Net) Height() uint32 { return n.height.Load() }

// AdvanceHeight mines blocks and returns the new height.
func (n *Net) AdvanceHeight(blocks uint32) uint32 {
	if n.store == nil {
		return n.height.Add(blocks)
	}
	n.heightMu.Lock()
	h := n.height.Add(blocks)
	w := n.store.submit(storeOp{kind: opSet, key: metaHeight, value: int64s(int64(h))})
	n.heightMu.Unlock()
	if err := w.wait(); err != nil {
		n.broke(err)
	}
	return h
}

// Now returns the simulated time, which invoice expiry is checked against.
func (n *Net) Now() time.Time {
	if n.wall {
		return time.Now().UTC()
	}
	return time.Unix(0, n.now.Load()).UTC()
}

// SetNow sets the simulated time; multi-part payments held longer than
// Options.MPPTimeout then fail.
func (n *Net) SetNow(t time.Time) {
	defer n.expireDue()
	if n.store == nil {
		n.now.Store(t.UnixNano())
		return
	}
	n.heightMu.Lock()
	n.now.Store(t.UnixNano())
	w := n.store.submit(storeOp{kind: opSet, key: metaNow, value: int64s(t.UnixNano())})
	n.heightMu.Unlock()
	if err := w.wait(); err != nil {
		n.broke(err)
	}
}

// Close stops the network: HTLCs still in flight resolve without further
// latency, their callbacks run, and Close returns when all have. Later
// AddHTLC calls return link.ErrClosed. A durable network has then written
// every outcome and closes its store; Close returns the first error the
// store had. Close may be called more than once.
func (n *Net) Close() error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.stop)
	}
	n.mu.Unlock()
	n.unparkAll()
	n.expireWaiting()
	n.wg.Wait()
	if n.store == nil {
		return nil
	}
	err := n.store.close()
	n.mu.Lock()
	defer n.mu.Unlock()
	return errors.Join(n.storeErr, err)
}

// node returns a node's index.
func (n *Net) node(id graph.NodeID) (int32, error) {
	i, ok := n.index[id]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	return i, nil
}

// channel returns a channel's state and the side node is on.
func (n *Net) channel(scid graph.SCID, node graph.NodeID) (*chanState, int, error) {
	ci, ok := n.scids[scid]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", ErrUnknownChannel, scid)
	}
	c := &n.chans[ci]
	for side := range 2 {
		if n.ids[c.nodes[side]] == node {
			return c, side, nil
		}
	}
	return nil, 0, fmt.Errorf("%w: %s has no end %s", ErrUnknownChannel, scid, node)
}

// _ checks that the link type implements link.Link.
var _ link.Link = (*localLink)(nil)
