package htlc

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg"
)

// Network names the Bitcoin network an invoice belongs to. payengine's
// simulated network runs on Regtest.
type Network string

// The networks BOLT 11 invoices can be for.
const (
	Mainnet Network = "mainnet"
	Testnet Network = "testnet"
	Signet  Network = "signet"
	Regtest Network = "regtest"
)

// ErrUnknownNetwork is returned for a network name that is none of Mainnet,
// Testnet, Signet and Regtest (or their aliases, see ParseNetwork).
var ErrUnknownNetwork = errors.New("htlc: unknown network")

// ParseNetwork maps a network name to a Network. Besides the four names it
// accepts Core Lightning's and bitcoind's aliases "bitcoin" (mainnet) and
// "testnet3".
func ParseNetwork(s string) (Network, error) {
	switch s {
	case "mainnet", "bitcoin":
		return Mainnet, nil
	case "testnet", "testnet3":
		return Testnet, nil
	case "signet":
		return Signet, nil
	case "regtest":
		return Regtest, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownNetwork, s)
}

// Params returns the chain parameters zpay32 needs for the network, or
// ErrUnknownNetwork.
func (n Network) Params() (*chaincfg.Params, error) {
	switch n {
	case Mainnet:
		return &chaincfg.MainNetParams, nil
	case Testnet:
		return &chaincfg.TestNet3Params, nil
	case Signet:
		return &chaincfg.SigNetParams, nil
	case Regtest:
		return &chaincfg.RegressionNetParams, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownNetwork, string(n))
}

// Currency returns the BOLT 11 currency prefix of the network as Core
// Lightning's decodepay prints it: "bc", "tb", "tbs" or "bcrt".
func (n Network) Currency() (string, error) {
	p, err := n.Params()
	if err != nil {
		return "", err
	}
	if n == Signet {
		// BOLT 11 gives signet its own prefix; its segwit HRP is
		// testnet's "tb".
		return "tbs", nil
	}
	return p.Bech32HRPSegwit, nil
}
