package persistence

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/messages"
)

// noLinger turns the committer's lingering off, to compare.
var noLinger = flag.Bool("ledger.nolinger", false, "BenchmarkLedgerGroupCommit: open the ledger with lingering off")

// BenchmarkLedgerGroupCommit measures synced writes of one payment and one
// pending attempt each, from 1 and from 256 concurrent writers; b.N writes
// in all. Run: go test ./persistence -run '^$' -bench LedgerGroupCommit -benchtime 2000x
func BenchmarkLedgerGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			o := &Options{}
			if *noLinger {
				o.Linger = -1
			}
			l := openT(b, b.TempDir(), o)
			defer l.Close()
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := n.Add(1)
						if i > int64(b.N) {
							return
						}
						h := hashOf(uint64(i))
						err := l.Write(context.Background(), &Batch{
							Payments: []messages.Payment{{PaymentHash: h, CreatedAt: uint64(i), Status: messages.PaymentPending}},
							Attempts: []messages.Attempt{fullAttempt(uint64(i), 0, messages.AttemptPending)},
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "writes/s")
			m := l.Metrics()
			b.ReportMetric(m.BatchAvg, "writes/commit")
			b.Logf("%s", m)
		})
	}
}
