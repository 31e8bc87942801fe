// Command payd is the payengine daemon: the payment engine over its
// embedded simulated network, served on Core Lightning's JSON-RPC socket
// (<datadir>/lightning-rpc) and, if asked, over HTTP with a bearer token.
//
//	go run ./cmd/payd                      # sub300 network in ~/.payengine
//	go run ./cmd/payd --graph mainnet --http 127.0.0.1:9835
//	go run ./cmd/payd --simnet-addr /tmp/sim/simnet-link   # network in cmd/simnetd
//	go run ./cmd/payd --simnet-addr /tmp/sim/simnet-link-1 --simnet-node 1   # node 1 of simnetd --ours 2
//	go run ./cmd/payd --backend lnd --lnd.rpcserver localhost:10009 \
//	    --lnd.tlscertpath ~/.lnd/tls.cert --lnd.macaroonpath admin.macaroon --lnd.network regtest
//
// Every flag can also be set as an environment variable: --datadir as
// PAYD_DATADIR, --log-level as PAYD_LOG_LEVEL, --lnd.rpcserver as
// PAYD_LND_RPCSERVER, and so on; a flag given on the command line wins.
package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/clusterprovider"
	"github.com/payengine/payengine/cmd/internal/cli"
	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/fleet"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/lndnode"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
	"github.com/payengine/payengine/simnet/simnetrpc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// version is what getinfo reports.
const version = "payengine-0.5"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil))
}

// config is payd's flags.
type config struct {
	datadir, network, graph, latency, httpAddr, logLevel string
	simnetAddr                                           string
	seed                                                 uint64
	simnetNode                                           int
	httpRemote                                           bool
	backend                                              string
	lnd                                                  lndnode.Config
	// The fleet: with etcd set, payd is a member of the fleet named
	// cluster and claims each payment hash before paying it.
	cluster, etcd, clusterHost, role string
	clusterPort                      int
}

// parse reads flags, with PAYD_* environment variables as their defaults.
func parse(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("payd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home, _ := os.UserHomeDir()
	c := &config{}
	fs.StringVar(&c.datadir, "datadir", filepath.Join(home, ".payengine"), "data directory: ledger, the embedded network's state, RPC socket, HTTP token")
	fs.StringVar(&c.network, "network", "simnet", "network to pay on; only the embedded simnet for now")
	fs.StringVar(&c.graph, "graph", graphdata.Sub300, "channel graph of the simnet: sub300, mainnet, or a describegraph file")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the simnet: keys, balances, latency draws")
	fs.StringVar(&c.latency, "latency", "0", "per-hop delay in simnet: D, or D+J for D plus a uniform draw below J (e.g. 20ms+10ms)")
	fs.StringVar(&c.simnetAddr, "simnet-addr", "", "unix socket of a simnetd's link (its <dir>/simnet-link): pay over the network of that process, built from the same --graph and --seed, instead of the embedded one")
	fs.IntVar(&c.simnetNode, "simnet-node", 0, "which of the simnet's nodes of ours this payd is (simnetd --ours K: 0 to K-1, its link on <dir>/simnet-link-<i>, node 0 on simnet-link): its id, channels and link")
	fs.StringVar(&c.httpAddr, "http", "", "serve JSON-RPC (with the bearer token), /metrics and /healthz on this address; off when empty")
	fs.BoolVar(&c.httpRemote, "http-allow-remote", false, "allow --http on an address that is not loopback")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.backend, "backend", node.BackendSimnet, "what the engine pays over: simnet (the embedded network, or simnetd's with --simnet-addr) or lnd (a real lnd node, with the --lnd.* flags)")
	fs.StringVar(&c.lnd.RPCServer, "lnd.rpcserver", "", "with --backend lnd: lnd's gRPC host:port (lncli --rpcserver)")
	fs.StringVar(&c.lnd.TLSCertPath, "lnd.tlscertpath", "", "with --backend lnd: lnd's TLS certificate (lncli --tlscertpath)")
	fs.StringVar(&c.lnd.MacaroonPath, "lnd.macaroonpath", "", "with --backend lnd: admin.macaroon, or one baked with the permissions payd needs (lncli --macaroonpath)")
	fs.StringVar(&c.lnd.Network, "lnd.network", "mainnet", "with --backend lnd: lnd's network, mainnet, testnet, signet or regtest; invoices must be for it")
	fs.StringVar(&c.cluster, "cluster", "payengine", "with --etcd: the fleet's name; its members' claims on payment hashes live under /fleet/<name>/ in etcd")
	fs.StringVar(&c.etcd, "etcd", "", "etcd's client URLs, comma-separated: join the fleet (--cluster) as a member that claims every payment hash in etcd before paying it; a single node when empty")
	fs.StringVar(&c.clusterHost, "cluster-host", "127.0.0.1", "with --etcd: the host the fleet's gRPC listens on and advertises")
	fs.IntVar(&c.clusterPort, "cluster-port", 0, "with --etcd: the port of the fleet's gRPC (0: any free one)")
	fs.StringVar(&c.role, "role", "member", "with --etcd: member (a node with its ledger, hosting the grain kind pay.<node id>) or frontend (no node and no ledger: serves pay and the listings on its socket for the fleet's members)")
	if err := cli.Parse(fs, "PAYD", args, getenv); err != nil {
		return nil, err
	}
	if c.network != "simnet" {
		return nil, fmt.Errorf("--network %q: only the embedded simnet is supported (for a real network: --backend lnd --lnd.network)", c.network)
	}
	if c.simnetNode < 0 || c.simnetNode >= simnet.MaxOurs {
		return nil, fmt.Errorf("--simnet-node %d is not between 0 and %d", c.simnetNode, simnet.MaxOurs-1)
	}
	switch c.role {
	case "member":
	case "frontend":
		if c.etcd == "" {
			return nil, errors.New("--role frontend needs --etcd")
		}
	default:
		return nil, fmt.Errorf("--role %q: want member or frontend", c.role)
	}
	if c.clusterPort < 0 || c.clusterPort > 65535 {
		return nil, fmt.Errorf("--cluster-port %d is not a port", c.clusterPort)
	}
	if c.etcd != "" && (c.cluster == "" || strings.Contains(c.cluster, "/")) {
		return nil, fmt.Errorf("--cluster %q: want a name without /", c.cluster)
	}
	switch c.backend {
	case node.BackendSimnet:
	case node.BackendLND:
		if c.simnetAddr != "" {
			return nil, errors.New("--simnet-addr and --backend lnd exclude each other")
		}
		if c.simnetNode != 0 {
			return nil, errors.New("--simnet-node and --backend lnd exclude each other")
		}
	default:
		return nil, fmt.Errorf("--backend %q: want simnet or lnd", c.backend)
	}
	return c, nil
}

