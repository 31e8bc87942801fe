package persistence

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/messages"
)

// durabilityChild, in the environment, makes TestAckedWriteSurvivesKill
// the child: "dir id" opens the ledger in dir, writes record id, prints
// "acked id" once Write returned, then writes filler until it is killed.
const durabilityChild = "PERSISTENCE_DURABILITY_CHILD"

// fillerBase numbers the child's filler records, apart from the acked ones.
const fillerBase = 1 << 40

// A write acknowledged is on disk: a child process writes a payment and
// its pending attempt, says "acked" once Write returned, and is SIGKILLed
// the moment the parent reads it, in the middle of the next writes. The
// reopened ledger has that record and every one acked before, with the
// attempt in the pending index. A process kill keeps the OS's page cache,
// so this checks that Write waits for the write to reach the OS (the WAL),
// not the fsync against power loss.
func TestAckedWriteSurvivesKill(t *testing.T) {
	if arg := os.Getenv(durabilityChild); arg != "" {
		durabilityChildMain(arg)
		return
	}
	const rounds = 20
	dir := t.TempDir()
	for id := uint64(1); id <= rounds; id++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAckedWriteSurvivesKill$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", durabilityChild, dir, id))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == fmt.Sprintf("acked %d", id) {
					cmd.Process.Kill()
					acked <- true
					break
				}
			}
			acked <- false
		}()
		var ok bool
		select {
		case ok = <-acked:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
		cmd.Wait()
		if !ok {
			t.Fatalf("round %d: the child did not ack; stderr:\n%s", id, stderr.String())
		}

		l := openT(t, dir, nil)
		pending, err := l.Pending()
		if err != nil {
			t.Fatal(err)
		}
		inPending := map[[32]byte]bool{}
		for _, a := range pending {
			inPending[a.PaymentHash] = true
		}
		for j := uint64(1); j <= id; j++ {
			p, a := durableRecord(j)
			got, err := l.Payment(p.PaymentHash, p.GroupID)
			p.ID = got.ID
			if err != nil || !reflect.DeepEqual(got, p) {
				t.Errorf("round %d: record %d after the kill: %+v, %v; want %+v", id, j, got, err, p)
			}
			atts, err := l.Attempts(a.PaymentHash, a.GroupID)
			if err != nil || len(atts) != 1 || !reflect.DeepEqual(atts[0], a) {
				t.Errorf("round %d: attempt %d after the kill: %+v, %v", id, j, atts, err)
			}
			if !inPending[a.PaymentHash] {
				t.Errorf("round %d: attempt %d is not in the pending index", id, j)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
	}
}

// durableRecord is the payment and pending attempt the child writes as id.
func durableRecord(id uint64) (messages.Payment, messages.Attempt) {
	p := fullPayment(id)
	p.Label = fmt.Sprintf("acked %d", id)
	return p, fullAttempt(id, 0, messages.AttemptPending)
}

func durabilityChildMain(arg string) {
	dir, idText, _ := strings.Cut(arg, " ")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	l, err := Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	p, a := durableRecord(id)
	if err := l.Write(context.Background(), &Batch{Payments: []messages.Payment{p}, Attempts: []messages.Attempt{a}}); err != nil {
		fmt.Fprintln(os.Stderr, "child: write:", err)
		os.Exit(2)
	}
	fmt.Printf("acked %d\n", id)
	// Keep the ledger busy until the kill lands.
	for i := uint64(fillerBase + id<<20); ; i++ {
		p := fullPayment(i)
		if err := l.Write(context.Background(), &Batch{Payments: []messages.Payment{p}}); err != nil {
			fmt.Fprintln(os.Stderr, "child: filler:", err)
			os.Exit(2)
		}
	}
}
