package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lightninglabs/lndclient"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/payengine/payengine/internal/regtest"
)

var (
	sideN    = flag.Int("lnd.n", 40, "BenchmarkLNDSideBySide: payments through each engine")
	sideConc = flag.Int("lnd.conc", 8, "BenchmarkLNDSideBySide: payments at once")
	sideSat  = flag.Int64("lnd.sat", 30_000, "BenchmarkLNDSideBySide: amount of each payment, sat (above the too-small channel's 25,000)")
)

// sideResult is one engine's run.
type sideResult struct {
	name      string
	ok, total int
	wall      time.Duration
	lat       []time.Duration // of the successful payments
}

func (r sideResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// runSide pays every invoice with pay, conc at once, timing each.
func runSide(name string, invoices []string, conc int, pay func(bolt11 string) error) sideResult {
	r := sideResult{name: name, total: len(invoices)}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for inv := range work {
				t0 := time.Now()
				err := pay(inv)
				d := time.Since(t0)
				mu.Lock()
				if err == nil {
					r.ok++
					r.lat = append(r.lat, d)
				} else {
					fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, inv := range invoices {
		work <- inv
	}
	close(work)
	wg.Wait()
	r.wall = time.Since(start)
	return r
}

// BenchmarkLNDSideBySide pays the payee of the regtest network -lnd.n
// times through payd --backend lnd (CLN's pay: its own route-finding,
// retries and ledger, lnd carrying the HTLCs) and -lnd.n times through the
// payer's lnd alone (routerrpc.SendPaymentV2: lnd's path-finding and
// mission control), -lnd.conc at once, each run on fresh invoices and a
// fresh engine (both first meet the drained cheap path), and prints
// payments/s, p50/p99 latency and success side by side:
//
//	go test ./cmd/payd -run '^$' -bench LNDSideBySide -benchtime 1x [-lnd.n 40 -lnd.conc 8]
func BenchmarkLNDSideBySide(b *testing.B) {
	n := regtestNet(b)
	for range b.N {
		invoices := func() []string {
			out := make([]string, *sideN)
			for i := range out {
				var inv struct {
					Request string `json:"payment_request"`
				}
				lncli(b, n, regtest.Payee, &inv, "addinvoice", "--amt", strconv.FormatInt(*sideSat, 10))
				out[i] = inv.Request
			}
			return out
		}

		d := startLndPayd(b, n)
		payd := runSide("payd --backend lnd", invoices(), *sideConc, func(bolt11 string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			return d.c.Call(ctx, "pay", map[string]any{"bolt11": bolt11}, nil)
		})
		d.c.Close()
		d.p.stop(b)
		if log, err := os.ReadFile(d.p.log); err == nil {
			os.WriteFile(filepath.Join(os.TempDir(), "paydlnd-bench-payd.log"), log, 0o644)
		}
		d.p = nil

		nd := n.Nodes[regtest.Payer]
		svc, err := lndclient.NewLndServices(&lndclient.LndServicesConfig{LndAddress: nd.RPCServer, Network: lndclient.NetworkRegtest,
			CustomMacaroonPath: nd.MacaroonPath, TLSPath: nd.TLSCertPath})
		if err != nil {
			b.Fatal(err)
		}
		lnd := runSide("lnd SendPaymentV2", invoices(), *sideConc, func(bolt11 string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			st, errs, err := svc.Router.SendPayment(ctx, lndclient.SendPaymentRequest{Invoice: bolt11, MaxFee: 1000, Timeout: time.Minute})
			if err != nil {
				return err
			}
			for {
				select {
				case s := <-st:
					switch s.State {
					case lnrpc.Payment_SUCCEEDED:
						return nil
					case lnrpc.Payment_FAILED:
						return fmt.Errorf("lnd: %s", s.FailureReason)
					}
				case err := <-errs:
					return err
				}
			}
		})
		svc.Close()

		fmt.Printf("\n%d payments of %d sat each, %d at once, on the regtest network (payer -> payee; cheap path drained)\n",
			*sideN, *sideSat, *sideConc)
		fmt.Printf("%-22s %12s %10s %10s %10s\n", "engine", "payments/s", "p50", "p99", "success")
		for _, r := range []sideResult{payd, lnd} {
			fmt.Printf("%-22s %12.1f %10s %10s %7d/%d\n", r.name, float64(r.ok)/r.wall.Seconds(),
				r.pct(0.50).Round(time.Millisecond), r.pct(0.99).Round(time.Millisecond), r.ok, r.total)
		}
	}
}
