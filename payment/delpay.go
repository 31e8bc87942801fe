package payment

import "slices"

// deletion is a delpay waiting for the ledger: whether the single-part
// payment goes, and the parts already taken out of the core, put back
// should the ledger fail.
type deletion struct {
	reply   ReplyTo
	single  bool
	parts   []*sendPart
	records []Record
}

// stepDelPay is Core Lightning's delpay (HEAD's json_delpay): of the
// hash's rows (the single-part payment, group 0 partid 0, then sendpay's
// parts by groupid and partid), those of the (groupid, partid) named, if
// any, whose status is the one named, go. A pending row never goes: the
// single-part payment counts as pending while an attempt or a pay is
// under way. The errors are CLN's, all 208: an unknown hash; a status
// that differs (the last differing one met); a (groupid, partid) with no
// row. Rows a delpay is already deleting are gone to another.
func (c *Core) stepDelPay(ev DelPay) []Effect {
	if c.rec == nil && len(c.sparts) == 0 {
		return []Effect{fail(ev.Reply, CodeNoSuchPayment, "Unknown payment with payment_hash: %x", c.hash)}
	}
	named := func(group, partid uint64) bool {
		return ev.Part == nil || *ev.Part == [2]uint64{group, partid}
	}
	var found *Status
	d := &deletion{reply: ev.Reply}
	if c.rec != nil && named(0, 0) {
		status := c.rec.Status
		if c.singleBusy() {
			status = StatusPending
		}
		if status == ev.Status {
			d.single = true
			d.records = append(d.records, *c.rec)
		} else {
			found = &status
		}
	}
	for _, p := range c.sortedParts() {
		if !named(p.rec.GroupID, p.rec.PartID) {
			continue
		}
		if p.rec.Status == ev.Status {
			d.parts = append(d.parts, p)
			d.records = append(d.records, p.rec)
			continue
		}
		status := p.rec.Status
		found = &status
	}
	switch {
	case len(d.records) == 0 && found != nil:
		return []Effect{fail(ev.Reply, CodeNoSuchPayment, "Payment with hash %x has %s status but it different from the one provided %s",
			c.hash, *found, ev.Status)}
	case len(d.records) == 0:
		return []Effect{fail(ev.Reply, CodeNoSuchPayment, "No payment for that payment_hash with that partid and groupid")}
	}
	eff := DeleteRows{Single: d.single}
	var groups []uint64
	for _, p := range d.parts {
		eff.Parts = append(eff.Parts, p.rec)
		if !slices.Contains(groups, p.rec.GroupID) {
			groups = append(groups, p.rec.GroupID)
		}
	}
	// The parts leave the core now, so that nothing counts them while
	// the ledger deletes; the groups that keep parts are summed without
	// them.
	c.sparts = slices.DeleteFunc(c.sparts, func(p *sendPart) bool { return slices.Contains(d.parts, p) })
	for _, g := range groups {
		if len(c.groupParts(g)) > 0 {
			eff.Groups = append(eff.Groups, c.groupRecord(g))
		}
	}
	if d.single {
		// Until the ledger has deleted it, the single-part payment is
		// busy: a sendpay waits for the deletion.
		c.phase = phaseDeleting
	}
	c.deleting = append(c.deleting, d)
	return []Effect{eff}
}

// stepRowsDeleted answers delpay with the rows the ledger deleted, and
// forgets the single-part payment if it went; if the ledger could not
// delete, every row stays as it was.
func (c *Core) stepRowsDeleted(d *deletion, ev Deleted) []Effect {
	if d.single {
		c.phase = phaseIdle
	}
	if ev.Err != nil {
		c.sparts = append(c.sparts, d.parts...)
		return []Effect{fail(d.reply, -1, "ledger delete failed: %v", ev.Err)}
	}
	if d.single {
		c.rec = nil
	}
	return []Effect{Reply{To: d.reply, Records: d.records}}
}
