// Command regtest starts and stops a regtest Lightning network of real
// btcd and lnd processes on loopback (see package internal/regtest):
//
//	regtest up --dir D [--nodes N] [--cache C]   build if needed, start, write D/network.json
//	regtest down --dir D                         stop every process of D
//	regtest build [--cache C]                    only build the binaries (CI warms its cache so)
//
// The processes keep running after up returns; down stops them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/payengine/payengine/internal/regtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  regtest up --dir D [--nodes N] [--cache C]
  regtest down --dir D
  regtest build [--cache C]
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down" && args[0] != "build") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("regtest "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "network directory (required)")
	nodes := fs.Int("nodes", 5, "lnd nodes (at least 5)")
	cache := fs.String("cache", "", "build cache (default $PAYENGINE_CACHE, else the user cache dir/payengine)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || (*dir == "") != (args[0] == "build") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "down" {
		if err := regtest.Down(*dir); err != nil {
			fmt.Fprintf(stderr, "regtest down: %v\n", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if args[0] == "build" {
		bins, err := regtest.Build(ctx, *cache, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "regtest build: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n%s\n%s\n%s\n", bins.Btcd, bins.BtcCtl, bins.Lnd, bins.LnCLI)
		return 0
	}
	if _, err := regtest.Up(ctx, regtest.Options{Dir: *dir, Nodes: *nodes, CacheDir: *cache, Log: stderr}); err != nil {
		fmt.Fprintf(stderr, "regtest up: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", *dir+"/"+regtest.NetworkFile)
	return 0
}
