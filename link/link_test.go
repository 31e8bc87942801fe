package link

import (
	"fmt"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
)

// TestLocalFailCode: what a payer reports for each local refusal (CLN:
// unknown first peer is unknown_next_peer, spec vector 7).
func TestLocalFailCode(t *testing.T) {
	for i, tt := range []struct {
		err  error
		want lnwire.FailCode
	}{
		{fmt.Errorf("x: %w", ErrUnknownChannel), lnwire.CodeUnknownNextPeer},
		{fmt.Errorf("x: %w", ErrInsufficientBalance), lnwire.CodeTemporaryChannelFailure},
		{ErrTooManyHTLCs, lnwire.CodeTemporaryChannelFailure},
	} {
		if got := LocalFailCode(tt.err); got != tt.want {
			t.Errorf("#%d: %v -> %v, want %v", i, tt.err, got, tt.want)
		}
	}
}
