package journal

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// TestMain lets the test binary be the other process that holds a claim.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PERFBENCH_TEST_HOLD_CLAIM"); dir != "" {
		if _, err := ClaimItem(dir, "prepare", time.Now()); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		// Hold it until killed.
		select {}
	}
	os.Exit(m.Run())
}

// holdClaim starts another process that claims dir and waits until it
// holds it.
func holdClaim(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PERFBENCH_TEST_HOLD_CLAIM="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("holder: %q", line)
	}
	return cmd
}

func TestClaimHeldByAnotherProcessIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "item-0000")
	holder := holdClaim(t, dir)

	c, err := ClaimItem(dir, "prepare", time.Now())
	var held *HeldError
	if !errors.As(err, &held) {
		c.Release()
		t.Fatalf("claimed an item another process holds (err %v)", err)
	}
	if held.Holder == nil || held.Holder.PID != holder.Process.Pid || held.Holder.Command != "prepare" || held.Holder.Host == "" {
		t.Fatalf("holder %+v, want pid %d (prepare)", held.Holder, holder.Process.Pid)
	}
	if msg := err.Error(); !strings.Contains(msg, "item-0000: held by pid ") || !strings.Contains(msg, "(prepare) since ") {
		t.Errorf("message %q does not name the holder", msg)
	}

	// Killed with -9, the holder leaves its claim file; its lock is free,
	// so the claim is taken over and rewritten.
	holder.Process.Kill()
	holder.Wait()
	data, _ := os.ReadFile(filepath.Join(dir, ClaimFile))
	if len(data) == 0 {
		t.Fatal("the dead holder's claim file is empty: the takeover below proves nothing")
	}
	c, err = ClaimItem(dir, "evaluate", time.Now())
	if err != nil {
		t.Fatalf("a claim whose process died was not taken over: %v", err)
	}
	defer c.Release()
	h := readHolder(filepath.Join(dir, ClaimFile))
	if h == nil || h.PID != os.Getpid() || h.Command != "evaluate" || h.SchemaVersion != records.SchemaVersion {
		t.Fatalf("claim file after takeover: %+v", h)
	}
}

func TestStaleClaimFileIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	// Whoever wrote it, nobody holds its lock.
	stale := `{"schema_version":1,"command":"prepare","host":"elsewhere","pid":999999999,"since":"2020-01-01T00:00:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, ClaimFile), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ClaimItem(dir, "prepare", time.Now())
	if err != nil {
		t.Fatalf("stale claim not taken over: %v", err)
	}
	// Held now, in this process too: a second claim is refused.
	if c2, err := ClaimItem(dir, "prepare", time.Now()); err == nil {
		c2.Release()
		t.Fatal("one item claimed twice")
	}
	c.Release()
	if data, _ := os.ReadFile(filepath.Join(dir, ClaimFile)); len(data) != 0 {
		t.Errorf("released claim still says %q", data)
	}
	c, err = ClaimItem(dir, "prepare", time.Now())
	if err != nil {
		t.Fatalf("released claim not free: %v", err)
	}
	c.Release()
}

func TestSpentSumsLedgersAndLegacySpend(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	for _, l := range []*Ledger{
		{Harness: records.Harness{Host: "a", PID: 10}, StartedAt: now, UpdatedAt: now, SpentUSD: 1.25},
		{Harness: records.Harness{Host: "b.example", PID: 10}, StartedAt: now, UpdatedAt: now, SpentUSD: 0.5},
	} {
		if err := WriteLedger(dir, l); err != nil {
			t.Fatal(err)
		}
	}
	// A run.json written before ledgers counts as one more.
	got, bad := Spent(dir, &records.Run{SpentUSD: 2})
	if got != 3.75 || len(bad) != 0 {
		t.Fatalf("Spent = %v (bad %v), want 3.75", got, bad)
	}
	// One process rewriting its own ledger replaces only its part.
	if err := WriteLedger(dir, &Ledger{Harness: records.Harness{Host: "a", PID: 10}, SpentUSD: 1.5}); err != nil {
		t.Fatal(err)
	}
	if got, _ := Spent(dir, &records.Run{}); got != 2 {
		t.Fatalf("Spent = %v, want 2", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "ledger.c.1.json"), []byte(`{"schema_version": 9, "spent_usd": 5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, bad := Spent(dir, &records.Run{}); got != 2 || len(bad) != 1 || !strings.Contains(bad[0].Error(), "schema_version 9") {
		t.Fatalf("Spent = %v, bad %v: want 2 and the unknown ledger reported", got, bad)
	}
}

// Two processes of one host name and pid (containers, each with its own
// pid namespace) keep two ledgers: neither overwrites the other's spend.
func TestLedgersOfOneHostAndPidDoNotCollide(t *testing.T) {
	dir := t.TempDir()
	a, b := NewLedger(time.Now()), NewLedger(time.Now())
	a.SpentUSD, b.SpentUSD = 1.25, 2.5
	for _, l := range []*Ledger{a, b} {
		if err := WriteLedger(dir, l); err != nil {
			t.Fatal(err)
		}
	}
	if LedgerPath(dir, a) == LedgerPath(dir, b) {
		t.Fatalf("one path for two ledgers: %s", LedgerPath(dir, a))
	}
	if got, bad := Spent(dir, &records.Run{}); got != 3.75 || len(bad) > 0 {
		t.Errorf("Spent = %v %v, want 3.75", got, bad)
	}
}
