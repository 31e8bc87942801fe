package main

import (
	"fmt"
	"io"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/driver"
	"github.com/schollz/progressbar/v3"
)

// barObserver draws a progress bar: payments done, rate, success so far
// and, for a run of known size, the time left.
type barObserver struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	label string
}

// Progress implements driver.Observer. The bar is made on the first call,
// when the run's size is known.
func (b *barObserver) Progress(p driver.Progress) {
	if b.bar == nil {
		max := int64(p.Total)
		if max == 0 {
			max = -1 // a spinner: the run is bounded by time
		}
		b.bar = progressbar.NewOptions64(max, progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(b.label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(30),
			progressbar.OptionShowDescriptionAtLineEnd(), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(), progressbar.OptionFullWidth())
	}
	desc := fmt.Sprintf("%s %s", b.label, status(p, false)) // the bar shows its own time left
	b.bar.Describe(desc)
	_ = b.bar.Set(p.Done) // drawing errors are not the run's
	if p.Finished {
		_ = b.bar.Finish()
	}
}

// lineObserver prints one line per tick: for logs and pipes.
type lineObserver struct {
	w     io.Writer
	label string
}

// Progress implements driver.Observer.
func (l *lineObserver) Progress(p driver.Progress) {
	fmt.Fprintf(l.w, "paybench%s %6.1fs  %d done  %s\n", l.label, p.Elapsed.Seconds(), p.Done, status(p, true))
}

// status is the rate, success so far and, with eta, the time left.
func status(p driver.Progress, eta bool) string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Done) / s
	}
	ok := "-"
	if p.Done > 0 {
		ok = fmt.Sprintf("%.1f%%", 100*float64(p.Succeeded)/float64(p.Done))
	}
	s := fmt.Sprintf("%.0f/s, success %s, %d in flight", rate, ok, p.Started-p.Done)
	switch {
	case p.Warmup:
		s += ", warming up"
	case !eta:
	case p.Total > 0 && rate > 0 && !p.Finished:
		s += fmt.Sprintf(", ~%s left", (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second))
	case p.Remaining > 0:
		s += fmt.Sprintf(", %s left", p.Remaining.Round(time.Second))
	}
	return s
}
