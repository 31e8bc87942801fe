package regtest

import (
	"fmt"
	"strconv"

	"github.com/payengine/payengine/graph"
)

// Roles of the first five nodes (indices into Network.Nodes).
const (
	// Payer is payd's node: it opened every channel it has, so all its
	// liquidity is outbound.
	Payer = 0
	// CheapHop forwards on the cheap path Payer→CheapHop→Payee, whose
	// last channel is drained: CheapHop has nothing on its side.
	CheapHop = 1
	// ExpensiveHop forwards on the expensive path Payer→ExpensiveHop→Payee,
	// the one where payments to Payee succeed.
	ExpensiveHop = 2
	// Payee is the node the tests pay.
	Payee = 3
	// SmallHop forwards on the cheapest path Payer→SmallHop→Payee, whose
	// last channel is too small for TestAmount.
	SmallHop = 4
)

// Channel sizes and the amount tests pay.
const (
	// ChannelSat is the capacity of every channel but the small one.
	ChannelSat = 5_000_000
	// SmallChannelSat is the capacity of SmallHop→Payee: above lnd's
	// minimum channel size (20,000 sat), below TestAmount.
	SmallChannelSat = 25_000
	// TestAmount is what tests pay Payee: it fits every channel but the
	// small one, and is far below the drained channel's capacity, so the
	// drained channel looks usable in the graph.
	TestAmount graph.MilliSat = 100_000_000
)

// Names of the channels in Network.Channels (Network.Channel finds one).
const (
	ChanPayerCheap     = "payer-cheap"
	ChanPayerExpensive = "payer-expensive"
	ChanPayerSmall     = "payer-small"
	ChanCheapDrained   = "cheap-drained"
	ChanExpensive      = "expensive"
	ChanTooSmall       = "too-small"
)

// Fees set with lncli updatechanpolicy on the forwarding side of each
// path's last channel; every policy set uses TimeLockDelta, so fees alone
// tell the paths apart. For TestAmount the cheap path costs 1,000 msat and
// the expensive one 101,000 msat.
const (
	CheapBaseMsat     = 0
	CheapFeePPM       = 10
	ExpensiveBaseMsat = 1_000
	ExpensiveFeePPM   = 1_000
	SmallBaseMsat     = 0
	SmallFeePPM       = 0
	TimeLockDelta     = 40
)

// chanSpec is one channel the network opens: From funds it (and so holds
// all its balance), Fwd is the node whose forwarding policy is set (-1
// leaves lnd's defaults).
type chanSpec struct {
	Name      string
	From, To  int
	Sat       int64
	Fwd       int
	Base, PPM int64
	Purpose   string
}

// topology is the channel plan for n nodes (n >= 5): the three paths to
// Payee of the package doc, and one channel from Payer to each node past
// the fifth.
func topology(n int) []chanSpec {
	specs := []chanSpec{
		{From: Payer, To: CheapHop, Sat: ChannelSat, Fwd: -1,
			Name: ChanPayerCheap, Purpose: "payer to the cheap path's hop; all balance on the payer's side"},
		{From: Payer, To: ExpensiveHop, Sat: ChannelSat, Fwd: -1,
			Name: ChanPayerExpensive, Purpose: "payer to the expensive path's hop; all balance on the payer's side"},
		{From: Payer, To: SmallHop, Sat: ChannelSat, Fwd: -1,
			Name: ChanPayerSmall, Purpose: "payer to the small path's hop; all balance on the payer's side"},
		{From: Payee, To: CheapHop, Sat: ChannelSat, Fwd: CheapHop, Base: CheapBaseMsat, PPM: CheapFeePPM,
			Name: ChanCheapDrained, Purpose: "the cheap path's last hop, opened by the payee so the forwarding node (node-1) has no balance: " +
				"it looks fine in the graph but a payment over it fails at node-1 with TEMPORARY_CHANNEL_FAILURE"},
		{From: ExpensiveHop, To: Payee, Sat: ChannelSat, Fwd: ExpensiveHop, Base: ExpensiveBaseMsat, PPM: ExpensiveFeePPM,
			Name: ChanExpensive, Purpose: "the expensive path's last hop, liquid on node-2's side: payments to the payee succeed here"},
		{From: SmallHop, To: Payee, Sat: SmallChannelSat, Fwd: SmallHop, Base: SmallBaseMsat, PPM: SmallFeePPM,
			Name: ChanTooSmall, Purpose: "the cheapest path's last hop, capacity below the test amount: route-finding must avoid it by capacity"},
	}
	for i := 5; i < n; i++ {
		specs = append(specs, chanSpec{Name: "payer-" + nodeName(i), From: Payer, To: i, Sat: ChannelSat, Fwd: -1,
			Purpose: "payer to an extra receiver; all balance on the payer's side"})
	}
	return specs
}

// roleName names node i's role in network.json.
func roleName(i int) string {
	switch i {
	case Payer:
		return "payer"
	case CheapHop:
		return "cheap-hop"
	case ExpensiveHop:
		return "expensive-hop"
	case Payee:
		return "payee"
	case SmallHop:
		return "small-hop"
	}
	return "receiver"
}

func nodeName(i int) string { return "node-" + strconv.Itoa(i) }

// SCID turns lnd's numeric channel id into Core Lightning's
// "block x tx x output" form.
func SCID(chanID uint64) string {
	return fmt.Sprintf("%dx%dx%d", chanID>>40, (chanID>>16)&0xFFFFFF, chanID&0xFFFF)
}
