// Package node wires one payengine node for the commands: a backend (what
// the engine runs on: our node id, the channel graph, our channels, the
// block height, the link that carries HTLCs, and the backend's own RPC
// commands), the Pebble ledger in a data directory and the actor engine on
// top, with the machine's clock. There are three backends: the embedded
// simulated network (the default), a simulated network in another process
// (cmd/simnetd, Config.LinkAddr) over wirelink, and a real lnd node
// (Config.Backend "lnd", package lndnode).
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/lndnode"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
	"github.com/payengine/payengine/simnet/simnetrpc"
	"github.com/payengine/payengine/wirelink"
)

// Backend names of Config.Backend.
const (
	BackendSimnet = "simnet"
	BackendLND    = "lnd"
)

// Socket names of cmd/simnetd in its directory: the wirelink server of
// its network's link, and its JSON-RPC control socket (simnet-* commands);
// and the directory, in payd's data directory or simnetd's, where a
// durable network keeps its state (Config.NetDir).
const (
	SimnetLinkName = "simnet-link" // node 0's; SimnetLinkNameOf(i) for others

	SimnetRPCName   = "simnet-rpc"
	SimnetStateName = "simnet"
)

// SimnetLinkNameOf is the name of the socket of our node i's link in
// simnetd's directory: SimnetLinkName for node 0, as with a single node,
// then SimnetLinkName-i.
func SimnetLinkNameOf(i int) string {
	if i == 0 {
		return SimnetLinkName
	}
	return fmt.Sprintf("%s-%d", SimnetLinkName, i)
}

// Config says which network to build and where the ledger lives.
type Config struct {
	// Backend is BackendSimnet (the default; with LinkAddr, simnetd's
	// network) or BackendLND.
	Backend string
	// LND is the lnd to pay through, with Backend BackendLND.
	LND lndnode.Config
	// DataDir holds the ledger (DataDir/ledger); it is created if need be.
	DataDir string
	// Graph is a bundled graph name (graphdata.Sub300, graphdata.Mainnet)
	// or a describegraph file.
	Graph string
	// Seed drives the simulated network: keys, balances, latency draws.
	Seed uint64
	// HopLatency and HopJitter model each hop's delay in simnet.
	HopLatency, HopJitter time.Duration
	// MaxHTLCs is the HTLC slots per channel direction (0: BOLT 2's 483).
	MaxHTLCs int
	// Ours is how many nodes of ours the simulated network has
	// (simnet.Options.Ours; 0: one, or SimnetNode+1 if more).
	Ours int
	// SimnetNode is which of the simulated network's nodes of ours the
	// engine is (0 to Ours-1): its id, channels and link. The network is
	// built with at least SimnetNode+1 nodes of ours; the ids and channels
	// of nodes 0 to SimnetNode do not depend on how many more there are,
	// so a payd of node i agrees with a simnetd of any --ours above i.
	SimnetNode int
	// NetDir, when set, makes the simulated network durable: its state
	// (balances, invoices, HTLCs and their outcomes, height) lives there
	// and a restart continues it (simnet.Options.Dir). payd gives
	// DataDir/SimnetStateName; empty keeps the network in memory.
	NetDir string
	// LinkAddr, when set, is the unix socket of a simnetd's link (its
	// D/simnet-link, or D/simnet-link-i for SimnetNode i): the engine's
	// HTLCs go there over wirelink. The local
	// network, built from the same Graph and Seed as simnetd's, then
	// serves only as the graph, our node's id and our channels' starting
	// balances; its invoices are unknown to the real network.
	LinkAddr string
	// NoSync skips the ledger's fsync: benchmarks of other parts only.
	NoSync bool
	// Logger receives the engine's and the ledger's logs (nil: discard).
	Logger *slog.Logger
	// Metrics receives the engine's measurements (nil: none).
	Metrics *metrics.Engine
	// ClaimsFor, when set, gives the fleet's claims in our node's name
	// (actors.Options.Claims); nil: a single node.
	ClaimsFor func(self graph.NodeID) actors.Claims
}

// claimsOf is cfg's claims for our node self, or nil.
func (cfg Config) claimsOf(self graph.NodeID) actors.Claims {
	if cfg.ClaimsFor == nil {
		return nil
	}
	return cfg.ClaimsFor(self)
}