// run is payd until ctx ends (SIGINT or SIGTERM in main). ready, if not
// nil, is closed once the socket accepts connections. It returns the exit
// status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- struct{}) int {
	c, err := parse(args, getenv, stderr)
	return cli.Exit("payd", stderr, err, func() error { return serve(ctx, c, stdout, stderr, ready) })
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
	if c.httpAddr != "" && !c.httpRemote {
		if err := loopbackOnly(c.httpAddr); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}
	if c.role == "frontend" {
		return serveFrontend(ctx, c, log, stdout, ready)
	}
	start := time.Now()
	// The embedded network keeps its state next to the ledger, so that a
	// restart continues it; with --simnet-addr, simnetd keeps it.
	netDir := filepath.Join(c.datadir, node.SimnetStateName)
	if c.simnetAddr != "" {
		netDir = ""
	}
	ncfg := node.Config{Backend: c.backend, LND: c.lnd, DataDir: c.datadir, Graph: c.graph, Seed: c.seed,
		HopLatency: base, HopJitter: jitter, LinkAddr: c.simnetAddr, SimnetNode: c.simnetNode, NetDir: netDir, Logger: log, Metrics: m}
	if c.etcd != "" {
		cli, store, err := fleet.Dial(c.cluster, strings.Split(c.etcd, ","), 0)
		if err != nil {
			return err
		}
		defer cli.Close()
		ncfg.ClaimsFor = func(self graph.NodeID) actors.Claims {
			return &fleet.Claims{Store: store, Member: hex.EncodeToString(self[:])}
		}
	}
	nd, err := node.Start(ncfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := nd.Close(); err != nil {
			log.Error("closing the node", "err", err)
		}
	}()
	if nd.LND != nil {
		g := nd.LND.Graph()
		log.Info("engine started", "backend", "lnd", "lnd", c.lnd.RPCServer, "network", c.lnd.Network, "id", nd.LND.Self(),
			"nodes", g.NumNodes(), "channels", g.NumChannels(), "ours", len(nd.LND.Channels()), "took", time.Since(start).Round(time.Millisecond))
	} else {
		log.Info("engine started", "graph", c.graph, "nodes", nd.Net.Graph().NumNodes(), "channels", nd.Net.Graph().NumChannels(),
			"id", nd.Info.Self(), "simnet-node", c.simnetNode, "simnet", cmp.Or(c.simnetAddr, "embedded"), "took", time.Since(start).Round(time.Millisecond))
	}

	cmds := nd.Commands
	if c.simnetAddr != "" {
		cmds = simnetrpc.Redirect(cmds, filepath.Join(filepath.Dir(c.simnetAddr), node.SimnetRPCName))
	}
	srv, err := rpc.New(rpc.Options{Engine: nd.Engine, Node: nd.Info, Commands: cmds, Ledger: nd.Ledger, Version: version, Logger: log})
	if err != nil {
		return err
	}
	l, err := rpc.Listen(c.datadir)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(l) }()
	fmt.Fprintf(stdout, "payd: JSON-RPC on %s\n", l.Addr())

	var hs *http.Server
	if c.httpAddr != "" {
		token, err := rpc.LoadOrCreateToken(c.datadir)
		if err != nil {
			return err
		}
		hl, err := net.Listen("tcp", c.httpAddr)
		if err != nil {
			return fmt.Errorf("--http: %w", err)
		}
		// A slow client gets 10 s for its headers (at most 64 KiB: a bearer
		// token and a scraper's need a few hundred bytes) and a minute for
		// the whole request, body capped by the rpc server. No WriteTimeout:
		// it would cut a pay that takes long; the handler bounds writing
		// each answer instead (rpc.Options.WriteTimeout).
		hs = &http.Server{Handler: srv.HTTPHandler(token, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})),
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
			MaxHeaderBytes: 64 << 10}
		go func() { errs <- hs.Serve(hl) }()
		fmt.Fprintf(stdout, "payd: HTTP on http://%s (token in %s)\n", hl.Addr(), filepath.Join(c.datadir, rpc.TokenFile))
	}
	if c.etcd != "" {
		self := nd.Info.Self()
		m, err := fleet.JoinMember(ctx, fleet.MemberOptions{Node: hex.EncodeToString(self[:]), Socket: l.Addr().String(),
			Spendable: nd.Engine.Spendable, Cluster: clusterOptions(c, log)})
		if err != nil {
			return fmt.Errorf("joining the fleet: %w", err)
		}
		defer m.Close()
		log.Info("fleet member", "cluster", c.cluster, "kind", fleet.KindPrefix+hex.EncodeToString(self[:]))
	}
	if ready != nil {
		close(ready)
	}

	select {
	case <-ctx.Done():
		log.Info("stopping: letting requests under way finish")
	case err := <-errs:
		if err != nil && !errors.Is(err, rpc.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	// Stop taking requests, give those under way a while to answer, then
	// stop the engine: every write it made is in the ledger, and whatever
	// is in flight is picked up by the next start.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if hs != nil {
		hs.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// loopbackOnly refuses an HTTP address that is reachable from elsewhere.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--http %q is not a loopback address; give --http-allow-remote to serve it anyway", addr)
}

// clusterOptions are where a fleet process joins, from the flags.
func clusterOptions(c *config, log *slog.Logger) clusterprovider.Options {
	return clusterprovider.Options{Name: c.cluster, Host: c.clusterHost, Port: c.clusterPort, Logger: log,
		Etcd: clusterprovider.Config{Endpoints: strings.Split(c.etcd, ",")}}
}

// serveFrontend is payd --role frontend: no node and no ledger; it joins
// the fleet as a client and serves pay and the listings on its socket.
func serveFrontend(ctx context.Context, c *config, log *slog.Logger, stdout io.Writer, ready chan<- struct{}) error {
	network := htlc.Regtest
	if c.backend == node.BackendLND {
		n, err := htlc.ParseNetwork(c.lnd.Network)
		if err != nil {
			return fmt.Errorf("--lnd.network: %w", err)
		}
		network = n
	}
	cli, store, err := fleet.Dial(c.cluster, strings.Split(c.etcd, ","), 0)
	if err != nil {
		return err
	}
	defer cli.Close()
	fe, err := fleet.StartFrontend(ctx, fleet.FrontendOptions{Store: store, Network: network, Cluster: clusterOptions(c, log)})
	if err != nil {
		return err
	}
	defer fe.Close()
	if err := os.MkdirAll(c.datadir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	srv, err := rpc.NewBare(rpc.Options{Logger: log}, fe.Commands()...)
	if err != nil {
		return err
	}
	l, err := rpc.Listen(c.datadir)
	if err != nil {
		return err
	}
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(l) }()
	fmt.Fprintf(stdout, "payd: fleet front-end, JSON-RPC on %s\n", l.Addr())
	if ready != nil {
		close(ready)
	}
	select {
	case <-ctx.Done():
	case err := <-errs:
		if err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown", "err", err)
	}
	return nil
}
