package rpc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP: the bearer token guards POST /; /metrics and /healthz are open;
// bodies over the cap are 413.
func TestHTTP(t *testing.T) {
	r := sub300Rig(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "payengine_test_total", Help: "test"}))
	const token = "s3cret"
	srv := httptest.NewServer(r.s.HTTPHandler(token, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	defer srv.Close()

	post := func(auth, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	getinfo := `{"jsonrpc":"2.0","id":1,"method":"getinfo","params":{}}`
	for i, tt := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer s3cre", http.StatusUnauthorized},
		{"Bearer s3cret2", http.StatusUnauthorized},
		{"bearer S3CRET", http.StatusUnauthorized},
		{"Bearers3cret", http.StatusUnauthorized},
		{"Basic s3cret", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"s3cret", http.StatusUnauthorized},
		{"Bearer s3cret", http.StatusOK},
		// The scheme name is case-insensitive (RFC 7235 section 2.1), and
		// one or more spaces may follow it.
		{"bearer s3cret", http.StatusOK},
		{"BEARER s3cret", http.StatusOK},
		{"bEaReR  s3cret", http.StatusOK},
	} {
		code, body := post(tt.auth, getinfo)
		if code != tt.want {
			t.Errorf("#%d %q: %d %s", i, tt.auth, code, body)
		}
		if code == http.StatusUnauthorized && strings.Contains(body, r.n.Self().String()) {
			t.Errorf("#%d: an unauthorized request got an answer: %s", i, body)
		}
		if code == http.StatusOK {
			var resp rawResponse
			if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Error != nil || !strings.Contains(string(resp.Result), r.n.Self().String()) {
				t.Errorf("#%d: %s", i, body)
			}
		}
	}
	// A JSON-RPC error is a 200 with the error inside.
	code, body := post("Bearer "+token, `{"id":2,"method":"nosuch"}`)
	if code != http.StatusOK || !strings.Contains(body, `"code":-32601`) {
		t.Errorf("unknown method: %d %s", code, body)
	}
	code, body = post("Bearer "+token, `{"id":2,"method":"decodepay","params":["`+strings.Repeat("x", DefaultMaxRequestBytes)+`"]}`)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"code":-32600`) {
		t.Errorf("huge body: %d %.200s", code, body)
	}
	// An empty token refuses everyone.
	open := httptest.NewServer(r.s.HTTPHandler("", nil))
	defer open.Close()
	req, _ := http.NewRequest(http.MethodPost, open.URL+"/", strings.NewReader(getinfo))
	req.Header.Set("Authorization", "Bearer ")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty token: %v %v", resp, err)
	}

	get := func(base, path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(srv.URL, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(srv.URL, "/metrics"); code != http.StatusOK || !strings.Contains(body, "payengine_test_total 0") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, _ := get(open.URL, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics without a handler: %d", code)
	}
	if code, _ := get(srv.URL, "/"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /: %d", code)
	}
}

// The token file is made once, 0600, 64 hex characters, and read back the
// same; one others may read is refused.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	tok, err := LoadOrCreateToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("token %q", tok)
	}
	st, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	again, err := LoadOrCreateToken(dir)
	if err != nil || again != tok {
		t.Fatalf("read back %q %v", again, err)
	}
	os.Chmod(filepath.Join(dir, TokenFile), 0o644)
	if _, err := LoadOrCreateToken(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable token: %v", err)
	}
	if _, err := LoadOrCreateToken(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing directory gave a token")
	}
}
