// Package lndnode is the engine's backend over a real lnd node, reached
// over gRPC: our node id, the channel graph (DescribeGraph, then
// SubscribeChannelGraph), our channels (ListChannels and
// SubscribeChannelEvents), the block height (block epochs), and a
// link.Link that carries each HTLC with routerrpc.SendToRouteV2: lnd builds
// the onion from the route the engine chose and returns the failure
// decoded. The connection (TLS, macaroon, version and build-tag checks) is
// lndclient's.
package lndnode

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightninglabs/lndclient"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Config says which lnd to use, with lncli's names for the same things.
type Config struct {
	// RPCServer is lnd's gRPC address, host:port (lncli --rpcserver).
	RPCServer string
	// TLSCertPath is lnd's tls.cert (lncli --tlscertpath).
	TLSCertPath string
	// MacaroonPath is a macaroon with the permissions payd needs: admin,
	// or one baked with them (lncli --macaroonpath).
	MacaroonPath string
	// Network is lnd's network: mainnet, testnet, signet, regtest.
	Network string
	// ConnectTimeout bounds the first connection and lnd's checks;
	// default 30 s.
	ConnectTimeout time.Duration
	// Retry is how long to wait before calling lnd again after it failed
	// to answer; default 1 s.
	Retry time.Duration
	// Logger receives the backend's log (nil: discard).
	Logger *slog.Logger
}

// Channel is one channel of ours as the engine takes it.
type Channel struct {
	SCID      graph.SCID
	Spendable graph.MilliSat
	MaxHTLCs  int
}

// Sink receives the backend's changes while the engine runs
// (actors.Engine, through an adapter).
type Sink interface {
	SetGraph(*graph.Graph)
	AddChannel(Channel)
	RemoveChannel(graph.SCID)
	// SetSpendable: what a channel can send changed (payments received
	// too move it).
	SetSpendable(graph.SCID, graph.MilliSat)
}

// Backend is a connected lnd. Its methods are safe for concurrent use.
type Backend struct {
	cfg     Config
	log     *slog.Logger
	svc     *lndclient.GrpcLndServices
	ln      lnrpc.LightningClient
	router  routerrpc.RouterClient
	mac     string // hex macaroon, sent with every raw call
	self    graph.NodeID
	alias   string
	network htlc.Network
	height  atomic.Uint32
	up      atomic.Bool // lnd answered the last call

	ctx    context.Context // ends at Close: every goroutine's
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	mu     sync.Mutex
	g      *graph.Graph
	chans  map[graph.SCID]Channel
	peers  map[graph.SCID]graph.NodeID
	active map[graph.SCID]bool   // lnd says the channel can carry HTLCs now
	points map[string]graph.SCID // channel point "txid:index" to scid
	sink   Sink
}

// cleanNetworks are the names --lnd.network takes, with htlc's and
// lndclient's name for each.
var cleanNetworks = map[string]struct {
	htlc htlc.Network
	lnd  lndclient.Network
}{
	"mainnet": {htlc.Mainnet, lndclient.NetworkMainnet},
	"bitcoin": {htlc.Mainnet, lndclient.NetworkMainnet},
	"testnet": {htlc.Testnet, lndclient.NetworkTestnet},
	"signet":  {htlc.Signet, lndclient.NetworkSignet},
	"regtest": {htlc.Regtest, lndclient.NetworkRegtest},
}

// connectHint names the likely cause of a failed connection in the
// flags' terms, ahead of lndclient's message (which, for a refused
// connection or a wrong certificate, speaks of lnd's version).
func connectHint(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"), strings.Contains(s, "no such host"), strings.Contains(s, "i/o timeout"):
		return "cannot reach lnd (is it running, and is --lnd.rpcserver its gRPC address?): "
	case strings.Contains(s, "x509"), strings.Contains(s, "authentication handshake failed"):
		return "TLS failed (is --lnd.tlscertpath this lnd's tls.cert?): "
	case strings.Contains(s, "verification failed"), strings.Contains(s, "macaroon"):
		return "lnd refused the macaroon (is --lnd.macaroonpath this lnd's, with the permissions payd needs?): "
	case strings.Contains(s, "network mismatch"):
		return "wrong network (--lnd.network): "
	case strings.Contains(s, "build tags"), strings.Contains(s, "version"):
		return "lnd is too old or lacks a build tag payd needs: "
	}
	return ""
}