// Node is a running engine over its backend.
type Node struct {
	Engine *actors.Engine
	// Net is the embedded network; with Config.LinkAddr, the local copy
	// of the remote one; nil over lnd.
	Net    *simnet.Net
	Ledger *persistence.Ledger
	// Remote is the wirelink client to simnetd (nil without LinkAddr).
	Remote *wirelink.Client
	// LND is the lnd backend (nil over simnet).
	LND *lndnode.Backend
	// Info is our node as getinfo shows it, and Commands the backend's
	// own RPC commands (simnet-*; none over lnd): rpc.Options' Node and
	// Commands.
	Info     rpc.NodeInfo
	Commands []rpc.Command
}

// Network builds the simulated network of cfg (Graph, Seed, HopLatency,
// HopJitter, MaxHTLCs) on the machine's clock, and loads the state in
// NetDir if set. The same fields give the same network, node ids, channels
// and initial balances included: what lets payd with LinkAddr and
// cmd/simnetd agree on it.
func Network(cfg Config) (*simnet.Net, error) {
	if cfg.Graph == "" {
		cfg.Graph = graphdata.Sub300
	}
	g, err := graphdata.Load(cfg.Graph)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if cfg.SimnetNode < 0 || cfg.SimnetNode >= simnet.MaxOurs {
		return nil, fmt.Errorf("node: simnet node %d is not between 0 and %d", cfg.SimnetNode, simnet.MaxOurs-1)
	}
	n, err := simnet.New(g, simnet.Options{Seed: cfg.Seed, MaxHTLCs: cfg.MaxHTLCs, HopLatency: cfg.HopLatency,
		HopJitter: cfg.HopJitter, WallClock: true, Dir: cfg.NetDir, Ours: max(cfg.Ours, cfg.SimnetNode+1)})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return n, nil
}

// ParseLatency reads a --latency flag: "D" (each hop adds D), or "D+J"
// (D plus a uniform draw below J), e.g. "20ms+10ms"; "0" is none.
func ParseLatency(s string) (base, jitter time.Duration, err error) {
	b, j, hasJitter := strings.Cut(s, "+")
	if base, err = time.ParseDuration(b); err != nil && b != "0" {
		return 0, 0, fmt.Errorf("--latency %q: %w", s, err)
	}
	if hasJitter {
		if jitter, err = time.ParseDuration(j); err != nil {
			return 0, 0, fmt.Errorf("--latency %q: %w", s, err)
		}
	}
	if base < 0 || jitter < 0 {
		return 0, 0, fmt.Errorf("--latency %q: negative", s)
	}
	return base, jitter, nil
}

