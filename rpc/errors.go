package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
)

// JSON-RPC 2.0 error codes, with Core Lightning's catch-all.
const (
	CodeInvalidRequest = -32600 // not a request object, no id, no method
	CodeMethodNotFound = -32601 // unknown or deprecated command
	CodeInvalidParams  = -32602 // params missing, unknown, duplicated or malformed
	CodeLightningd     = -1     // anything else (CLN's LIGHTNINGD)
)

// Error is a JSON-RPC error object. Handlers return it to choose the code;
// the Client returns it for every error answer. Data, when present, is
// marshalled as is by the server; the client leaves it as json.RawMessage.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// Error returns "rpc: <message> (code N)".
func (e *Error) Error() string { return fmt.Sprintf("rpc: %s (code %d)", e.Message, e.Code) }

// UnmarshalJSON keeps data as raw JSON, so a client can print it in the
// server's own field order or decode it into its own type.
func (e *Error) UnmarshalJSON(b []byte) error {
	var w struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.Code, e.Message, e.Data = w.Code, w.Message, nil
	if len(w.Data) > 0 && string(w.Data) != "null" {
		e.Data = w.Data
	}
	return nil
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("rpc: server closed")

func invalidParams(format string, a ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf(format, a...)}
}

// asError turns any handler error into an *Error: one already is; the rest
// are CLN's catch-all -1 with the error's text.
func asError(err error) *Error {
	var re *Error
	if errors.As(err, &re) {
		return re
	}
	return &Error{Code: CodeLightningd, Message: err.Error()}
}
