package rpc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TokenFile is the name of the HTTP bearer token's file in a data
// directory.
const TokenFile = "http-token"

// HTTPHandler serves the server over HTTP:
//
//   - POST / takes one JSON-RPC request as the body (at most the server's
//     MaxRequestBytes, else 413) and answers it with status 200, the
//     JSON-RPC error, if any, inside. It needs "Authorization: Bearer
//     <token>" (the scheme name in any case), the token compared in
//     constant time; otherwise 401. An empty token refuses everyone.
//   - GET /metrics is served by metrics (404 if nil), without the token, as
//     Prometheus scrapes it.
//   - GET /healthz answers 200 "ok".
//
// Writing each answer is bounded by the server's WriteTimeout, as on the
// socket: a client that does not read is cut off, its handler freed. (An
// http.Server's own WriteTimeout would also bound how long a command runs:
// a pay or waitsendpay may take minutes.) The http.Server should set
// ReadHeaderTimeout, and may set ReadTimeout, IdleTimeout and
// MaxHeaderBytes; the body is capped here.
func (s *Server) HTTPHandler(token string, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	want := []byte(token)
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="payengine"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.maxBytes))
		w.Header().Set("Content-Type", "application/json")
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			w.Write(s.encode(nullID, nil, &Error{Code: CodeInvalidRequest,
				Message: fmt.Sprintf("Request too large: more than %d bytes", s.cfg.maxBytes)}))
			return
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
			w.Write(s.encode(nullID, nil, &Error{Code: CodeInvalidRequest, Message: "cannot read the body: " + err.Error()}))
			return
		}
		out := s.handle(r.Context(), body)
		s.writeDeadline(w)
		w.Write(out)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request starts with its own deadline: one left by an
		// earlier request on the connection may have passed.
		s.writeDeadline(w)
		mux.ServeHTTP(w, r)
	})
}

// bearer is the token of an Authorization header of the Bearer scheme,
// whose name is case-insensitive (RFC 7235 section 2.1) and followed by
// one or more spaces.
func bearer(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(tok, " "), true
}

// writeDeadline gives the answer WriteTimeout from now to be written.
func (s *Server) writeDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.writeTimeout))
}

// LoadOrCreateToken returns the HTTP bearer token kept in
// <datadir>/http-token, creating the file on first start with 32 random
// bytes in hex and mode 0600. A token file that others may read is refused:
// whoever reads it can spend the node's funds.
func LoadOrCreateToken(datadir string) (string, error) {
	path := filepath.Join(datadir, TokenFile)
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rpc: token: %w", err)
	}
	tok := hex.EncodeToString(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, werr := f.WriteString(tok + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			os.Remove(path)
			return "", fmt.Errorf("rpc: write %s: %w", path, err)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("rpc: create %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("rpc: token: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("rpc: %s has mode %v: others may read it; chmod 600 it", path, st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("rpc: token: %w", err)
	}
	tok = strings.TrimSpace(string(raw))
	if tok == "" {
		return "", fmt.Errorf("rpc: %s is empty", path)
	}
	return tok, nil
}
