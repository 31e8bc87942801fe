package graph

import (
	"errors"
	"fmt"
)

// Hop is one channel of a route, in the shape of Core Lightning's getroute
// result: the node at the end of the channel, the channel and its direction,
// the amount that node must receive and the CLTV delta it must see.
type Hop struct {
	ID        NodeID   `json:"id"`
	Channel   SCID     `json:"channel"`
	Direction uint8    `json:"direction"`
	Amount    MilliSat `json:"amount_msat"`
	Delay     uint32   `json:"delay"`
	Style     string   `json:"style"`
}

// Route is a path from the payer to the destination, first hop first.
type Route []Hop

// Error is a routing error that carries the Core Lightning JSON-RPC code the
// front-end answers with. Compare with errors.Is against ErrNoRoute and
// ErrInvalidParams.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("graph: %s (code %d)", e.Message, e.Code) }

// Is matches any *Error with the same code, so callers can test the class
// with errors.Is(err, graph.ErrNoRoute).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// CLN JSON-RPC codes used by getroute.
const (
	CodeInvalidParams = -32602 // JSONRPC2_INVALID_PARAMS
	CodeRouteNotFound = 205    // PAY_ROUTE_NOT_FOUND
)

var (
	// ErrNoRoute is Core Lightning's 205 "Could not find a route".
	ErrNoRoute = &Error{Code: CodeRouteNotFound, Message: "Could not find a route"}
	// ErrInvalidParams is the class of -32602 errors (bad parameters).
	ErrInvalidParams = &Error{Code: CodeInvalidParams, Message: "invalid parameters"}
)
