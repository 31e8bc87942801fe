package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/rpc"
)

// simnetd --ours 2 and two payd processes, --simnet-node 0 on simnet-link
// and --simnet-node 1 on simnet-link-1: each payd is its own node (its own
// id, and routes that start on its own channels), and each pays an invoice
// of the same destination over its own link, which the network settles
// once.
func TestSimnetOursTwoPayd(t *testing.T) {
	bin := t.TempDir()
	build(t, bin, "simnetd", "../simnetd")
	build(t, bin, "payd", ".")
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	dir, err := os.MkdirTemp("", "ours")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	simDir := filepath.Join(dir, "sim")
	sim := startProc(t, filepath.Join(bin, "simnetd"), filepath.Join(dir, "simnetd.log"),
		"--dir", simDir, "--graph", "sub300", "--seed", "1", "--ours", "2", "--log-level", "warn")
	t.Cleanup(func() { sim.stop(t) })
	ctl := waitRPC(t, sim, filepath.Join(simDir, node.SimnetRPCName), "simnet-listnodes")
	defer ctl.Close()

	clients := make([]*rpc.Client, 2)
	ids := make([]string, 2)
	for i := range 2 {
		dataDir := filepath.Join(dir, fmt.Sprint("payd", i))
		pd := startProc(t, filepath.Join(bin, "payd"), dataDir+".log",
			"--datadir", dataDir, "--simnet-addr", filepath.Join(simDir, node.SimnetLinkNameOf(i)),
			"--simnet-node", fmt.Sprint(i), "--graph", "sub300", "--seed", "1", "--log-level", "warn")
		t.Cleanup(func() { pd.stop(t) })
		clients[i] = waitRPC(t, pd, filepath.Join(dataDir, rpc.SocketName), "getinfo")
		defer clients[i].Close()
		var info struct {
			ID    string `json:"id"`
			Alias string `json:"alias"`
		}
		call(t, clients[i], "getinfo", nil, &info)
		ids[i] = info.ID
		if want := [2]string{"payengine", "payengine-1"}[i]; info.Alias != want {
			t.Fatalf("payd %d's alias %q, want %q", i, info.Alias, want)
		}
	}
	if ids[0] == ids[1] {
		t.Fatalf("both payd are node %s", ids[0])
	}
	// simnetd's network has both nodes of ours.
	var nodes struct {
		Nodes []struct {
			ID    string `json:"id"`
			Alias string `json:"alias"`
		} `json:"nodes"`
	}
	call(t, ctl, "simnet-listnodes", nil, &nodes)
	found := 0
	for _, n := range nodes.Nodes {
		if n.ID == ids[0] || n.ID == ids[1] {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("simnetd lists %d of our 2 nodes", found)
	}

	// A destination both reach over two hops or more; node 1's first hop
	// is on its own channels, one block after node 0's.
	type hop struct {
		ID      string `json:"id"`
		Channel string `json:"channel"`
	}
	var dest string
	var first [2]graph.SCID
	for _, n := range nodes.Nodes {
		if n.ID == ids[0] || n.ID == ids[1] {
			continue
		}
		ok := true
		for i, c := range clients {
			var r struct {
				Route []hop `json:"route"`
			}
			if tryCall(c, "getroute", map[string]any{"id": n.ID, "amount_msat": 100_000, "riskfactor": 1}, &r) != nil || len(r.Route) < 2 {
				ok = false
				break
			}
			scid, err := graph.ParseSCID(r.Route[0].Channel)
			if err != nil {
				t.Fatal(err)
			}
			first[i] = scid
		}
		if ok {
			dest = n.ID
			break
		}
	}
	if dest == "" {
		t.Fatal("no destination both nodes reach over two hops")
	}
	if first[1].Block() != first[0].Block()+1 {
		t.Fatalf("node 0's route starts on %s, node 1's on %s: not each on its own channels", first[0], first[1])
	}

	for i, c := range clients {
		var inv struct {
			Bolt11      string `json:"bolt11"`
			PaymentHash string `json:"payment_hash"`
		}
		call(t, ctl, "simnet-invoice", map[string]any{"node": dest, "amount_msat": 70_000}, &inv)
		var paid struct {
			Status      string `json:"status"`
			Destination string `json:"destination"`
			Preimage    string `json:"payment_preimage"`
		}
		call(t, c, "pay", map[string]any{"bolt11": inv.Bolt11}, &paid)
		if paid.Status != "complete" || paid.Destination != dest || paid.Preimage == "" {
			t.Fatalf("payd %d: pay %+v", i, paid)
		}
		var truth struct {
			Settlements   int    `json:"settlements"`
			DeliveredMsat uint64 `json:"delivered_msat"`
			HTLCs         int    `json:"htlcs"`
		}
		call(t, ctl, "simnet-truth", map[string]any{"payment_hash": inv.PaymentHash}, &truth)
		if truth.Settlements != 1 || truth.DeliveredMsat != 70_000 || truth.HTLCs < 1 {
			t.Fatalf("payd %d: simnetd's truth %+v", i, truth)
		}
	}
	if log, _ := os.ReadFile(sim.log); strings.Contains(string(log), "level=ERROR") {
		t.Fatalf("simnetd logged errors:\n%s", log)
	}
}
