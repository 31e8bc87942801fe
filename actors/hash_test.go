package actors

import "crypto/sha256"

func htlcHash(p [32]byte) [32]byte { return sha256.Sum256(p[:]) }
