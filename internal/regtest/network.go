package regtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcutil"

	"github.com/payengine/payengine/internal/freeport"
)

// Options say where and how big a network Up starts.
type Options struct {
	// Dir is the network directory, created if needed; btcd's and each
	// lnd's directories, their logs, pid files and network.json live there.
	Dir string
	// Nodes is the number of lnd nodes; the default and minimum is 5.
	Nodes int
	// CacheDir holds the built binaries; DefaultCacheDir when empty.
	CacheDir string
	// Log gets progress lines; nil discards them.
	Log io.Writer
}

// Node is one lnd node. The JSON names are lncli's flags, so a script can
// run lncli --rpcserver .. --tlscertpath .. --macaroonpath .. against it.
type Node struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	PubKey       string `json:"pubkey"`
	RPCServer    string `json:"rpcserver"`
	TLSCertPath  string `json:"tlscertpath"`
	MacaroonPath string `json:"macaroonpath"`
	LndDir       string `json:"lnddir"`
	P2PAddr      string `json:"p2paddr"`
}

// Channel is one channel Up opened. From funded it, so at the start all
// its balance is on From's side; the fees are the policy set on the
// Forwarder's side (empty Forwarder: lnd's defaults on both sides).
type Channel struct {
	// Name says which channel of the topology it is (ChanCheapDrained...;
	// "payer-node-K" for the channel to extra node K).
	Name         string `json:"name"`
	From         string `json:"from"`
	To           string `json:"to"`
	SCID         string `json:"scid"`
	ChanID       uint64 `json:"chan_id,string"`
	ChannelPoint string `json:"channel_point"`
	CapacitySat  int64  `json:"capacity_sat"`
	Forwarder    string `json:"forwarder,omitempty"`
	BaseFeeMsat  int64  `json:"base_fee_msat"`
	FeeRatePPM   int64  `json:"fee_rate_ppm"`
	Purpose      string `json:"purpose"`
}

// Network is a running regtest network, as written to Dir/network.json.
type Network struct {
	Dir      string    `json:"dir"`
	LnCLI    string    `json:"lncli"`
	BtcCtl   string    `json:"btcctl"`
	Lnd      string    `json:"lnd"`
	Btcd     *Btcd     `json:"btcd"`
	Nodes    []Node    `json:"nodes"`
	Channels []Channel `json:"channels"`
}

// NetworkFile is the name of the description Up writes in Dir.
const NetworkFile = "network.json"

