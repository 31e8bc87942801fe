package rpc

import (
	"encoding/json"
	"errors"
)

// What a backend's own commands (Options.Commands) are built from: the
// parsers of Core Lightning's param kinds, for their Params, and a server
// that carries them alone. A backend's package imports rpc, never the
// other way round.

// NewBare returns a server that carries only cmds: none of Core
// Lightning's commands, not even help. It is for a process that serves a
// backend's own commands and nothing else (simnetd's control socket). Of
// opts it reads MaxRequestBytes, MaxInFlight, WriteTimeout, IdleTimeout
// and Logger, with New's defaults; the caller's options are not changed.
func NewBare(opts Options, cmds ...Command) (*Server, error) {
	opts.EnsureDefaults()
	if opts.MaxRequestBytes < 0 || opts.MaxInFlight < 0 || opts.WriteTimeout < 0 || opts.IdleTimeout < 0 {
		return nil, errors.New("rpc: options: MaxRequestBytes, MaxInFlight, WriteTimeout and IdleTimeout must not be negative")
	}
	s := newServer(config{maxBytes: opts.MaxRequestBytes, maxInFlight: opts.MaxInFlight,
		writeTimeout: opts.WriteTimeout, idleTimeout: opts.IdleTimeout, log: opts.Logger})
	for _, c := range cmds {
		if err := s.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ParseString is CLN's param_string (a string, or a number as its text);
// Arg reads a string.
func ParseString(name string, raw json.RawMessage) (any, error) { return parseString(name, raw) }

// ParseMsatOrAny is CLN invoice's amount: a positive msat amount in
// ParseAmount's forms, or "any"; Arg reads a *graph.MilliSat, nil for
// "any".
func ParseMsatOrAny(name string, raw json.RawMessage) (any, error) { return parseMsatOrAny(name, raw) }

// ParseU32 is CLN's param_number: an integer that fits 32 bits; Arg reads
// a uint64.
func ParseU32(name string, raw json.RawMessage) (any, error) { return parseU32(name, raw) }

// ParsePositiveDouble is a finite number >= 0; Arg reads a float64.
func ParsePositiveDouble(name string, raw json.RawMessage) (any, error) {
	return parsePositiveDouble(name, raw)
}

// ParseBool is CLN's param_bool: true or false, bare or as a string; Arg
// reads a bool.
func ParseBool(name string, raw json.RawMessage) (any, error) { return parseBool(name, raw) }

// ParseHash is CLN's param_sha256 (32 bytes of hex); Arg reads a [32]byte.
func ParseHash(name string, raw json.RawMessage) (any, error) { return parseHash(name, raw) }

// ParsePubkey is CLN's param_node_id (a compressed key on secp256k1); Arg
// reads a graph.NodeID.
func ParsePubkey(name string, raw json.RawMessage) (any, error) { return parsePubkey(name, raw) }
