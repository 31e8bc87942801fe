package lndnode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/payengine/payengine/link"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// BuildsOnion implements link.RouteBuilder: lnd's SendToRouteV2 builds the
// onion from the route. (lnd's SendOnion, announced for v0.22, would take
// ours: answer false then.)
func (b *Backend) BuildsOnion() bool { return true }

// AddHTLC implements link.Link with routerrpc.SendToRouteV2: the route the
// engine chose, pub_key on every hop, the final hop's mpp_record with the
// payment secret and total, skip_temp_err so that lnd leaves the retries to
// us. The call blocks until the HTLC resolves, so it runs on a goroutine of
// its own, with no deadline (cancelling it would not stop the HTLC in
// lnd). If lnd cannot be reached meanwhile, the HTLC is looked for again
// (as after a restart) once it is back: never reported failed while it may
// be in flight, never sent twice.
func (b *Backend) AddHTLC(_ context.Context, req link.AddHTLC, done func(link.Result)) error {
	if done == nil {
		return errors.New("lndnode: add htlc: nil callback")
	}
	if b.closed.Load() {
		return fmt.Errorf("lndnode: add htlc %d: %w", req.ID, link.ErrClosed)
	}
	route, err := lndRoute(req)
	if err != nil {
		return err
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.send(req, route, done)
	}()
	return nil
}

// Reattach implements link.Link: the HTLC is found among the payment's
// attempts in lnd (TrackPaymentV2) by its route, amounts and CLTV deltas,
// and its outcome collected. lnd not knowing the payment, or no attempt
// matching, means it never left: done gets a local failure wrapping
// link.ErrUnknownHTLC. lnd being away just delays the answer.
func (b *Backend) Reattach(_ context.Context, req link.AddHTLC, done func(link.Result)) error {
	if done == nil {
		return errors.New("lndnode: reattach: nil callback")
	}
	if b.closed.Load() {
		return fmt.Errorf("lndnode: reattach htlc %d: %w", req.ID, link.ErrClosed)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.track(req, done, nil)
	}()
	return nil
}

// send makes one SendToRouteV2 call and reports its outcome.
func (b *Backend) send(req link.AddHTLC, route *lnrpc.Route, done func(link.Result)) {
	start := time.Now()
	b.waitReady(req.Channel)
	ready := time.Since(start)
	if !b.up.Load() {
		// Never handed to lnd: it did not leave, and the payer hears why.
		done(link.Result{ID: req.ID, Local: fmt.Errorf("%w: lnd at %s has not answered for %s", ErrUnreachable, b.cfg.RPCServer, ready.Round(time.Second))})
		return
	}
	att, err := b.router.SendToRouteV2(b.call(b.ctx), &routerrpc.SendToRouteRequest{
		PaymentHash: req.PaymentHash[:], Route: route, SkipTempErr: true})
	b.log.Debug("sendtoroute", "htlc", req.ID, "hops", len(req.Route), "ready_wait", ready, "took", time.Since(start), "err", err)
	if b.ctx.Err() != nil {
		return // closing: the ledger has the attempt, the next start finds it
	}
	if err == nil {
		if res, ok := outcome(req.ID, req.PaymentHash, att); ok {
			done(res)
			return
		}
	} else if transient(err) && b.up.Swap(false) {
		b.log.Error("lnd is unreachable; payments wait for it", "err", err)
	}
	// lnd refused, or could not be asked, or answered before the end:
	// what it did with the HTLC is in its payment database.
	b.track(req, done, err)
}

// track finds the HTLC req describes among its payment's attempts in lnd
// and reports its outcome once it has one. cause is why it is looked for
// (SendToRouteV2's error), nil after a restart.
func (b *Backend) track(req link.AddHTLC, done func(link.Result), cause error) {
	// If the call was cut rather than answered, lnd may still be about to
	// record the attempt: do not conclude it never left before looking
	// twice, a few seconds apart.
	misses := 0
	needMisses := 1
	if cause != nil && transient(cause) {
		needMisses = 2
	}
	for b.ctx.Err() == nil {
		att, err := b.findAttempt(req)
		switch {
		case err != nil && transient(err):
			b.log.Debug("looking for an htlc: lnd unreachable", "htlc", req.ID, "err", err)
			b.sleep()
			continue
		case err != nil && !errors.Is(err, errNoAttempt):
			b.log.Warn("looking for an htlc", "htlc", req.ID, "err", err)
			b.sleep()
			continue
		case err != nil:
			misses++
			if misses < needMisses {
				b.sleepFor(3 * time.Second)
				continue
			}
			why := "lnd has no such attempt"
			if cause != nil {
				why = "lnd refused it: " + status.Convert(cause).Message()
			}
			done(link.Result{ID: req.ID, Local: fmt.Errorf("%w: %d never left (%s)", link.ErrUnknownHTLC, req.ID, why)})
			return
		}
		if res, ok := outcome(req.ID, req.PaymentHash, att); ok {
			done(res)
			return
		}
		// In flight: follow the payment until that attempt resolves.
		if res, ok := b.follow(req, att.AttemptId); ok {
			done(res)
			return
		}
	}
}

// ErrUnreachable: lnd did not answer, so the HTLC was not handed to it.
var ErrUnreachable = errors.New("lndnode: lnd is unreachable")

// errNoAttempt: lnd has no attempt matching the HTLC (or no payment).
var errNoAttempt = errors.New("lndnode: no matching attempt")

// findAttempt asks lnd for the payment's attempts (TrackPaymentV2's first
// update) and picks the one req describes.
func (b *Backend) findAttempt(req link.AddHTLC) (*lnrpc.HTLCAttempt, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := b.router.TrackPaymentV2(b.call(ctx), &routerrpc.TrackPaymentRequest{PaymentHash: req.PaymentHash[:]})
	if err != nil {
		return nil, trackErr(err)
	}
	p, err := s.Recv()
	if err != nil {
		return nil, trackErr(err)
	}
	if a := matchAttempt(p.Htlcs, req); a != nil {
		return a, nil
	}
	return nil, errNoAttempt
}

func trackErr(err error) error {
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("%w: %v", errNoAttempt, err)
	}
	return err
}

// follow streams the payment's updates until attempt id resolves; false if
// the stream broke first (the caller looks again).
func (b *Backend) follow(req link.AddHTLC, id uint64) (link.Result, bool) {
	s, err := b.router.TrackPaymentV2(b.call(b.ctx), &routerrpc.TrackPaymentRequest{PaymentHash: req.PaymentHash[:]})
	if err != nil {
		b.sleep()
		return link.Result{}, false
	}
	for {
		p, err := s.Recv()
		if err != nil {
			if b.ctx.Err() == nil {
				b.log.Debug("following an htlc: stream ended", "htlc", req.ID, "err", err)
				b.sleep()
			}
			return link.Result{}, false
		}
		for _, a := range p.Htlcs {
			if a.AttemptId == id {
				if res, ok := outcome(req.ID, req.PaymentHash, a); ok {
					return res, true
				}
			}
		}
	}
}

// sleepFor waits d unless the backend closes.
func (b *Backend) sleepFor(d time.Duration) {
	select {
	case <-b.ctx.Done():
	case <-time.After(d):
	}
}
