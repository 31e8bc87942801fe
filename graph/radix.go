package graph

import "math/bits"

// radixHeap is a monotone priority queue of (distance, node): every pushed
// distance is at least the last popped one, as in Dijkstra with
// non-negative weights. Items sit in bucket 64-clz(d^last), so a pop only
// redistributes one bucket now and then: amortised O(1) per operation, where
// a binary heap pays log n and a cache miss per level.
type radixHeap struct {
	last    uint64
	size    int
	buckets [65][]hitem
}

func (r *radixHeap) reset() {
	r.last, r.size = 0, 0
	for i := range r.buckets {
		r.buckets[i] = r.buckets[i][:0]
	}
}

func (r *radixHeap) push(d uint64, node uint32) {
	b := 64 - bits.LeadingZeros64(d^r.last)
	r.buckets[b] = append(r.buckets[b], hitem{d, node})
	r.size++
}

// pop removes and returns an item of least distance; the heap must not be
// empty.
func (r *radixHeap) pop() hitem {
	if len(r.buckets[0]) == 0 {
		i := 1
		for len(r.buckets[i]) == 0 {
			i++
		}
		min := r.buckets[i][0].d
		for _, it := range r.buckets[i][1:] {
			if it.d < min {
				min = it.d
			}
		}
		r.last = min
		for _, it := range r.buckets[i] {
			b := 64 - bits.LeadingZeros64(it.d^min)
			r.buckets[b] = append(r.buckets[b], it)
		}
		r.buckets[i] = r.buckets[i][:0]
	}
	b0 := r.buckets[0]
	it := b0[len(b0)-1]
	r.buckets[0] = b0[:len(b0)-1]
	r.size--
	return it
}
