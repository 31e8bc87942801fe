package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Each call moves its instrument; a nil *Engine records nothing and does
// not panic.
func TestEngine(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Started()
	m.Started()
	m.Ended(0)
	m.Ended(205)
	m.Attempt()
	m.RouteSearch(time.Millisecond)
	m.LedgerCommit(2 * time.Millisecond)
	want := `
# HELP payengine_payments_failed_total pay commands that ended in an error, by the Core Lightning error code the caller got.
# TYPE payengine_payments_failed_total counter
payengine_payments_failed_total{code="205"} 1
# HELP payengine_payments_inflight pay commands started and not yet answered.
# TYPE payengine_payments_inflight gauge
payengine_payments_inflight 0
# HELP payengine_payments_started_total pay commands taken up (their invoice decoded).
# TYPE payengine_payments_started_total counter
payengine_payments_started_total 2
# HELP payengine_payments_succeeded_total pay commands that completed: the destination released the preimage.
# TYPE payengine_payments_succeeded_total counter
payengine_payments_succeeded_total 1
# HELP payengine_attempts_total HTLC attempts written to the ledger and sent.
# TYPE payengine_attempts_total counter
payengine_attempts_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "payengine_payments_failed_total", "payengine_payments_inflight",
		"payengine_payments_started_total", "payengine_payments_succeeded_total", "payengine_attempts_total"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []prometheus.Histogram{m.route, m.commit} {
		var out dto.Metric
		if err := h.Write(&out); err != nil || out.Histogram.GetSampleCount() != 1 {
			t.Fatalf("histogram: %v %v", out.Histogram, err)
		}
	}
	if _, err := New(reg); err == nil {
		t.Fatal("registered twice")
	}
	var none *Engine
	none.Started()
	none.Ended(1)
	none.Attempt()
	none.RouteSearch(0)
	none.LedgerCommit(0)
}
