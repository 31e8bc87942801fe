package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// Client calls a server over one stream connection. Calls may be made from
// many goroutines at once: each gets its own id and the answers, in
// whatever order they come, are matched back by id.
type Client struct {
	rw  io.ReadWriteCloser
	wmu sync.Mutex // one request written at a time

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan callResult
	err     error // why the connection ended; set once
	done    chan struct{}
}

type callResult struct {
	result json.RawMessage
	err    error
}

// Dial connects to a server's unix socket.
func Dial(socketPath string) (*Client, error) {
	c, err := net.Dial("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("rpc: dial %s: %w", socketPath, err)
	}
	return NewClient(c), nil
}

// NewClient speaks JSON-RPC over an open connection, which it owns.
func NewClient(rw io.ReadWriteCloser) *Client {
	c := &Client{rw: rw, pending: map[uint64]chan callResult{}, done: make(chan struct{})}
	go c.read()
	return c
}

// ErrClientClosed is returned by calls on a closed Client.
var ErrClientClosed = errors.New("rpc: client closed")

// Close closes the connection; calls in flight and later ones return
// ErrClientClosed (or the error that ended the connection before).
func (c *Client) Close() error {
	// Fail first: the reader, woken by the close, would fail them with a
	// read error.
	c.fail(ErrClientClosed)
	err := c.rw.Close()
	<-c.done
	return err
}

// Call sends method with params (nil: no params; a slice: positional; a
// map or struct: named) and decodes the result into result (unless nil).
// A JSON-RPC error comes back as an *Error; ctx ending abandons the call.
func (c *Client) Call(ctx context.Context, method string, params any, result any) error {
	if params == nil {
		params = struct{}{}
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.next++
	id := c.next
	ch := make(chan callResult, 1)
	c.pending[id] = ch
	c.mu.Unlock()

	req, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      uint64 `json:"id"`
		Method  string `json:"method"`
		Params  any    `json:"params"`
	}{"2.0", id, method, params})
	if err != nil {
		c.forget(id)
		return fmt.Errorf("rpc: %s: encode params: %w", method, err)
	}
	c.wmu.Lock()
	_, err = c.rw.Write(req)
	c.wmu.Unlock()
	if err != nil {
		c.forget(id)
		c.rw.Close()
		return fmt.Errorf("rpc: %s: write: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if result != nil {
			if err := json.Unmarshal(r.result, result); err != nil {
				return fmt.Errorf("rpc: %s: decode result: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		return ctx.Err()
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// fail ends every call in flight and later ones with err (the first reason
// given wins).
func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		ch <- callResult{err: c.err}
		delete(c.pending, id)
	}
}

// read matches answers to calls until the connection ends. An error with a
// null id is the server refusing the stream itself (a request too large,
// say): it ends every call with that error.
func (c *Client) read() {
	defer close(c.done)
	dec := json.NewDecoder(c.rw)
	for {
		var r struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *Error          `json:"error"`
		}
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("rpc: connection closed: %w", err)
			} else {
				err = fmt.Errorf("rpc: read: %w", err)
			}
			c.fail(err)
			return
		}
		id, perr := strconv.ParseUint(string(bytes.TrimSpace(r.ID)), 10, 64)
		if perr != nil {
			if r.Error != nil {
				c.fail(r.Error)
			}
			continue
		}
		c.mu.Lock()
		ch, ok := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if !ok {
			continue // abandoned by its caller
		}
		if r.Error != nil {
			ch <- callResult{err: r.Error}
		} else {
			ch <- callResult{result: r.Result}
		}
	}
}
