// Package regtest runs a real Lightning network on loopback: one btcd on
// regtest and N >= 5 lnd nodes (lnd v0.21.3-beta, built with the
// signrpc, walletrpc, chainrpc, invoicesrpc and routerrpc tags), each a
// process of its own with its pid file and log in the network directory.
// payd's lnd backend is tested against it; cmd/regtest starts one by hand.
//
// Build compiles btcd and btcctl (go install at BtcdVersion) and lnd and
// lncli (go build inside the module cache copy of lnd, GOFLAGS=-mod=readonly)
// once into a cache directory, keyed by version, tags and Go version.
// Up starts btcd with a mining address of a fixed key, mines until
// segwit is active, starts the lnd nodes in parallel, funds their wallets
// in one transaction from a mature coinbase, opens every channel (one
// batchopenchannel per funder), mines six blocks, sets the fees, and
// returns once the payer's graph (lncli describegraph) holds every
// channel with both policies. It writes Dir/network.json (Network).
// Down stops every process of a directory; Load reads network.json back.
//
// # Topology
//
// Node 0 (Payer) is payd's node; node 3 (Payee) is the one the tests pay.
// Three paths lead from the payer to the payee; the channels from the
// payer were opened by the payer (all balance outbound), and every other
// node can receive over the payer's channel to it:
//
//	                         cheap: 0 msat + 10 ppm, DRAINED
//	         ┌── node-1 (CheapHop) ─────────────────────┐
//	         │                                          │
//	node-0 ──┼── node-2 (ExpensiveHop) ─────────────────┼── node-3 (Payee)
//	(Payer)  │         expensive: 1000 msat + 1000 ppm  │
//	         └── node-4 (SmallHop) ─────────────────────┘
//	                   cheapest: 0 + 0, 25,000 sat only
//
// The channels:
//
//   - node-3→node-1 ("cheap-drained", ChannelSat) was opened by the payee,
//     so node-1, which forwards over it toward the payee, has no balance
//     on its side. It looks fine in the graph (capacity, both policies)
//     and it is the cheapest path that fits TestAmount, but a payment over
//     it fails at node-1 (failure_source_index 1) with
//     TEMPORARY_CHANNEL_FAILURE and a channel_update of that channel.
//   - node-2→node-3 ("expensive", ChannelSat) was opened by node-2: the
//     path where payments to the payee succeed, at 101,000 msat in fees
//     for TestAmount (1,000 msat over the cheap path).
//   - node-4→node-3 ("too-small", SmallChannelSat = 25,000 sat) has no fees
//     at all but cannot carry TestAmount (100,000 sat): route-finding must
//     leave it out by capacity.
//   - node-0→node-1, node-0→node-2, node-0→node-4 (ChannelSat each), and
//     node-0→node-k for every extra node k >= 5, carry lnd's default
//     policies; fees are charged only on the last hops above.
//
// Every policy set uses TimeLockDelta (40 blocks), so fees alone tell the
// paths apart. network.json lists each channel with name (ChanCheapDrained
// and the others; Network.Channel finds one), from (the funder),
// to, scid (Core Lightning's "BxTxO"), chan_id (lnd's number),
// channel_point, capacity_sat, forwarder with base_fee_msat and
// fee_rate_ppm, and a purpose line saying which path it is.
//
// lnd runs with --keep-failed-payment-attempts (payd must see every
// attempt), short gossip delays (--trickledelay=50,
// --gossip.sub-batch-delay=5ms) and a 100 ms DescribeGraph cache, on
// loopback ports free when Up ran, so several networks can run at once.
package regtest