// Up builds the binaries if needed, starts btcd and o.Nodes lnd nodes on
// loopback ports free at the time, opens the channels of the package
// doc, and returns once the payer's graph holds every channel with both
// policies. It writes Dir/network.json. A network already in Dir is
// stopped and its state removed first. On error the processes it
// started are stopped.
func Up(ctx context.Context, o Options) (_ *Network, err error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Nodes < 5 {
		return nil, fmt.Errorf("regtest: %d nodes: the topology needs at least 5", o.Nodes)
	}
	if o.Dir == "" {
		return nil, errors.New("regtest: no network directory")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("regtest: network directory: %w", err)
	}
	start := time.Now()
	bins, err := Build(ctx, o.CacheDir, log)
	if err != nil {
		return nil, err
	}
	if err := Down(dir); err != nil {
		return nil, err
	}
	if err := clean(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if derr := Down(dir); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}()

	ports, err := freeport.Loopback(1 + 2*o.Nodes)
	if err != nil {
		return nil, err
	}
	_, minerAddr, err := minerKey()
	if err != nil {
		return nil, err
	}
	n := &Network{
		Dir: dir, LnCLI: bins.LnCLI, BtcCtl: bins.BtcCtl, Lnd: bins.Lnd,
		Btcd: &Btcd{
			RPCServer: ports[0], RPCUser: "payengine", RPCPass: "regtest",
			Dir: filepath.Join(dir, "btcd"), RPCCert: filepath.Join(dir, "btcd", "rpc.cert"),
			MiningAddr: minerAddr.EncodeAddress(),
		},
	}
	for i := 0; i < o.Nodes; i++ {
		lndDir := filepath.Join(dir, nodeName(i))
		n.Nodes = append(n.Nodes, Node{
			Name: nodeName(i), Role: roleName(i),
			RPCServer: ports[1+2*i], P2PAddr: ports[2+2*i], LndDir: lndDir,
			TLSCertPath:  filepath.Join(lndDir, "tls.cert"),
			MacaroonPath: filepath.Join(lndDir, "data", "chain", "bitcoin", "regtest", "admin.macaroon"),
		})
	}

	step := func(what string, t0 time.Time) {
		fmt.Fprintf(log, "%-40s %5.1fs (total %5.1fs)\n", what, time.Since(t0).Seconds(), time.Since(start).Seconds())
	}
	t0 := time.Now()
	if err := n.Btcd.start(ctx, bins.Btcd); err != nil {
		return nil, err
	}
	if err := n.Btcd.activateSegwit(ctx); err != nil {
		return nil, err
	}
	step("btcd up, segwit active", t0)

	t0 = time.Now()
	if err := n.each(o.Nodes, func(i int) error { return n.firstStart(ctx, i, log) }); err != nil {
		return nil, err
	}
	for i := range n.Nodes {
		var info struct {
			PubKey string `json:"identity_pubkey"`
		}
		if err := n.lncliJSON(ctx, i, &info, "getinfo"); err != nil {
			return nil, err
		}
		n.Nodes[i].PubKey = info.PubKey
	}
	step(fmt.Sprintf("%d lnd nodes up", o.Nodes), t0)

	t0 = time.Now()
	specs := topology(o.Nodes)
	if err := n.fundWallets(ctx, specs); err != nil {
		return nil, err
	}
	step("wallets funded", t0)

	t0 = time.Now()
	if err := n.openChannels(ctx, specs); err != nil {
		return nil, err
	}
	step("channels open and announced", t0)

	t0 = time.Now()
	if err := n.setPolicies(ctx, specs); err != nil {
		return nil, err
	}
	if err := n.waitGraph(ctx, Payer, 90*time.Second); err != nil {
		return nil, err
	}
	step("policies set, payer's graph complete", t0)
	if err := n.save(); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "network up in %s: %s\n", time.Since(start).Round(100*time.Millisecond), filepath.Join(dir, NetworkFile))
	return n, nil
}

// clean removes what a previous network left in dir (only the names Up
// writes), so a new chain starts from block 0. It refuses to remove those
// names when nothing shows they are a network's (btcd's config file,
// written first), so a mistyped --dir loses nothing.
func clean(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("regtest: network directory: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "node-*"))
	old = append(old, filepath.Join(dir, "btcd"), filepath.Join(dir, NetworkFile))
	if _, err := os.Stat(filepath.Join(dir, "btcd", "btcd.conf")); err != nil {
		for _, p := range old {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("regtest: %s exists and is not a regtest network's: choose another --dir", p)
			}
		}
	}
	for _, p := range old {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("regtest: remove old %s: %w", p, err)
		}
	}
	return nil
}