// check reports every problem of the configuration in one error.
func (c *Config) check() error {
	var errs []error
	if c.RPCServer == "" {
		errs = append(errs, errors.New("--lnd.rpcserver is required (lnd's gRPC host:port, e.g. localhost:10009)"))
	}
	for flag, path := range map[string]string{"--lnd.tlscertpath": c.TLSCertPath, "--lnd.macaroonpath": c.MacaroonPath} {
		if path == "" {
			errs = append(errs, fmt.Errorf("%s is required", flag))
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
		}
	}
	if _, ok := cleanNetworks[c.Network]; !ok {
		errs = append(errs, fmt.Errorf("--lnd.network %q: want mainnet, testnet, signet or regtest", c.Network))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lndnode: %w", err)
	}
	return nil
}

// Connect connects to lnd, checks its version, build tags and network
// (lndclient's checks), waits for it to be synced to the chain (logging
// "waiting for lnd to sync"), and loads the graph and our channels. The
// backend then follows lnd's changes until Close.
func Connect(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	macBytes, err := os.ReadFile(cfg.MacaroonPath)
	if err != nil {
		return nil, fmt.Errorf("lndnode: --lnd.macaroonpath: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	svc, err := lndclient.NewLndServices(&lndclient.LndServicesConfig{
		LndAddress:         cfg.RPCServer,
		Network:            cleanNetworks[cfg.Network].lnd,
		CustomMacaroonPath: cfg.MacaroonPath,
		TLSPath:            cfg.TLSCertPath,
		CallerCtx:          cctx,
		RPCTimeout:         cfg.ConnectTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("lndnode: lnd at %s: %s%w", cfg.RPCServer, connectHint(err), err)
	}
	b := &Backend{cfg: cfg, log: cfg.Logger.With("lnd", cfg.RPCServer), svc: svc, ln: lnrpc.NewLightningClient(svc.ClientConn),
		router: routerrpc.NewRouterClient(svc.ClientConn), mac: hex.EncodeToString(macBytes), self: graph.NodeID(svc.NodePubkey),
		alias: svc.NodeAlias, network: cleanNetworks[cfg.Network].htlc, chans: map[graph.SCID]Channel{}, peers: map[graph.SCID]graph.NodeID{},
		active: map[graph.SCID]bool{}, points: map[string]graph.SCID{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.up.Store(true)
	if err := b.start(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// start waits for lnd to sync, loads the graph and channels with their
// subscriptions open first, and starts following them.
func (b *Backend) start(ctx context.Context) error {
	if err := b.waitSynced(ctx); err != nil {
		return err
	}
	gs, err := b.ln.SubscribeChannelGraph(b.call(b.ctx), &lnrpc.GraphTopologySubscription{})
	if err != nil {
		return fmt.Errorf("lndnode: subscribe to the channel graph: %w", err)
	}
	m := newGraphModel()
	if err := b.loadGraph(ctx, m); err != nil {
		return err
	}
	cs, err := b.ln.SubscribeChannelEvents(b.call(b.ctx), &lnrpc.ChannelEventSubscription{})
	if err != nil {
		return fmt.Errorf("lndnode: subscribe to channel events: %w", err)
	}
	if err := b.loadChannels(ctx); err != nil {
		return err
	}
	b.wg.Add(4)
	go b.followGraph(m, gs)
	go b.followChannels(cs)
	go b.followBlocks()
	go b.watch()
	return nil
}

// call is ctx with the macaroon lnd checks on raw gRPC calls.
func (b *Backend) call(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "macaroon", b.mac)
}

// waitSynced returns once lnd says it is synced to the chain, logging
// every 10 s while it waits.
func (b *Backend) waitSynced(ctx context.Context) error {
	var last time.Time
	for {
		info, err := b.ln.GetInfo(b.call(ctx), &lnrpc.GetInfoRequest{})
		if err != nil {
			return fmt.Errorf("lndnode: getinfo: %w", err)
		}
		b.height.Store(info.BlockHeight)
		if info.SyncedToChain {
			return nil
		}
		if time.Since(last) >= 10*time.Second {
			b.log.Info("waiting for lnd to sync to the chain", "height", info.BlockHeight)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lndnode: waiting for lnd to sync: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// loadGraph reads lnd's whole graph (private channels included) into m and
// makes the current snapshot of it.
func (b *Backend) loadGraph(ctx context.Context, m *graphModel) error {
	dg, err := b.ln.DescribeGraph(b.call(ctx), &lnrpc.ChannelGraphRequest{IncludeUnannounced: true})
	if err != nil {
		return fmt.Errorf("lndnode: describegraph: %w", err)
	}
	if n := m.load(dg); n > 0 {
		b.log.Warn("describegraph: edges with unreadable node ids skipped", "count", n)
	}
	g, err := m.build()
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.g = g
	sink := b.sink
	b.mu.Unlock()
	if sink != nil {
		sink.SetGraph(g)
	}
	return nil
}

// loadChannels reads our channels and brings the engine's set in line:
// new ones added, closed ones removed.
func (b *Backend) loadChannels(ctx context.Context) error {
	lc, err := b.ln.ListChannels(b.call(ctx), &lnrpc.ListChannelsRequest{})
	if err != nil {
		return fmt.Errorf("lndnode: listchannels: %w", err)
	}
	seen := map[graph.SCID]bool{}
	for _, c := range lc.Channels {
		seen[graph.SCID(c.ChanId)] = true
		b.addChannel(c)
	}
	b.mu.Lock()
	var gone []graph.SCID
	for s := range b.chans {
		if !seen[s] {
			gone = append(gone, s)
		}
	}
	b.mu.Unlock()
	for _, s := range gone {
		b.removeChannel(s)
	}
	return nil
}

func (b *Backend) addChannel(c *lnrpc.Channel) {
	ch := Channel{SCID: graph.SCID(c.ChanId), Spendable: spendable(c), MaxHTLCs: slots(c)}
	peer, _ := nodeID(c.RemotePubkey)
	b.mu.Lock()
	old, had := b.chans[ch.SCID]
	b.chans[ch.SCID], b.peers[ch.SCID] = ch, peer
	b.active[ch.SCID], b.points[c.ChannelPoint] = c.Active, ch.SCID
	sink := b.sink
	b.mu.Unlock()
	switch {
	case !had:
		b.log.Debug("channel", "scid", ch.SCID, "spendable", ch.Spendable)
		if sink != nil {
			sink.AddChannel(ch)
		}
	case old.Spendable != ch.Spendable && sink != nil:
		sink.SetSpendable(ch.SCID, ch.Spendable)
	}
}

func (b *Backend) removeChannel(s graph.SCID) {
	b.mu.Lock()
	_, had := b.chans[s]
	delete(b.chans, s)
	delete(b.peers, s)
	delete(b.active, s)
	sink := b.sink
	b.mu.Unlock()
	if had && sink != nil {
		b.log.Info("channel closed", "scid", s)
		sink.RemoveChannel(s)
	}
}

// Follow hands the backend's changes to sink from now on, starting with
// the current graph and channels if they changed since they were read.
func (b *Backend) Follow(sink Sink) {
	b.mu.Lock()
	b.sink = sink
	g := b.g
	chans := make([]Channel, 0, len(b.chans))
	for _, c := range b.chans {
		chans = append(chans, c)
	}
	b.mu.Unlock()
	sink.SetGraph(g)
	for _, c := range chans {
		sink.AddChannel(c)
	}
}

// rebuildDelay gathers graph updates for this long before a new snapshot.
const rebuildDelay = 200 * time.Millisecond

// followGraph applies the graph subscription's updates to m, and makes a
// new snapshot after each burst. When the stream breaks (lnd went away) it
// opens a new one and reloads the whole graph.
func (b *Backend) followGraph(m *graphModel, s lnrpc.Lightning_SubscribeChannelGraphClient) {
	defer b.wg.Done()
	updates := make(chan *lnrpc.GraphTopologyUpdate, 64)
	for {
		errc := make(chan error, 1)
		go func() {
			for {
				u, err := s.Recv()
				if err != nil {
					errc <- err
					return
				}
				select {
				case updates <- u:
				case <-b.ctx.Done():
					return
				}
			}
		}()
		var timer <-chan time.Time
		// The server subscribes some time after the stream opens: an
		// update in between is not sent. A full reload shortly after,
		// and then now and then, makes up for it.
		reload := time.After(5 * time.Second)
	recv:
		for {
			select {
			case <-b.ctx.Done():
				return
			case <-reload:
				reload = time.After(10 * time.Minute)
				if err := b.loadGraph(b.ctx, m); err != nil {
					b.log.Warn("graph reload", "err", err)
				}
			case u := <-updates:
				b.log.Debug("graph update", "nodes", len(u.NodeUpdates), "channels", len(u.ChannelUpdates), "closed", len(u.ClosedChans))
				if m.apply(u) && timer == nil {
					timer = time.After(rebuildDelay)
				}
			case <-timer:
				timer = nil
				b.publish(m)
			case err := <-errc:
				b.log.Warn("channel graph subscription ended; resubscribing", "err", err)
				break recv
			}
		}
		for {
			if !b.sleep() {
				return
			}
			var err error
			if s, err = b.ln.SubscribeChannelGraph(b.call(b.ctx), &lnrpc.GraphTopologySubscription{}); err == nil {
				if err = b.loadGraph(b.ctx, m); err == nil {
					break
				}
			}
			b.log.Debug("channel graph: lnd not back yet", "err", err)
		}
	}
}

// publish makes a snapshot of m and hands it to the sink.
func (b *Backend) publish(m *graphModel) {
	g, err := m.build()
	if err != nil {
		b.log.Error("graph update", "err", err)
		return
	}
	b.mu.Lock()
	b.g = g
	sink := b.sink
	b.mu.Unlock()
	if sink != nil {
		sink.SetGraph(g)
	}
}

// followChannels adds and removes our channels as lnd opens and closes
// them; after a break it lists them again.
func (b *Backend) followChannels(s lnrpc.Lightning_SubscribeChannelEventsClient) {
	defer b.wg.Done()
	for {
		for {
			ev, err := s.Recv()
			if err != nil {
				if b.ctx.Err() == nil {
					b.log.Warn("channel event subscription ended; resubscribing", "err", err)
				}
				break
			}
			switch ev.Type {
			case lnrpc.ChannelEventUpdate_OPEN_CHANNEL:
				if c := ev.GetOpenChannel(); c != nil {
					b.addChannel(c)
				}
			case lnrpc.ChannelEventUpdate_CLOSED_CHANNEL:
				if c := ev.GetClosedChannel(); c != nil {
					b.removeChannel(graph.SCID(c.ChanId))
				}
			case lnrpc.ChannelEventUpdate_ACTIVE_CHANNEL:
				b.setActive(ev.GetActiveChannel(), true)
			case lnrpc.ChannelEventUpdate_INACTIVE_CHANNEL:
				b.setActive(ev.GetInactiveChannel(), false)
			}
		}
		for {
			if !b.sleep() {
				return
			}
			var err error
			if s, err = b.ln.SubscribeChannelEvents(b.call(b.ctx), &lnrpc.ChannelEventSubscription{}); err == nil {
				if err = b.loadChannels(b.ctx); err == nil {
					break
				}
			}
			b.log.Debug("channels: lnd not back yet", "err", err)
		}
	}
}

// setActive records that a channel became active or inactive (its peer
// connected or went away).
func (b *Backend) setActive(p *lnrpc.ChannelPoint, active bool) {
	if p == nil {
		return
	}
	txid := p.GetFundingTxidStr()
	if raw := p.GetFundingTxidBytes(); raw != nil {
		h, err := chainhash.NewHash(raw)
		if err != nil {
			return
		}
		txid = h.String()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.points[fmt.Sprintf("%s:%d", txid, p.OutputIndex)]; ok {
		b.active[s] = active
	}
}

// ready reports whether lnd answers and the channel can carry an HTLC.
func (b *Backend) ready(s graph.SCID) bool {
	if !b.up.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active[s]
}

// readyWait is how long an HTLC waits for lnd and its channel to be ready
// (lnd restarting, the peer reconnecting) before it is sent anyway, and
// lnd's refusal, if any, is the answer.
const readyWait = 30 * time.Second

// waitReady waits until lnd answers and the channel is active, at most
// readyWait.
func (b *Backend) waitReady(s graph.SCID) {
	deadline := time.Now().Add(readyWait)
	for !b.ready(s) && time.Now().Before(deadline) && b.ctx.Err() == nil {
		b.sleepFor(100 * time.Millisecond)
	}
}

// followBlocks keeps the height current from lnd's block epochs.
func (b *Backend) followBlocks() {
	defer b.wg.Done()
	for {
		blocks, errs, err := b.svc.ChainNotifier.RegisterBlockEpochNtfn(b.ctx)
		if err == nil {
		loop:
			for {
				select {
				case h := <-blocks:
					b.height.Store(uint32(h))
				case err = <-errs:
					break loop
				case <-b.ctx.Done():
					return
				}
			}
		}
		if b.ctx.Err() != nil {
			return
		}
		b.log.Debug("block epochs: resubscribing", "err", err)
		if !b.sleep() {
			return
		}
	}
}

// watch asks lnd for its info every few seconds, and logs when it goes
// away and comes back.
func (b *Backend) watch() {
	defer b.wg.Done()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		info, err := b.ln.GetInfo(b.call(ctx), &lnrpc.GetInfoRequest{})
		cancel()
		switch {
		case err != nil && b.up.Swap(false):
			b.log.Error("lnd is unreachable; payments wait for it", "err", err)
		case err == nil:
			if !b.up.Swap(true) {
				b.log.Info("lnd is back", "height", info.BlockHeight)
			}
			if info.BlockHeight > b.height.Load() {
				b.height.Store(info.BlockHeight)
			}
			// Balances move with payments received and HTLCs resolved:
			// the engine's view follows lnd's.
			if err := b.loadChannels(b.ctx); err != nil {
				b.log.Debug("refreshing channels", "err", err)
			}
		}
	}
}

// sleep waits Config.Retry; false if the backend closed meanwhile.
func (b *Backend) sleep() bool {
	select {
	case <-b.ctx.Done():
		return false
	case <-time.After(b.cfg.Retry):
		return true
	}
}

// transient reports whether a gRPC error means lnd could not be asked (it
// is away, restarting, or the call was cut), not that it answered no.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.Internal:
		return true
	}
	return false
}

// Self is our node's id: lnd's identity key.
func (b *Backend) Self() graph.NodeID { return b.self }

// Alias is lnd's alias.
func (b *Backend) Alias() string { return b.alias }

// Network is the network of the invoices payd pays through this lnd.
func (b *Backend) Network() htlc.Network { return b.network }

// Height is lnd's block height.
func (b *Backend) Height() uint32 { return b.height.Load() }

// Graph is the current snapshot of lnd's graph.
func (b *Backend) Graph() *graph.Graph {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.g
}

// Channels are our channels now.
func (b *Backend) Channels() []Channel {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Channel, 0, len(b.chans))
	for _, c := range b.chans {
		out = append(out, c)
	}
	return out
}

// Peers is how many distinct nodes our channels go to.
func (b *Backend) Peers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[graph.NodeID]bool{}
	for _, p := range b.peers {
		seen[p] = true
	}
	return len(seen)
}

// Close stops following lnd and closes the connection. HTLCs in flight
// stay in lnd; the ledger has them, and the next start finds them again.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.cancel()
	b.wg.Wait()
	b.svc.Close()
	return nil
}
