// Package fleet joins a payd to a fleet of members: the engine's claims on
// payment hashes (actors.Claims) over the claims store in etcd, in this
// member's name.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/claims"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Claims is actors.Claims over a claims.Store, for one member.
type Claims struct {
	Store  *claims.Store
	Member string
}

var _ actors.Claims = (*Claims)(nil)

// Claim implements actors.Claims.
func (c *Claims) Claim(ctx context.Context, hash [32]byte) (actors.ClaimState, error) {
	cl, err := c.Store.Claim(ctx, hash, c.Member)
	if err != nil {
		return actors.ClaimState{}, err
	}
	return actors.ClaimState{Mine: cl.HeldBy(c.Member), Holder: cl.Member,
		Complete: cl.State == claims.StateComplete, Preimage: cl.Preimage}, nil
}

// Complete implements actors.Claims; a claim not ours any more is final.
func (c *Claims) Complete(ctx context.Context, hash [32]byte, preimage [32]byte) error {
	_, err := c.Store.Complete(ctx, hash, c.Member, preimage)
	return final(err)
}

// Fail implements actors.Claims; a claim not ours, or complete, is final.
func (c *Claims) Fail(ctx context.Context, hash [32]byte) error {
	_, err := c.Store.Fail(ctx, hash, c.Member)
	return final(err)
}

// Held implements actors.Claims.
func (c *Claims) Held(ctx context.Context) ([][32]byte, error) {
	return c.Store.Held(ctx, c.Member)
}

// final marks the store's refusals that no retry changes.
func final(err error) error {
	if errors.Is(err, claims.ErrNotHolder) || errors.Is(err, claims.ErrComplete) || errors.Is(err, claims.ErrNotClaimed) {
		return fmt.Errorf("%w: %w", actors.ErrClaimFinal, err)
	}
	return err
}

// Dial connects to etcd at endpoints and returns the claims store of the
// fleet named cluster over it (keys under /fleet/<cluster>/); close the
// client when done. It does not wait for etcd: calls fail at their
// deadline while it is away.
func Dial(cluster string, endpoints []string, timeout time.Duration) (*clientv3.Client, *claims.Store, error) {
	// gRPC's reconnect backoff grows to 120 s by default; capped at 500 ms,
	// as in clusterprovider, payments are served again soon after etcd
	// returns.
	bo := backoff.DefaultConfig
	bo.BaseDelay, bo.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 2 * time.Second})}})
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: etcd %v: %w", endpoints, err)
	}
	s, err := claims.New(cli, claims.Options{Prefix: "/fleet/" + cluster + "/claims/",
		HeldPrefix: "/fleet/" + cluster + "/claims-held/", Timeout: timeout})
	if err != nil {
		cli.Close()
		return nil, nil, fmt.Errorf("fleet: claims: %w", err)
	}
	return cli, s, nil
}
