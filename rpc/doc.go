// Package rpc is payengine's JSON-RPC 2.0 front-end, framed as Core
// Lightning frames it on its unix socket: a stream of JSON objects in both
// directions (no newline framing), several requests per connection handled
// concurrently, answers matched by id and possibly out of order.
//
// It has three layers. Server is a small generic JSON-RPC server over a
// table of Commands; each Command lists its Params, which the binder fills
// from named (object) or positional (array) params with Core Lightning's
// rules and -32602 messages. New registers the CLN payment commands
// (getinfo, help, decodepay, getroute, sendpay, waitsendpay, pay,
// listsendpays, listpays, listpayments) over an *actors.Engine, with our
// node as the backend describes it (NodeInfo), and the backend's own
// commands (Options.Commands: the simnet-* helpers over a simulated
// network, from package simnetrpc; none over lnd), which the backend's
// package builds from this package's Command, Param and Parse* (rpc
// imports no backend). Client is the other end: one connection, many
// concurrent calls.
//
// Responses of pay, sendpay, waitsendpay, getroute, listsendpays, listpays
// and decodepay follow Core Lightning's JSON schemas (package clnschema);
// errors carry CLN's codes and data, with the routing failure object in the
// shape of the original man pages (spec section 3).
package rpc
