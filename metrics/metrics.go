// Package metrics holds the engine's Prometheus instruments: what an
// operator scrapes from payd's /metrics to see payments, attempts, route
// searches and ledger commits as they happen.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Engine is the set of instruments the engine updates. A nil *Engine is
// valid and records nothing, so callers need no checks.
type Engine struct {
	started   prometheus.Counter
	succeeded prometheus.Counter
	failed    *prometheus.CounterVec
	attempts  prometheus.Counter
	inflight  prometheus.Gauge
	route     prometheus.Histogram
	commit    prometheus.Histogram
}

// New creates the instruments and registers them with reg.
func New(reg prometheus.Registerer) (*Engine, error) {
	m := &Engine{
		started: prometheus.NewCounter(prometheus.CounterOpts{Name: "payengine_payments_started_total",
			Help: "pay commands taken up (their invoice decoded)."}),
		succeeded: prometheus.NewCounter(prometheus.CounterOpts{Name: "payengine_payments_succeeded_total",
			Help: "pay commands that completed: the destination released the preimage."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "payengine_payments_failed_total",
			Help: "pay commands that ended in an error, by the Core Lightning error code the caller got."}, []string{"code"}),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{Name: "payengine_attempts_total",
			Help: "HTLC attempts written to the ledger and sent."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "payengine_payments_inflight",
			Help: "pay commands started and not yet answered."}),
		route: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "payengine_route_search_seconds",
			Help: "Time one route search took.", Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16)}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "payengine_ledger_commit_seconds",
			Help:    "Time from a ledger write's submission to its durable commit (group commit included).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}),
	}
	for _, c := range []prometheus.Collector{m.started, m.succeeded, m.failed, m.attempts, m.inflight, m.route, m.commit} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Started counts a pay taken up.
func (m *Engine) Started() {
	if m != nil {
		m.started.Inc()
		m.inflight.Inc()
	}
}

// Ended counts a pay's answer: code 0 for success, else its CLN code.
func (m *Engine) Ended(code int) {
	if m == nil {
		return
	}
	m.inflight.Dec()
	if code == 0 {
		m.succeeded.Inc()
		return
	}
	m.failed.WithLabelValues(strconv.Itoa(code)).Inc()
}

// Attempt counts one HTLC attempt.
func (m *Engine) Attempt() {
	if m != nil {
		m.attempts.Inc()
	}
}

// RouteSearch records how long one route search took.
func (m *Engine) RouteSearch(d time.Duration) {
	if m != nil {
		m.route.Observe(d.Seconds())
	}
}

// LedgerCommit records how long one ledger write took to be durable.
func (m *Engine) LedgerCommit(d time.Duration) {
	if m != nil {
		m.commit.Observe(d.Seconds())
	}
}
