// Command etcdrun runs a single-member etcd (etcd's embed package, at the
// version go.mod pins) on loopback, so that a fleet of payd members can be run
// and tested on one machine without installing etcd, and a test can stop or
// SIGKILL etcd while the members run. It prints "etcdrun ready <client URL>"
// on stdout once etcd serves, and stops cleanly on SIGINT or SIGTERM.
//
//	go run ./cmd/etcdrun --dir /tmp/etcd --client 127.0.0.1:2379
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/payengine/payengine/internal/etcdtest"
)

func main() {
	var opts etcdtest.Options
	flag.StringVar(&opts.Dir, "dir", "", "directory for etcd's data and its log etcd.log (required; a restart on it keeps the keys)")
	flag.StringVar(&opts.ClientAddr, "client", "127.0.0.1:2379", "host:port clients dial (empty: a free loopback port)")
	flag.StringVar(&opts.PeerAddr, "peer", "", "host:port of etcd's peer listener (empty: a free loopback port)")
	flag.BoolVar(&opts.Sync, "sync", false, "fsync etcd's log (off: a killed process loses nothing, a crashed machine may)")
	flag.Parse()
	if opts.Dir == "" {
		log.Fatal("etcdrun: --dir is required")
	}
	if err := run(opts); err != nil {
		log.Fatal(err)
	}
}

func run(opts etcdtest.Options) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s, err := etcdtest.Start(opts)
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Printf("%s%s\n", etcdtest.ReadyPrefix, s.ClientURL)
	select {
	case <-sig:
		return nil
	case err := <-s.Err():
		return fmt.Errorf("etcdrun: etcd failed: %w", err)
	}
}
