// Command simnetd runs the simulated network in its own process, so that
// its state (balances, HTLCs held in flight, invoices, what was settled)
// outlives the payment daemon: payd --simnet-addr pays over it, and can be
// killed and restarted while the network goes on.
//
//	go run ./cmd/simnetd --dir /tmp/sim                  # sub300, seed 1
//	go run ./cmd/payd --datadir /tmp/payd --simnet-addr /tmp/sim/simnet-link
//	go run ./cmd/payctl --rpc-file /tmp/sim/simnet-rpc simnet-listnodes
//
// In --dir it listens on unix sockets: simnet-link, a wirelink server
// over the network's link for our node (one payd at a time); with --ours K
// (several nodes of ours, as a fleet has, each with its own channels),
// simnet-link-1 to simnet-link-<K-1> for nodes 1 and up too (payd
// --simnet-node i --simnet-addr <dir>/simnet-link-i); and
// simnet-rpc, JSON-RPC as on payd's socket with the simnet-* commands:
// simnet-invoice, simnet-listnodes, simnet-fault and simnet-truth. payd
// must be given the same --graph and --seed. The network's state lives in
// --dir too (its simnet directory), so simnetd can itself be stopped or
// killed and restarted on it and go on with the same network; faults are
// not kept: those of the flags are set again at each start, those set with
// simnet-fault are gone. Every flag can also be set as an environment
// variable: --dir as SIMNETD_DIR, and so on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/payengine/payengine/cmd/internal/cli"
	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
	"github.com/payengine/payengine/simnet/simnetrpc"
	"github.com/payengine/payengine/wirelink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil))
}

// config is simnetd's flags.
type config struct {
	dir, graph, latency, logLevel, faults string
	seed                                  uint64
	maxHTLCs, ours                        int
	offline, failRate                     float64
}

// parse reads flags, with SIMNETD_* environment variables as their
// defaults.
func parse(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("simnetd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.StringVar(&c.dir, "dir", "", "directory of the sockets "+node.SimnetLinkName+" and "+node.SimnetRPCName+" and of the network's state (required)")
	fs.StringVar(&c.graph, "graph", graphdata.Sub300, "channel graph: sub300, mainnet, or a describegraph file (payd must use the same)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the network: keys, balances, latency draws (payd must use the same)")
	fs.StringVar(&c.latency, "latency", "0", "per-hop delay: D, or D+J for D plus a uniform draw below J (e.g. 20ms+10ms)")
	fs.IntVar(&c.maxHTLCs, "max-htlcs", 0, "HTLC slots per channel direction (0: BOLT 2's 483)")
	fs.IntVar(&c.ours, "ours", 1, "nodes of ours, each with its own channels and its link on "+node.SimnetLinkName+" (node 0) or "+node.SimnetLinkName+"-<i>")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Float64Var(&c.offline, "offline", 0, "fraction of nodes, drawn from --seed, that start offline")
	fs.Float64Var(&c.failRate, "fail-rate", 0, "fraction of every node's forwards that fail with temporary_channel_failure")
	fs.StringVar(&c.faults, "faults", "", `JSON file of faults to start with: {"<node id>": {"offline": true, "node_failure": true, "fail_rate": 0.1, "delay": <nanoseconds>, "garbage": true}, ...}`)
	if err := cli.Parse(fs, "SIMNETD", args, getenv); err != nil {
		return nil, err
	}
	if c.dir == "" {
		return nil, errors.New("--dir is required")
	}
	if c.ours < 1 || c.ours > simnet.MaxOurs {
		return nil, fmt.Errorf("--ours %d is not between 1 and %d", c.ours, simnet.MaxOurs)
	}
	if c.maxHTLCs < 0 {
		return nil, fmt.Errorf("--max-htlcs %d is negative", c.maxHTLCs)
	}
	return c, nil
}

// run is simnetd until ctx ends (SIGINT or SIGTERM in main). ready, if not
// nil, is closed once both sockets accept connections. It returns the exit
// status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- struct{}) int {
	c, err := parse(args, getenv, stderr)
	return cli.Exit("simnetd", stderr, err, func() error { return serve(ctx, c, stdout, stderr, ready) })
}

