// Package simnet is payengine's simulated Lightning network. It takes a real
// channel graph (the mainnet snapshot, or any *graph.Graph) and a seed, and
// gives every node its own secp256k1 key, every channel a seeded split of its
// capacity between its two sides and 483 HTLC slots per direction, and adds
// our own node ("us") with channels to the best-connected nodes. Each remote
// node forwards exactly as a real one does: it peels its layer of a real
// Sphinx onion, checks the outgoing channel, fee, CLTV delta, expiry,
// htlc_minimum/htlc_maximum, balance and slots, and answers with real BOLT 4
// failure messages, carrying channel_updates signed with its key and
// encrypted back along the path; destinations issue real BOLT 11 invoices
// (regtest), check payment details and settle with the preimage, multi-part
// payments as BOLT 4's basic_mpp says (mpp.go). Balances
// move on settle and return on failure, and a block height and clock that
// the caller advances drive every expiry check. The engine reaches simnet only
// through a link.Link, so a real node backend can take its place; tests and
// benchmarks also read simnet's ground truth (delivered amounts, settlements,
// channel balances, HTLCs in flight), which a real payer cannot see.
//
// With Options.Ours, the network has several nodes of ours, as a fleet has:
// each with its own key, channels and link (LinkFor), and HTLC ids of its
// own; node 0 is the node of a one-node network, unchanged.
//
// A network lives in memory, or, with Options.Dir, is durable: what
// changes at run time is kept in a Pebble store in that directory with
// group-committed synced writes, and a restart continues the same network
// (invoices never repeat a preimage; an HTLC in flight at a kill resumes
// and gets exactly one outcome). durable.go says what is kept and when.
package simnet
