package simnet

import "time"

// An HTLC on its way is a chain of continuations (receive, forward,
// route, each passing the outcome back to the one before), run by whatever
// goroutine moves it: AddHTLC's, a timer's, Release's or the one of the
// multi-part set's last part. Where the HTLC waits, it parks its next step
// here instead of blocking a goroutine: a held node's queue (Hold) or a
// timer (a hop's latency, a slow node's delay). Close runs every parked
// step at once, as a closing network no longer holds or delays anything.

// parked is a step waiting for its timer.
type parked struct {
	t  *time.Timer
	fn func()
}

// after runs fn once d has passed: at once, on this goroutine, when d is
// not positive or the network is closing, else on the timer's.
func (n *Net) after(d time.Duration, fn func()) {
	if d <= 0 {
		fn()
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		fn()
		return
	}
	p := &parked{fn: fn}
	n.timers[p] = struct{}{}
	p.t = time.AfterFunc(d, func() {
		if n.unpark(p) {
			fn()
		}
	})
	n.mu.Unlock()
}

// unpark takes p off the timers; false if Close already ran it.
func (n *Net) unpark(p *parked) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.timers[p]; !ok {
		return false
	}
	delete(n.timers, p)
	return true
}

// whenReleased runs fn once node is not held: at once, on this goroutine,
// if it is not (or the network is closing), else when Release or Close
// lets it go.
func (n *Net) whenReleased(node int32, fn func()) {
	n.mu.Lock()
	if waiting, held := n.held[node]; held && !n.closed {
		n.held[node] = append(waiting, fn)
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	fn()
}

// unparkAll runs every parked step, each on a goroutine of its own; the
// caller has marked the network closed, so no step parks again.
func (n *Net) unparkAll() {
	var steps []func()
	n.mu.Lock()
	for p := range n.timers {
		p.t.Stop()
		steps = append(steps, p.fn)
	}
	clear(n.timers)
	for node, waiting := range n.held {
		steps = append(steps, waiting...)
		n.held[node] = nil
	}
	n.mu.Unlock()
	for _, fn := range steps {
		go fn()
	}
}
