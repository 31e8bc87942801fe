package simnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// oneNodeDigest digests what a one-node network is: our id, our channels,
// the exported graph, every channel's ends and balances, and the durable
// identity hash.
func oneNodeDigest(t *testing.T, n *Net) string {
	t.Helper()
	h := sha256.New()
	self := n.Self()
	h.Write(self[:])
	for _, scid := range n.LocalChannels() {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(scid)))
	}
	var buf bytes.Buffer
	if err := n.WriteDescribeGraph(&buf); err != nil {
		t.Fatal(err)
	}
	h.Write(buf.Bytes())
	for i := range n.chans {
		c := &n.chans[i]
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(c.scid)))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(c.balance[0])))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(c.balance[1])))
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(c.nodes[0])))
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(c.nodes[1])))
	}
	h.Write(n.identity())
	return hex.EncodeToString(h.Sum(nil))
}

// A one-node network is what it was before Options.Ours: the digests and
// identity hashes below were computed by the code before it, so ids,
// channels, SCIDs, balances, the exported graph and the durable identity
// are unchanged for both seeds.
func TestOursOneNodeUnchanged(t *testing.T) {
	for _, tc := range []struct {
		seed             uint64
		digest, identity string
	}{
		{0, "11bb8d25d89b561e215fbcb14c3cf7df279ba6dbac0acd8ffd8558e8087fa91c", "7a1ec33ae4564ee2b5804b2d9a7b44a9072df6a9951cc69adf1f217cd14f6d0b"},
		{21, "b0f71b4b002d445aef591fdc63a8f8c42821b79a4601c2dea331ce95d5ebf633", "4d0723f40e7b5a1ab38aa7a60ca85d7a895b11162fb35ef4f8083163031133a6"},
	} {
		for _, ours := range []int{0, 1} {
			n, err := Load(sub300, Options{Seed: tc.seed, Ours: ours})
			if err != nil {
				t.Fatal(err)
			}
			if got := oneNodeDigest(t, n); got != tc.digest {
				t.Errorf("seed %d Ours %d: digest %s, want %s", tc.seed, ours, got, tc.digest)
			}
			if got := hex.EncodeToString(n.identity()); got != tc.identity {
				t.Errorf("seed %d Ours %d: identity %s, want %s", tc.seed, ours, got, tc.identity)
			}
			n.Close()
		}
	}
}
