// Package node wires one payengine node for the commands: a channel graph,
// the embedded simulated network over it, the Pebble ledger in a data
// directory and the actor engine on top, with the machine's clock.
package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

// Config says which network to build and where the ledger lives.
type Config struct {
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
	// NoSync skips the ledger's fsync: benchmarks of other parts only.
	NoSync bool
	// Logger receives the engine's and the ledger's logs (nil: discard).
	Logger *slog.Logger
	// Metrics receives the engine's measurements (nil: none).
	Metrics *metrics.Engine
}

// Node is a running engine over the embedded network.
type Node struct {
	Engine *actors.Engine
	Net    *simnet.Net
	Ledger *persistence.Ledger
}

// Start builds the network, opens the ledger and starts the engine, which
// recovers whatever the ledger had in flight. A second Start on a data
// directory in use fails: Pebble holds a lock on the ledger.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Graph == "" {
		cfg.Graph = graphdata.Sub300
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	g, err := graphdata.Load(cfg.Graph)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n, err := simnet.New(g, simnet.Options{Seed: cfg.Seed, MaxHTLCs: cfg.MaxHTLCs, HopLatency: cfg.HopLatency,
		HopJitter: cfg.HopJitter, WallClock: true})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	l, err := persistence.Open(filepath.Join(cfg.DataDir, "ledger"), &persistence.Options{NoSync: cfg.NoSync, Logger: cfg.Logger})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("node: ledger in %s (is another daemon using this data directory?): %w", cfg.DataDir, err)
	}
	var chans []actors.Channel
	for _, scid := range n.LocalChannels() {
		spendable, _ := n.Spendable(scid)
		chans = append(chans, actors.Channel{SCID: scid, Spendable: spendable})
	}
	e, err := actors.Start(actors.Options{Self: n.Self(), Graph: n.Graph(), Link: n.Link(), Ledger: l, Channels: chans,
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: rand.Reader, MaxHTLCs: cfg.MaxHTLCs, Logger: cfg.Logger, Metrics: cfg.Metrics})
	if err != nil {
		l.Close()
		n.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	return &Node{Engine: e, Net: n, Ledger: l}, nil
}

// Close stops the engine, then closes the ledger (so every write the
// engine made is on disk) and the network.
func (nd *Node) Close() error {
	nd.Engine.Stop()
	return errors.Join(nd.Ledger.Close(), nd.Net.Close())
}