func serve(ctx context.Context, c *config, stdout, stderr io.Writer, ready chan<- struct{}) error {
	log, err := cli.Logger(c.logLevel, stderr)
	if err != nil {
		return err
	}
	base, jitter, err := node.ParseLatency(c.latency)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	start := time.Now()
	n, err := node.Network(node.Config{Graph: c.graph, Seed: c.seed, HopLatency: base, HopJitter: jitter, MaxHTLCs: c.maxHTLCs,
		Ours: c.ours, NetDir: filepath.Join(c.dir, node.SimnetStateName)})
	if err != nil {
		return err
	}
	defer func() {
		if err := n.Close(); err != nil {
			log.Error("closing the network", "err", err)
		}
	}()
	if err := startFaults(n, c); err != nil {
		return err
	}
	log.Info("network built", "graph", c.graph, "seed", c.seed, "latency", c.latency, "nodes", n.Graph().NumNodes(),
		"channels", n.Graph().NumChannels(), "id", n.Self(), "ours", n.Ours(), "took", time.Since(start).Round(time.Millisecond))

	srv, err := simnetrpc.NewServer(n, rpc.Options{Logger: log})
	if err != nil {
		return err
	}
	rl, err := listen(filepath.Join(c.dir, node.SimnetRPCName))
	if err != nil {
		return err
	}
	lls, wss, err := serveLinks(n, c.dir, log)
	if err != nil {
		rl.Close()
		return err
	}
	// Serve's context is not ctx: the links must outlive the control
	// socket's requests at shutdown, and end at ws.Close.
	errs := make(chan error, 1+len(wss))
	go func() { errs <- srv.Serve(rl) }()
	for i, ws := range wss {
		go func() { errs <- ws.Serve(context.Background(), lls[i]) }()
	}
	fmt.Fprintf(stdout, "simnetd: link on %s, JSON-RPC on %s\n", lls[0].Addr(), rl.Addr())
	for i := 1; i < len(lls); i++ {
		fmt.Fprintf(stdout, "simnetd: node %d's link on %s\n", i, lls[i].Addr())
	}
	if ready != nil {
		close(ready)
	}

	var served error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case served = <-errs:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown", "err", err)
	}
	for _, ws := range wss {
		ws.Close()
	}
	if served != nil && !errors.Is(served, rpc.ErrServerClosed) {
		return served
	}
	log.Info("stopped")
	return nil
}

// serveLinks listens on the socket of each node of ours and makes a
// wirelink server of its link; on an error, what was opened is closed.
func serveLinks(n *simnet.Net, dir string, log *slog.Logger) ([]net.Listener, []*wirelink.Server, error) {
	var lls []net.Listener
	var wss []*wirelink.Server
	fail := func(err error) ([]net.Listener, []*wirelink.Server, error) {
		for _, l := range lls {
			l.Close()
		}
		for _, ws := range wss {
			ws.Close()
		}
		return nil, nil, err
	}
	for i := range n.Ours() {
		ll, err := listen(filepath.Join(dir, node.SimnetLinkNameOf(i)))
		if err != nil {
			return fail(err)
		}
		lls = append(lls, ll)
		lk, err := n.LinkFor(i)
		if err != nil {
			return fail(err)
		}
		ws, err := wirelink.NewServer(lk, wirelink.ServerOptions{Logger: log.With("node", i)})
		if err != nil {
			return fail(err)
		}
		wss = append(wss, ws)
	}
	return lls, wss, nil
}

// listen creates a unix socket at path with mode 0600. A socket file left
// by a process that died is removed first; one that a live process
// answers on is an error, and so is a file that is not a socket.
func listen(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	return l, nil
}

// startFaults sets the faults the flags ask for: a seeded fraction of the
// nodes offline, a failure rate on every node, then the --faults file,
// which wins for the nodes it names.
func startFaults(n *simnet.Net, c *config) error {
	if c.offline < 0 || c.offline > 1 {
		return fmt.Errorf("--offline %v is not a fraction", c.offline)
	}
	rng := rand.New(rand.NewPCG(c.seed, 0x0ff1))
	for _, id := range n.Graph().Nodes() {
		if ours(n, id) {
			continue
		}
		f := simnet.Fault{FailRate: c.failRate, Offline: rng.Float64() < c.offline}
		if f == (simnet.Fault{}) {
			continue
		}
		if err := n.SetFault(id, f); err != nil {
			return fmt.Errorf("--offline/--fail-rate: %w", err)
		}
	}
	if c.faults == "" {
		return nil
	}
	raw, err := os.ReadFile(c.faults)
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	var byNode map[string]simnet.Fault
	if err := json.Unmarshal(raw, &byNode); err != nil {
		return fmt.Errorf("--faults %s: %w", c.faults, err)
	}
	for hexID, f := range byNode {
		id, err := graph.ParseNodeID(hexID)
		if err != nil {
			return fmt.Errorf("--faults %s: %w", c.faults, err)
		}
		if err := n.SetFault(id, f); err != nil {
			return fmt.Errorf("--faults %s: %w", c.faults, err)
		}
	}
	return nil
}

// ours says whether id is one of our nodes, which the random faults spare.
func ours(n *simnet.Net, id graph.NodeID) bool {
	for i := range n.Ours() {
		if n.SelfOf(i) == id {
			return true
		}
	}
	return false
}