// Start builds the network, opens the ledger and starts the engine, which
// recovers whatever the ledger had in flight. A second Start on a data
// directory in use fails: Pebble holds a lock on the ledger.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Backend {
	case "", BackendSimnet:
	case BackendLND:
		return startLND(cfg)
	default:
		return nil, fmt.Errorf("node: backend %q: want %s or %s", cfg.Backend, BackendSimnet, BackendLND)
	}
	if cfg.Graph == "" {
		cfg.Graph = graphdata.Sub300
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	// The ledger first: its lock is what tells a second daemon on the
	// data directory apart, before it touches the network's state.
	l, err := persistence.Open(filepath.Join(cfg.DataDir, "ledger"), &persistence.Options{NoSync: cfg.NoSync, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("node: ledger in %s (is another daemon using this data directory?): %w", cfg.DataDir, err)
	}
	n, err := Network(cfg)
	if err != nil {
		l.Close()
		return nil, err
	}
	var chans []actors.Channel
	for _, scid := range n.LocalChannelsOf(cfg.SimnetNode) {
		spendable, _ := n.Spendable(scid)
		chans = append(chans, actors.Channel{SCID: scid, Spendable: spendable})
	}
	lk, err := n.LinkFor(cfg.SimnetNode)
	if err != nil {
		l.Close()
		n.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	var remote *wirelink.Client
	if cfg.LinkAddr != "" {
		remote, err = wirelink.Dial(context.Background(), "unix", cfg.LinkAddr, wirelink.Options{Seed: cfg.Seed, Logger: cfg.Logger})
		if err != nil {
			l.Close()
			n.Close()
			return nil, fmt.Errorf("node: simnetd link: %w", err)
		}
		lk = remote
	}
	e, err := actors.Start(actors.Options{Self: n.SelfOf(cfg.SimnetNode), Graph: n.Graph(), Link: lk, Ledger: l, Channels: chans,
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: rand.Reader, MaxHTLCs: cfg.MaxHTLCs, Logger: cfg.Logger, Metrics: cfg.Metrics,
		Claims: cfg.claimsOf(n.SelfOf(cfg.SimnetNode))})
	if err != nil {
		if remote != nil {
			remote.Close()
		}
		l.Close()
		n.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	return &Node{Engine: e, Net: n, Ledger: l, Remote: remote, Info: simnetrpc.InfoOf(n, cfg.SimnetNode), Commands: simnetrpc.Commands(n)}, nil
}

// startLND connects to lnd, then opens the ledger and starts the engine
// over lnd's graph and channels, and has the engine follow lnd's changes.
func startLND(cfg Config) (*Node, error) {
	if cfg.LinkAddr != "" {
		return nil, errors.New("node: the lnd backend takes no simnetd link address")
	}
	if cfg.SimnetNode != 0 || cfg.Ours != 0 {
		return nil, errors.New("node: the lnd backend takes no simnet node")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	lc := cfg.LND
	if lc.Logger == nil {
		lc.Logger = cfg.Logger
	}
	b, err := lndnode.Connect(context.Background(), lc)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	l, err := persistence.Open(filepath.Join(cfg.DataDir, "ledger"), &persistence.Options{NoSync: cfg.NoSync, Logger: cfg.Logger})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("node: ledger in %s (is another daemon using this data directory?): %w", cfg.DataDir, err)
	}
	var chans []actors.Channel
	for _, c := range b.Channels() {
		chans = append(chans, actors.Channel{SCID: c.SCID, Spendable: c.Spendable, MaxHTLCs: c.MaxHTLCs})
	}
	e, err := actors.Start(actors.Options{Self: b.Self(), Graph: b.Graph(), Link: b, Ledger: l, Channels: chans,
		Network: b.Network(), Height: b.Height, Clock: time.Now, Rand: rand.Reader, MaxHTLCs: cfg.MaxHTLCs,
		Logger: cfg.Logger, Metrics: cfg.Metrics, Claims: cfg.claimsOf(b.Self())})
	if err != nil {
		l.Close()
		b.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	b.Follow(engineSink{e})
	return &Node{Engine: e, Ledger: l, LND: b, Info: lndInfo{b}}, nil
}

// engineSink hands lnd's changes to the engine.
type engineSink struct{ e *actors.Engine }

func (s engineSink) SetGraph(g *graph.Graph)       { s.e.SetGraph(g) }
func (s engineSink) RemoveChannel(scid graph.SCID) { s.e.RemoveChannel(scid) }
func (s engineSink) SetSpendable(scid graph.SCID, amount graph.MilliSat) {
	s.e.SetSpendable(scid, amount)
}
func (s engineSink) AddChannel(c lndnode.Channel) {
	s.e.AddChannel(actors.Channel{SCID: c.SCID, Spendable: c.Spendable, MaxHTLCs: c.MaxHTLCs})
}

// lndInfo is getinfo's view of our node over lnd.
type lndInfo struct{ b *lndnode.Backend }

func (i lndInfo) Self() graph.NodeID { return i.b.Self() }

func (i lndInfo) Summary() rpc.NodeSummary {
	network := string(i.b.Network())
	if network == string(htlc.Mainnet) {
		network = "bitcoin" // Core Lightning's name
	}
	return rpc.NodeSummary{Alias: i.b.Alias(), Peers: i.b.Peers(), Channels: len(i.b.Channels()), Height: i.b.Height(), Network: network}
}

// Close stops the engine, then closes the link to simnetd if any (no
// outcome is wanted any more: the ledger has what is in flight, and the
// next start reattaches), the ledger (so every write the engine made is on
// disk) and the network.
func (nd *Node) Close() error {
	nd.Engine.Stop()
	var errs []error
	if nd.Remote != nil {
		errs = append(errs, nd.Remote.Close())
	}
	if nd.LND != nil {
		errs = append(errs, nd.LND.Close())
	}
	errs = append(errs, nd.Ledger.Close())
	if nd.Net != nil {
		errs = append(errs, nd.Net.Close())
	}
	return errors.Join(errs...)
}
