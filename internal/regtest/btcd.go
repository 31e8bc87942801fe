package regtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Btcd is how to reach the network's btcd over JSON-RPC (btcctl takes the
// same values: btcctl --regtest --rpcserver --rpcuser --rpcpass --rpccert).
type Btcd struct {
	RPCServer string `json:"rpcserver"`
	RPCUser   string `json:"rpcuser"`
	RPCPass   string `json:"rpcpass"`
	RPCCert   string `json:"rpccert"`
	Dir       string `json:"dir"`
	// MiningAddr receives every coinbase; its key is derived from a fixed
	// seed (minerKey), so the network can spend them without a wallet.
	MiningAddr string `json:"miningaddr"`

	mu     sync.Mutex
	client *http.Client
}

// minerKey is the key of the mining address: fixed, because the coins of
// a throwaway regtest chain need no secret.
func minerKey() (*btcec.PrivateKey, *btcutil.AddressPubKeyHash, error) {
	seed := sha256.Sum256([]byte("payengine regtest miner"))
	priv, pub := btcec.PrivKeyFromBytes(seed[:])
	addr, err := btcutil.NewAddressPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		return nil, nil, fmt.Errorf("mining address: %w", err)
	}
	return priv, addr, nil
}

// httpClient trusts btcd's own certificate, which btcd writes when it
// first starts.
func (b *Btcd) httpClient() (*http.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		return b.client, nil
	}
	pem, err := os.ReadFile(b.RPCCert)
	if err != nil {
		return nil, fmt.Errorf("btcd rpc cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("btcd rpc cert %s: no certificate", b.RPCCert)
	}
	b.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return b.client, nil
}

// args are btcd's flags; the first names the data directory, the mark
// that tells this network's btcd from any other process.
func (b *Btcd) args() []string {
	return []string{
		"--datadir=" + filepath.Join(b.Dir, "data"),
		"--regtest",
		"--configfile=" + filepath.Join(b.Dir, "btcd.conf"),
		"--logdir=" + filepath.Join(b.Dir, "logs"),
		"--rpccert=" + b.RPCCert,
		"--rpckey=" + filepath.Join(b.Dir, "rpc.key"),
		"--rpcuser=" + b.RPCUser,
		"--rpcpass=" + b.RPCPass,
		"--rpclisten=" + b.RPCServer,
		"--rpcmaxwebsockets=200",
		"--rpcmaxclients=200",
		"--nolisten",
		"--txindex",
		"--miningaddr=" + b.MiningAddr,
		"--debuglevel=info",
	}
}

func (b *Btcd) pidFile() string { return filepath.Join(b.Dir, "btcd.pid") }

// start runs btcd and waits until its RPC answers.
func (b *Btcd) start(ctx context.Context, bin string) error {
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return fmt.Errorf("btcd dir: %w", err)
	}
	// An empty config file stops btcd writing a sample one into $HOME.
	if err := os.WriteFile(filepath.Join(b.Dir, "btcd.conf"), nil, 0o644); err != nil {
		return fmt.Errorf("btcd config: %w", err)
	}
	if _, err := startProcess(bin, b.args(), filepath.Join(b.Dir, "btcd.out"), b.pidFile()); err != nil {
		return fmt.Errorf("btcd: %w", err)
	}
	return poll(ctx, 30*time.Second, "btcd RPC", func() error {
		var n int64
		return b.call(ctx, "getblockcount", nil, &n)
	})
}

func (b *Btcd) stop() error {
	return stopProcess(b.pidFile(), b.args()[0], 10*time.Second)
}

// call makes one JSON-RPC call; result may be nil.
func (b *Btcd) call(ctx context.Context, method string, params []any, result any) error {
	client, err := b.httpClient()
	if err != nil {
		return err
	}
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("btcd %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+b.RPCServer, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("btcd %s: %w", method, err)
	}
	req.SetBasicAuth(b.RPCUser, b.RPCPass)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("btcd %s: %w", method, err)
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("btcd %s: HTTP %s: %w", method, resp.Status, err)
	}
	if out.Error != nil {
		return fmt.Errorf("btcd %s: %d %s", method, out.Error.Code, out.Error.Message)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(out.Result, result); err != nil {
		return fmt.Errorf("btcd %s result: %w", method, err)
	}
	return nil
}

// generate mines n blocks and returns their hashes.
func (b *Btcd) generate(ctx context.Context, n int) ([]string, error) {
	var hashes []string
	if err := b.call(ctx, "generate", []any{n}, &hashes); err != nil {
		return nil, err
	}
	return hashes, nil
}

func (b *Btcd) height(ctx context.Context) (int64, error) {
	var n int64
	err := b.call(ctx, "getblockcount", nil, &n)
	return n, err
}

