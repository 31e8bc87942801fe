package persistence

import (
	"fmt"
	"time"
)

// Metrics is a snapshot of the ledger's counters since Open.
type Metrics struct {
	// Commits is the number of Pebble batches committed (one sync each).
	Commits uint64
	// FailedCommits is the number of commits that failed.
	FailedCommits uint64
	// Writes is the number of Write and DeletePayment calls committed.
	Writes uint64
	// Records is the number of payment and attempt records written (and
	// payments deleted).
	Records uint64
	// BatchMin, BatchMax and BatchAvg describe how many calls each commit
	// carried; BatchAvg is Writes/Commits.
	BatchMin, BatchMax uint64
	BatchAvg           float64
	// SyncAvg and SyncMax are the time Pebble took to commit (and, unless
	// NoSync, sync) one batch.
	SyncAvg, SyncMax time.Duration

	syncTotal time.Duration
}

// Metrics returns a snapshot of the counters; safe from any goroutine.
func (l *Ledger) Metrics() Metrics {
	l.metricsMu.Lock()
	defer l.metricsMu.Unlock()
	m := l.metrics
	if m.Commits > 0 {
		m.BatchAvg = float64(m.Writes) / float64(m.Commits)
		m.SyncAvg = m.syncTotal / time.Duration(m.Commits)
	}
	m.syncTotal = 0
	return m
}

// record counts one commit of n calls carrying records records.
func (l *Ledger) record(n, records int, took time.Duration, err error) {
	l.metricsMu.Lock()
	defer l.metricsMu.Unlock()
	m := &l.metrics
	if err != nil {
		m.FailedCommits++
		return
	}
	m.Commits++
	m.Writes += uint64(n)
	m.Records += uint64(records)
	if m.BatchMin == 0 || uint64(n) < m.BatchMin {
		m.BatchMin = uint64(n)
	}
	m.BatchMax = max(m.BatchMax, uint64(n))
	m.syncTotal += took
	m.SyncMax = max(m.SyncMax, took)
}

// String formats the metrics for people, on one line.
func (m Metrics) String() string {
	return fmt.Sprintf("commits %d (failed %d), writes %d, records %d, writes/commit min %d avg %.1f max %d, sync avg %s max %s",
		m.Commits, m.FailedCommits, m.Writes, m.Records, m.BatchMin, m.BatchAvg, m.BatchMax, m.SyncAvg, m.SyncMax)
}
