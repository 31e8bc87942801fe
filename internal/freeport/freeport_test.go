package freeport

import (
	"net"
	"testing"
)

// The addresses differ, are on loopback, and can be listened on.
func TestLoopback(t *testing.T) {
	addrs, err := Loopback(16)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" || seen[a] {
			t.Fatalf("address %q (seen %v, err %v)", a, seen[a], err)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("listen on %s: %v", a, err)
		}
		l.Close()
	}
}