// activateSegwit mines until segwit's BIP9 deployment is active (three
// windows of 144 blocks on regtest), so lnd accepts the chain.
func (b *Btcd) activateSegwit(ctx context.Context) error {
	for i := 0; i < 10; i++ {
		var info struct {
			Bip9 map[string]struct {
				Status string `json:"status"`
			} `json:"bip9_softforks"`
		}
		if err := b.call(ctx, "getblockchaininfo", nil, &info); err != nil {
			return err
		}
		if info.Bip9["segwit"].Status == "active" {
			return nil
		}
		h, err := b.height(ctx)
		if err != nil {
			return err
		}
		// Up to the next multiple of 144 past the third window.
		n := 144 - int(h%144)
		if h < 432 {
			n = int(432 - h)
		}
		if _, err := b.generate(ctx, n); err != nil {
			return err
		}
	}
	return fmt.Errorf("segwit is not active after mining")
}

// fund pays each output from the coinbase of block `block` (mined to the
// miner's key, mature by now) in one transaction and returns its txid.
func (b *Btcd) fund(ctx context.Context, block int64, outs []fundOut) (string, error) {
	priv, addr, err := minerKey()
	if err != nil {
		return "", err
	}
	var hash string
	if err := b.call(ctx, "getblockhash", []any{block}, &hash); err != nil {
		return "", err
	}
	var blk struct {
		Tx []string `json:"tx"`
	}
	if err := b.call(ctx, "getblock", []any{hash}, &blk); err != nil {
		return "", err
	}
	if len(blk.Tx) == 0 {
		return "", fmt.Errorf("block %d has no coinbase", block)
	}
	var cb struct {
		Vout []struct {
			Value float64 `json:"value"`
			N     uint32  `json:"n"`
		} `json:"vout"`
	}
	if err := b.call(ctx, "getrawtransaction", []any{blk.Tx[0], 1}, &cb); err != nil {
		return "", err
	}
	if len(cb.Vout) == 0 {
		return "", fmt.Errorf("coinbase of block %d has no output", block)
	}
	in, err := btcutil.NewAmount(cb.Vout[0].Value)
	if err != nil {
		return "", fmt.Errorf("coinbase value: %w", err)
	}
	prev, err := chainhash.NewHashFromStr(blk.Tx[0])
	if err != nil {
		return "", fmt.Errorf("coinbase txid: %w", err)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(prev, cb.Vout[0].N), nil, nil))
	const fee = btcutil.Amount(100_000)
	var total btcutil.Amount
	for _, o := range outs {
		a, err := btcutil.DecodeAddress(o.Addr, &chaincfg.RegressionNetParams)
		if err != nil {
			return "", fmt.Errorf("address %q: %w", o.Addr, err)
		}
		script, err := txscript.PayToAddrScript(a)
		if err != nil {
			return "", fmt.Errorf("address %q: %w", o.Addr, err)
		}
		tx.AddTxOut(wire.NewTxOut(int64(o.Sat), script))
		total += o.Sat
	}
	if total+fee > in {
		return "", fmt.Errorf("funding %s exceeds the coinbase's %s", total+fee, in)
	}
	minerScript, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return "", fmt.Errorf("miner script: %w", err)
	}
	if change := in - total - fee; change > 0 {
		tx.AddTxOut(wire.NewTxOut(int64(change), minerScript))
	}
	sig, err := txscript.SignatureScript(tx, 0, minerScript, txscript.SigHashAll, priv, true)
	if err != nil {
		return "", fmt.Errorf("sign funding: %w", err)
	}
	tx.TxIn[0].SignatureScript = sig
	var raw bytes.Buffer
	if err := tx.Serialize(&raw); err != nil {
		return "", fmt.Errorf("serialize funding: %w", err)
	}
	var txid string
	if err := b.call(ctx, "sendrawtransaction", []any{hex.EncodeToString(raw.Bytes())}, &txid); err != nil {
		return "", err
	}
	return txid, nil
}

// fundOut is one output of the funding transaction.
type fundOut struct {
	Addr string
	Sat  btcutil.Amount
}

// mempool lists the txids btcd holds unconfirmed.
func (b *Btcd) mempool(ctx context.Context) ([]string, error) {
	var ids []string
	err := b.call(ctx, "getrawmempool", nil, &ids)
	return ids, err
}

// permanent is an error poll does not retry.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// poll runs f until it succeeds, returns a permanent error, ctx ends or d
// passes; the error names what was awaited and f's last error.
func poll(ctx context.Context, d time.Duration, what string, f func() error) error {
	deadline := time.Now().Add(d)
	wait := 20 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s (%s): %w", what, d, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait = wait * 3 / 2
		}
	}
}
