// Package freeport finds loopback ports for the processes tests and the
// regtest network start (lnd, btcd, etcd), which must be told their
// addresses before they listen.
package freeport

import (
	"fmt"
	"net"
)

// Loopback returns n distinct loopback addresses nobody listened on a
// moment ago (all held open together, so they differ). Another process
// may still take one before its new owner listens: callers that start a
// process on them retry on fresh ones when it cannot bind.
func Loopback(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	addrs := make([]string, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}