// each runs f for 0..n-1 concurrently and joins the errors.
func (n *Network) each(count int, f func(i int) error) error {
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lndArgs are node i's flags; the first, its directory, is the mark that
// tells its process from any other.
func (n *Network) lndArgs(i int) []string {
	nd := n.Nodes[i]
	return []string{
		"--lnddir=" + nd.LndDir,
		"--bitcoin.regtest",
		"--bitcoin.node=btcd",
		"--btcd.rpchost=" + n.Btcd.RPCServer,
		"--btcd.rpcuser=" + n.Btcd.RPCUser,
		"--btcd.rpcpass=" + n.Btcd.RPCPass,
		"--btcd.rpccert=" + n.Btcd.RPCCert,
		"--rpclisten=" + nd.RPCServer,
		"--listen=" + nd.P2PAddr,
		"--externalip=" + nd.P2PAddr,
		"--tlsextraip=127.0.0.1",
		"--alias=" + nd.Name,
		"--norest",
		"--noseedbackup",
		"--nobootstrap",
		"--debuglevel=info",
		// Payd must see every attempt of a payment that later succeeds.
		"--keep-failed-payment-attempts",
		// Fast gossip: announcements and updates reach every node in
		// milliseconds instead of lnd's 90 s trickle and 5 s batches.
		"--trickledelay=50",
		"--gossip.sub-batch-delay=5ms",
		"--historicalsyncinterval=10s",
		"--numgraphsyncpeers=" + strconv.Itoa(len(n.Nodes)),
		// DescribeGraph answers from a cache for 10 minutes by default.
		"--caches.rpc-graph-cache-duration=100ms",
		"--db.batch-commit-interval=10ms",
		"--bitcoin.defaultchanconfs=1",
		"--bitcoin.defaultremotedelay=4",
		"--protocol.wumbo-channels",
		"--maxpendingchannels=20",
		// A restarted node finds its peers again within seconds.
		"--minbackoff=1s",
		"--maxbackoff=2s",
	}
}

func (n *Network) pidFile(i int) string { return filepath.Join(n.Nodes[i].LndDir, "lnd.pid") }

// StartNode starts node i's lnd with its directory and flags and waits
// until its RPC answers, it is synced to the chain, and (for a node that
// has channels) every channel is active again.
func (n *Network) StartNode(ctx context.Context, i int) error {
	if i < 0 || i >= len(n.Nodes) {
		return fmt.Errorf("regtest: no node %d", i)
	}
	nd := n.Nodes[i]
	if err := os.MkdirAll(nd.LndDir, 0o755); err != nil {
		return fmt.Errorf("regtest: %s dir: %w", nd.Name, err)
	}
	if _, err := startProcess(n.Lnd, n.lndArgs(i), filepath.Join(nd.LndDir, "lnd.out"), n.pidFile(i)); err != nil {
		return fmt.Errorf("regtest: %s: %w", nd.Name, err)
	}
	running := func() error {
		if pid, ok := readPid(n.pidFile(i)); !ok || !alive(pid, n.lndArgs(i)) {
			return permanent{errStopped}
		}
		return nil
	}
	// A new node writes its admin macaroon once its wallet exists: wait
	// for the file first, since each lncli call costs CPU the wallet's
	// key derivation (scrypt) needs.
	err := poll(ctx, 90*time.Second, nd.Name+" macaroon", func() error {
		if err := running(); err != nil {
			return err
		}
		_, err := os.Stat(nd.MacaroonPath)
		return err
	})
	if err == nil {
		err = poll(ctx, 90*time.Second, nd.Name+" synced", func() error {
			if err := running(); err != nil {
				return err
			}
			var info struct {
				Synced bool  `json:"synced_to_chain"`
				Height int64 `json:"block_height"`
			}
			if err := n.lncliJSON(ctx, i, &info, "getinfo"); err != nil {
				return err
			}
			h, err := n.Btcd.height(ctx)
			if err != nil {
				return err
			}
			if !info.Synced || info.Height != h {
				return fmt.Errorf("at height %d of %d, synced_to_chain %v", info.Height, h, info.Synced)
			}
			return nil
		})
	}
	if err != nil {
		logFile := filepath.Join(nd.LndDir, "lnd.out")
		if errors.Is(err, errStopped) {
			// CI keeps no files: the reason must travel in the error.
			err = fmt.Errorf("%w; its last lines:\n%s", err, logTail(logFile, 12))
		}
		return fmt.Errorf("regtest: %s (log %s): %w", nd.Name, logFile, err)
	}
	return poll(ctx, 60*time.Second, nd.Name+" channels active", func() error {
		var info struct {
			Active   int `json:"num_active_channels"`
			Inactive int `json:"num_inactive_channels"`
		}
		if err := n.lncliJSON(ctx, i, &info, "getinfo"); err != nil {
			return err
		}
		if info.Inactive > 0 {
			return fmt.Errorf("%d channels inactive", info.Inactive)
		}
		return nil
	})
}

var errStopped = errors.New("lnd exited (see its lnd.out)")

// firstStart starts node i for the first time. Its ports were free when
// Up chose them, but another process (a network of another test binary,
// or any outgoing connection) may bind one before lnd does; lnd then
// exits, and the node is tried again on fresh ports. Later starts keep
// their ports: peers know them.
func (n *Network) firstStart(ctx context.Context, i int, log io.Writer) error {
	for try := 1; ; try++ {
		err := n.StartNode(ctx, i)
		if err == nil || try == 3 || !errors.Is(err, errStopped) ||
			!strings.Contains(logTail(filepath.Join(n.Nodes[i].LndDir, "lnd.out"), 40), "address already in use") {
			return err
		}
		ports, perr := freeport.Loopback(2)
		if perr != nil {
			return errors.Join(err, perr)
		}
		fmt.Fprintf(log, "%s: a port was taken (%s, %s); trying %s, %s\n", n.Nodes[i].Name,
			n.Nodes[i].RPCServer, n.Nodes[i].P2PAddr, ports[0], ports[1])
		n.Nodes[i].RPCServer, n.Nodes[i].P2PAddr = ports[0], ports[1]
	}
}

// logTail returns the last n lines of a log file, or why it has none.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StopNode stops node i's lnd (SIGTERM, SIGKILL after 20 s); its
// directory stays for StartNode.
func (n *Network) StopNode(ctx context.Context, i int) error {
	if i < 0 || i >= len(n.Nodes) {
		return fmt.Errorf("regtest: no node %d", i)
	}
	if err := stopProcess(n.pidFile(i), n.lndArgs(i)[0], 20*time.Second); err != nil {
		return fmt.Errorf("regtest: stop %s: %w", n.Nodes[i].Name, err)
	}
	return nil
}

// Lncli runs lncli against node i and returns its standard output; the
// error holds its standard error.
func (n *Network) Lncli(ctx context.Context, i int, args ...string) ([]byte, error) {
	if i < 0 || i >= len(n.Nodes) {
		return nil, fmt.Errorf("regtest: no node %d", i)
	}
	nd := n.Nodes[i]
	full := append([]string{"--rpcserver=" + nd.RPCServer, "--tlscertpath=" + nd.TLSCertPath,
		"--macaroonpath=" + nd.MacaroonPath, "--network=regtest"}, args...)
	cmd := exec.CommandContext(ctx, n.LnCLI, full...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("lncli %s on %s: %w: %s", strings.Join(args, " "), nd.Name, err,
			strings.TrimSpace(errOut.String()+" "+out.String()))
	}
	return out.Bytes(), nil
}

func (n *Network) lncliJSON(ctx context.Context, i int, v any, args ...string) error {
	out, err := n.Lncli(ctx, i, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("lncli %s on %s: %w", strings.Join(args, " "), n.Nodes[i].Name, err)
	}
	return nil
}

// Mine mines blocks and waits until every running lnd node has seen them.
func (n *Network) Mine(ctx context.Context, blocks int) error {
	if _, err := n.Btcd.generate(ctx, blocks); err != nil {
		return fmt.Errorf("regtest: mine: %w", err)
	}
	h, err := n.Btcd.height(ctx)
	if err != nil {
		return fmt.Errorf("regtest: mine: %w", err)
	}
	return n.each(len(n.Nodes), func(i int) error {
		if pid, ok := readPid(n.pidFile(i)); !ok || !alive(pid, n.lndArgs(i)) {
			return nil
		}
		return poll(ctx, 60*time.Second, n.Nodes[i].Name+" at height "+strconv.FormatInt(h, 10), func() error {
			var info struct {
				Synced bool  `json:"synced_to_chain"`
				Height int64 `json:"block_height"`
			}
			if err := n.lncliJSON(ctx, i, &info, "getinfo"); err != nil {
				return err
			}
			if info.Height < h || !info.Synced {
				return fmt.Errorf("at %d, synced %v", info.Height, info.Synced)
			}
			return nil
		})
	})
}

// fundWallets pays each funding node one output per channel it opens
// (capacity plus fees) and every node a spare output, in one transaction
// from a mature coinbase, and waits until the wallets see them confirmed.
func (n *Network) fundWallets(ctx context.Context, specs []chanSpec) error {
	const spare = btcutil.Amount(10_000_000)
	want := make([]btcutil.Amount, len(n.Nodes))
	for i := range want {
		want[i] = spare
	}
	perChan := map[int]int64{}
	for _, s := range specs {
		perChan[s.From] += s.Sat + 1_000_000
	}
	addrs := make([]string, len(n.Nodes))
	err := n.each(len(n.Nodes), func(i int) error {
		var a struct {
			Address string `json:"address"`
		}
		err := n.lncliJSON(ctx, i, &a, "newaddress", "p2wkh")
		addrs[i] = a.Address
		return err
	})
	if err != nil {
		return err
	}
	var outs []fundOut
	for i, addr := range addrs {
		outs = append(outs, fundOut{Addr: addr, Sat: spare})
		if s := perChan[i]; s > 0 {
			outs = append(outs, fundOut{Addr: addr, Sat: btcutil.Amount(s)})
			want[i] += btcutil.Amount(s)
		}
	}
	if _, err := n.Btcd.fund(ctx, 1, outs); err != nil {
		return fmt.Errorf("regtest: fund wallets: %w", err)
	}
	if err := n.Mine(ctx, 1); err != nil {
		return err
	}
	return n.each(len(n.Nodes), func(i int) error {
		return poll(ctx, 30*time.Second, n.Nodes[i].Name+" funds", func() error {
			var b struct {
				Confirmed int64 `json:"confirmed_balance,string"`
			}
			if err := n.lncliJSON(ctx, i, &b, "walletbalance"); err != nil {
				return err
			}
			if btcutil.Amount(b.Confirmed) < want[i] {
				return fmt.Errorf("confirmed %d of %d sat", b.Confirmed, want[i])
			}
			return nil
		})
	})
}

// openChannels connects each channel's ends, opens every channel with one
// batchopenchannel per funder (one funding transaction each, funders in
// parallel), mines six blocks so the channels are announced, and records
// them.
func (n *Network) openChannels(ctx context.Context, specs []chanSpec) error {
	type peerPair struct{ a, b int }
	seen := map[peerPair]bool{}
	byFunder := map[int][]chanSpec{}
	var funders []int
	for _, s := range specs {
		if len(byFunder[s.From]) == 0 {
			funders = append(funders, s.From)
		}
		byFunder[s.From] = append(byFunder[s.From], s)
		seen[peerPair{s.From, s.To}] = true
	}
	sort.Ints(funders)
	var pairs []peerPair
	for p := range seen {
		pairs = append(pairs, p)
	}
	err := n.each(len(pairs), func(k int) error {
		p := pairs[k]
		_, err := n.Lncli(ctx, p.a, "connect", n.Nodes[p.b].PubKey+"@"+n.Nodes[p.b].P2PAddr)
		if err != nil && !strings.Contains(err.Error(), "already connected") {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = n.each(len(funders), func(k int) error {
		from := funders[k]
		type batchChan struct {
			NodePubkey         string `json:"node_pubkey"`
			LocalFundingAmount int64  `json:"local_funding_amount"`
		}
		var batch []batchChan
		for _, s := range byFunder[from] {
			batch = append(batch, batchChan{NodePubkey: n.Nodes[s.To].PubKey, LocalFundingAmount: s.Sat})
		}
		js, err := json.Marshal(batch)
		if err != nil {
			return err
		}
		// A peer's connection may still be settling: retry while lnd says
		// so, and only then, since any other failure may come after the
		// funding transaction left.
		return poll(ctx, 30*time.Second, n.Nodes[from].Name+" batchopenchannel", func() error {
			_, err := n.Lncli(ctx, from, "batchopenchannel", "--sat_per_vbyte=2", string(js))
			if err != nil && !strings.Contains(err.Error(), "not online") && !strings.Contains(err.Error(), "not connected") {
				return permanent{err}
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	// Every funding transaction must be in the mempool before mining.
	if err := poll(ctx, 30*time.Second, "funding transactions in the mempool", func() error {
		ids, err := n.Btcd.mempool(ctx)
		if err != nil {
			return err
		}
		if len(ids) < len(funders) {
			return fmt.Errorf("%d of %d", len(ids), len(funders))
		}
		return nil
	}); err != nil {
		return err
	}
	if err := n.Mine(ctx, 6); err != nil {
		return err
	}
	for _, s := range specs {
		n.Channels = append(n.Channels, Channel{
			Name: s.Name, From: n.Nodes[s.From].Name, To: n.Nodes[s.To].Name, CapacitySat: s.Sat, Purpose: s.Purpose,
		})
	}
	// Each channel as its funder lists it, once active.
	return n.each(len(specs), func(k int) error {
		s := specs[k]
		return poll(ctx, 60*time.Second, "channel "+n.Channels[k].From+"-"+n.Channels[k].To+" active", func() error {
			var lc struct {
				Channels []struct {
					Active       bool   `json:"active"`
					RemotePubkey string `json:"remote_pubkey"`
					// lncli listchannels prints the short channel id as
					// scid (and chan_id as BOLT 2's 32-byte id).
					ChanID       uint64 `json:"scid,string"`
					ChannelPoint string `json:"channel_point"`
					Capacity     int64  `json:"capacity,string"`
				} `json:"channels"`
			}
			if err := n.lncliJSON(ctx, s.From, &lc, "listchannels"); err != nil {
				return err
			}
			for _, c := range lc.Channels {
				if c.RemotePubkey == n.Nodes[s.To].PubKey && c.Capacity == s.Sat {
					if !c.Active {
						return errors.New("not active yet")
					}
					n.Channels[k].ChanID, n.Channels[k].ChannelPoint, n.Channels[k].SCID = c.ChanID, c.ChannelPoint, SCID(c.ChanID)
					return nil
				}
			}
			return errors.New("not listed yet")
		})
	})
}

// setPolicies sets the fees of each path's last hop on the forwarding
// node's side.
func (n *Network) setPolicies(ctx context.Context, specs []chanSpec) error {
	return n.each(len(specs), func(k int) error {
		s := specs[k]
		if s.Fwd < 0 {
			return nil
		}
		n.Channels[k].Forwarder, n.Channels[k].BaseFeeMsat, n.Channels[k].FeeRatePPM = n.Nodes[s.Fwd].Name, s.Base, s.PPM
		// The node that did not open the channel has no graph edge for it
		// until the channel is announced: lnd then reports the update as
		// failed, and it is tried again.
		return poll(ctx, 60*time.Second, n.Nodes[s.Fwd].Name+" updatechanpolicy "+n.Channels[k].SCID, func() error {
			var r struct {
				Failed []json.RawMessage `json:"failed_updates"`
			}
			err := n.lncliJSON(ctx, s.Fwd, &r, "updatechanpolicy",
				"--base_fee_msat="+strconv.FormatInt(s.Base, 10),
				"--fee_rate_ppm="+strconv.FormatInt(s.PPM, 10),
				"--time_lock_delta="+strconv.Itoa(TimeLockDelta),
				"--chan_point="+n.Channels[k].ChannelPoint)
			if err != nil {
				return err
			}
			if len(r.Failed) > 0 {
				return fmt.Errorf("failed: %s", r.Failed[0])
			}
			return nil
		})
	})
}

// graphEdge is a channel of lncli describegraph.
type graphEdge struct {
	ChannelID uint64       `json:"channel_id,string"`
	Node1Pub  string       `json:"node1_pub"`
	Node2Pub  string       `json:"node2_pub"`
	Capacity  int64        `json:"capacity,string"`
	Node1     *graphPolicy `json:"node1_policy"`
	Node2     *graphPolicy `json:"node2_policy"`
}

type graphPolicy struct {
	TimeLockDelta int   `json:"time_lock_delta"`
	BaseMsat      int64 `json:"fee_base_msat,string"`
	RatePPM       int64 `json:"fee_rate_milli_msat,string"`
}

// WaitGraph waits until node i's graph holds every channel of the network
// with both policies, the set fees among them.
func (n *Network) WaitGraph(ctx context.Context, i int) error {
	return n.waitGraph(ctx, i, 90*time.Second)
}

func (n *Network) waitGraph(ctx context.Context, i int, d time.Duration) error {
	pub := map[string]string{}
	for _, nd := range n.Nodes {
		pub[nd.Name] = nd.PubKey
	}
	return poll(ctx, d, n.Nodes[i].Name+"'s graph", func() error {
		var g struct {
			Edges []graphEdge `json:"edges"`
		}
		if err := n.lncliJSON(ctx, i, &g, "describegraph"); err != nil {
			return err
		}
		edges := map[uint64]graphEdge{}
		for _, e := range g.Edges {
			edges[e.ChannelID] = e
		}
		for _, c := range n.Channels {
			e, ok := edges[c.ChanID]
			if !ok {
				return fmt.Errorf("channel %s (%s-%s) missing", c.SCID, c.From, c.To)
			}
			if e.Node1 == nil || e.Node2 == nil {
				return fmt.Errorf("channel %s (%s-%s) lacks a policy", c.SCID, c.From, c.To)
			}
			if c.Forwarder == "" {
				continue
			}
			p := e.Node1
			if pub[c.Forwarder] == e.Node2Pub {
				p = e.Node2
			}
			if p.BaseMsat != c.BaseFeeMsat || p.RatePPM != c.FeeRatePPM || p.TimeLockDelta != TimeLockDelta {
				return fmt.Errorf("channel %s: %s's policy is %d msat + %d ppm, delta %d, not yet the one set",
					c.SCID, c.Forwarder, p.BaseMsat, p.RatePPM, p.TimeLockDelta)
			}
		}
		return nil
	})
}

func (n *Network) save() error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return fmt.Errorf("regtest: network.json: %w", err)
	}
	tmp := filepath.Join(n.Dir, NetworkFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("regtest: network.json: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(n.Dir, NetworkFile)); err != nil {
		return fmt.Errorf("regtest: network.json: %w", err)
	}
	return nil
}

// Channel returns the channel of the given name (ChanCheapDrained...).
func (n *Network) Channel(name string) (Channel, error) {
	for _, c := range n.Channels {
		if c.Name == name {
			return c, nil
		}
	}
	return Channel{}, fmt.Errorf("regtest: no channel %q", name)
}

// Load reads the network Up wrote in dir.
func Load(dir string) (*Network, error) {
	b, err := os.ReadFile(filepath.Join(dir, NetworkFile))
	if err != nil {
		return nil, fmt.Errorf("regtest: %w", err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("regtest: %s: %w", filepath.Join(dir, NetworkFile), err)
	}
	if n.Btcd == nil || len(n.Nodes) == 0 {
		return nil, fmt.Errorf("regtest: %s describes no network", filepath.Join(dir, NetworkFile))
	}
	return &n, nil
}

// Down stops every process of the network in dir, found by its pid files
// (so it works when Up failed half-way and wrote no network.json): the
// lnd nodes together, then btcd. It leaves the files; calling it again,
// or on a directory with no network, does nothing.
func Down(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("regtest: network directory: %w", err)
	}
	pids, _ := filepath.Glob(filepath.Join(dir, "node-*", "lnd.pid"))
	errs := make([]error, len(pids))
	var wg sync.WaitGroup
	for k, p := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = stopProcess(p, "--lnddir="+filepath.Dir(p), 20*time.Second)
		}()
	}
	wg.Wait()
	b := &Btcd{Dir: filepath.Join(dir, "btcd")}
	errs = append(errs, stopProcess(b.pidFile(), b.args()[0], 10*time.Second))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("regtest: down %s: %w", dir, err)
	}
	return nil
}
