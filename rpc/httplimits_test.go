package rpc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// HTTP with payd's http.Server settings, timeouts shortened: a body over
// the cap is 413 and cut while it arrives; headers over MaxHeaderBytes are
// 431; a client that trickles its headers is dropped after
// ReadHeaderTimeout; one that never reads its answer is cut after the
// server's WriteTimeout, its handler freed. Meanwhile others are answered.
func TestHTTPLimits(t *testing.T) {
	const (
		token         = "s3cret"
		headerTimeout = 500 * time.Millisecond
		writeTimeout  = 500 * time.Millisecond
		total         = 64 << 20 // bytes of the oversized body
	)
	r := sub300Rig(t)
	srv, _ := r.serve(t, func(o *Options) { o.WriteTimeout = writeTimeout })
	// The metrics handler stands for any large answer: 32 MiB.
	metricsDone := make(chan error, 1)
	big := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte("# padding\n"), 64<<10/10)
		for range 512 {
			if _, err := w.Write(chunk); err != nil {
				metricsDone <- err
				return
			}
		}
		metricsDone <- nil
	})
	hs := &http.Server{Handler: srv.HTTPHandler(token, big), ReadHeaderTimeout: headerTimeout,
		ReadTimeout: 5 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	addr := l.Addr().String()
	getinfo := func() {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(`{"id":1,"method":"getinfo"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), r.n.Self().String()) {
			t.Fatalf("getinfo: %d %s", resp.StatusCode, b)
		}
		t.Logf("getinfo over HTTP meanwhile: %v", time.Since(start).Round(time.Microsecond))
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// Headers a byte at a time, 50 ms apart.
	start := time.Now() // the server's clock starts at accept
	slow := dial()
	fmt.Fprintf(slow, "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	go func() {
		for time.Since(start) < 10*time.Second {
			if _, err := slow.Write([]byte("a")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	getinfo()
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(slow)
	if errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) < headerTimeout {
		t.Errorf("slow headers: connection ended after %v with %q %v", time.Since(start), b, err)
	}
	t.Logf("slow headers dropped after %v", time.Since(start).Round(time.Millisecond))

	// A 64 MiB body: the server answers 413 once the cap is passed, then
	// closes. The answer is read before more is sent, as the server gives a
	// client that goes on sending only a moment to read it.
	huge := dial()
	fmt.Fprintf(huge, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n{\"id\":1,\"method\":\"getinfo\",\"params\":[\"", token, total)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	sent := 0
	for sent <= DefaultMaxRequestBytes {
		n, err := huge.Write(chunk)
		if sent += n; err != nil {
			t.Fatalf("huge body: cut after %d bytes, before the cap: %v", sent, err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(huge), nil)
	if err != nil {
		t.Fatalf("huge body: no answer after %d bytes: %v", sent, err)
	}
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), `"code":-32600`) {
		t.Errorf("huge body: %d %.200s", resp.StatusCode, b)
	}
	huge.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for err = nil; err == nil && sent < total; {
		var n int
		n, err = huge.Write(chunk)
		sent += n
	}
	t.Logf("huge body: %d, connection closed after %d of %d bytes sent (%v)", resp.StatusCode, sent, total, err)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the server went on taking the huge body: %d bytes, %v", sent, err)
	}
	getinfo()

	// Headers over MaxHeaderBytes.
	fat := dial()
	fmt.Fprintf(fat, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fat: %s\r\n\r\n", strings.Repeat("a", 128<<10))
	if resp, err := http.ReadResponse(bufio.NewReader(fat), nil); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("fat headers: %v %v", resp, err)
	}

	// A client that asks for 32 MiB and reads none of it.
	deaf := dial()
	start = time.Now()
	fmt.Fprintf(deaf, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	getinfo()
	select {
	case err := <-metricsDone:
		if err == nil {
			t.Fatal("32 MiB written to a client that reads nothing")
		}
		t.Logf("deaf client cut after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(writeTimeout + 30*time.Second):
		t.Fatal("the handler writing to a deaf client is still blocked")
	}
	getinfo()
}
