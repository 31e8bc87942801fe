// Command payctl is payengine's command-line client, in the manner of Core
// Lightning's lightning-cli: it sends one JSON-RPC command to payd's unix
// socket and prints the result.
//
//	payctl [--datadir DIR] [--rpc-file SOCKET] [-k] [-J] COMMAND [ARGS...]
//
// Each positional argument is sent as JSON if it is valid JSON (123, null,
// [..], {..}, true), else as a string, so `payctl pay lnbcrt1... null
// mylabel` skips msatoshi. With -k every argument is key=value, the value
// read the same way. The result is printed as indented JSON on stdout;
// `payctl help` prints the command list for people (-J: the JSON).
//
// Exit status, as lightning-cli's: 0 success; 1 the daemon answered with a
// JSON-RPC error, printed as JSON on stderr; 2 the daemon could not be
// reached or the connection failed; 3 bad usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/payengine/payengine/rpc"
)

// Exit statuses (lightning-cli's).
const (
	exitOK        = 0
	exitRPCError  = 1
	exitTalking   = 2
	exitBadUsage  = 3
	defaultSubdir = ".payengine"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultDataDir is $PAYD_DATADIR, else ~/.payengine.
func defaultDataDir() string {
	if d := os.Getenv("PAYD_DATADIR"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, defaultSubdir)
	}
	return defaultSubdir
}

// run is payctl with its arguments (without the program name) and
// outputs; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("payctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	datadir := fs.String("datadir", defaultDataDir(), "payd's data directory, which holds the socket (default $PAYD_DATADIR, else ~/.payengine)")
	rpcFile := fs.String("rpc-file", "", "the socket itself (default DATADIR/"+rpc.SocketName+")")
	var keywords, jsonOut bool
	fs.BoolVar(&keywords, "k", false, "every argument is key=value: named params")
	fs.BoolVar(&keywords, "keywords", false, "same as -k")
	fs.BoolVar(&jsonOut, "J", false, "print help as JSON, like every other result")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: payctl [flags] COMMAND [ARGS...]   (payctl help lists the commands)\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nexit status: 0 ok, 1 JSON-RPC error (on stderr), 2 cannot talk to payd, 3 bad usage\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitBadUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitBadUsage
	}
	method, rest := fs.Arg(0), fs.Args()[1:]
	params, err := buildParams(rest, keywords)
	if err != nil {
		fmt.Fprintf(stderr, "payctl: %v\n", err)
		return exitBadUsage
	}
	sock := *rpcFile
	if sock == "" {
		sock = filepath.Join(*datadir, rpc.SocketName)
	}
	c, err := rpc.Dial(sock)
	if err != nil {
		fmt.Fprintf(stderr, "payctl: cannot connect to %s (is payd running?): %v\n", sock, err)
		return exitTalking
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var res json.RawMessage
	if err := c.Call(ctx, method, params, &res); err != nil {
		var re *rpc.Error
		if !errors.As(err, &re) {
			fmt.Fprintf(stderr, "payctl: %s: %v\n", method, err)
			return exitTalking
		}
		b, _ := json.MarshalIndent(re, "", "  ")
		fmt.Fprintf(stderr, "%s\n", b)
		return exitRPCError
	}
	if method == "help" && !jsonOut {
		if err := printHelp(stdout, res, len(rest) > 0); err == nil {
			return exitOK
		}
	}
	var out bytes.Buffer
	if err := json.Indent(&out, res, "", "  "); err != nil {
		fmt.Fprintf(stderr, "payctl: %s: the result is not JSON: %v\n", method, err)
		return exitTalking
	}
	out.WriteByte('\n')
	stdout.Write(out.Bytes())
	return exitOK
}

// buildParams makes the params: a JSON array of the arguments, or with
// keywords an object of key=value pairs, written in order (so that a
// key given twice reaches the daemon, which refuses it).
func buildParams(args []string, keywords bool) (json.RawMessage, error) {
	var b bytes.Buffer
	opening, closing := byte('['), byte(']')
	if keywords {
		opening, closing = '{', '}'
	}
	b.WriteByte(opening)
	for i, a := range args {
		if i > 0 {
			b.WriteByte(',')
		}
		if keywords {
			k, v, ok := strings.Cut(a, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("with -k every argument is key=value, not %q", a)
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			a = v
		}
		b.Write(value(a))
	}
	b.WriteByte(closing)
	return b.Bytes(), nil
}

// value is an argument as JSON: itself if it is JSON, else a string.
func value(a string) []byte {
	if json.Valid([]byte(a)) {
		return []byte(strings.TrimSpace(a))
	}
	b, _ := json.Marshal(a)
	return b
}

// printHelp prints help's result for people, as lightning-cli does: each
// command's usage and description, or one command's whole text.
func printHelp(w io.Writer, res json.RawMessage, one bool) error {
	var h struct {
		Help []struct {
			Command     string `json:"command"`
			Description string `json:"description"`
			Verbose     string `json:"verbose"`
		} `json:"help"`
	}
	if err := json.Unmarshal(res, &h); err != nil || len(h.Help) == 0 {
		return fmt.Errorf("payctl: help: unexpected result")
	}
	for _, c := range h.Help {
		if one {
			fmt.Fprintf(w, "%s\n", c.Verbose)
			continue
		}
		fmt.Fprintf(w, "%s\n    %s\n\n", c.Command, c.Description)
	}
	if !one {
		fmt.Fprintf(w, "---\nrun `payctl help COMMAND` for more about one command\n")
	}
	return nil
}
