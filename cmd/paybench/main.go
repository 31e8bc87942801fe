// Command paybench is payengine's load-test driver. By default it runs the
// engine and the simulated network in this process (a fresh ledger in a
// temporary directory), makes a seeded workload of payments, and reports
// throughput, latency percentiles, success by amount against what the
// network could have carried (simnet's max-flow), attempts, failure
// reasons and fees; as text, JSON (--json) and an HTML page of charts
// (--html). With --compare it runs the same workload under two pay
// settings and sets the figures side by side.
//
//	go run ./cmd/paybench                       # 500 payments on sub300
//	go run ./cmd/paybench --graph mainnet --payments 10000 --json run.json --html run.html
//	go run ./cmd/paybench --rate 200 --duration 30s --warmup 5s
//	go run ./cmd/paybench --compare riskfactor=1,riskfactor=10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT or SIGTERM stops starting payments and lets those in
	// flight finish, so the report covers them; a second one kills.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore the default: the next signal ends the process
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "paybench:", err)
		os.Exit(1)
	}
}
