package journal

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// Ledger is one harness process's spend on a run:
// <run>/ledger.<host>.<pid>.<token>.json. Each process writes only its own,
// so no process can overwrite another's spend; the run's spend is the sum.
// The random token tells apart two processes of one host name and pid
// (containers with their own pid namespace) and a process from an earlier
// one whose pid it reuses.
type Ledger struct {
	SchemaVersion int `json:"schema_version"`
	records.Harness
	Token     string    `json:"token,omitempty"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SpentUSD is what the process's rollouts cost, in-flight ones as far
	// as they reported (so a kill -9 loses no spend).
	SpentUSD float64 `json:"spent_usd"`
	// Shard is the process's part of the run ("I/N", prepare --shard);
	// a shard's budget counts its own processes' ledgers.
	Shard string `json:"shard,omitempty"`
}

const ledgerGlob = "ledger.*.json"

// NewLedger is this process's new, empty ledger.
func NewLedger(now time.Time) *Ledger {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Ledger{Harness: Self(), Token: hex.EncodeToString(b[:]), StartedAt: now, UpdatedAt: now}
}

// LedgerPath is the ledger's file in a run directory.
func LedgerPath(runDir string, l *Ledger) string {
	name := "ledger." + Sanitize(l.Host) + "." + strconv.Itoa(l.PID)
	if l.Token != "" {
		name += "." + l.Token
	}
	return filepath.Join(runDir, name+".json")
}

// WriteLedger stores a ledger atomically.
func WriteLedger(runDir string, l *Ledger) error {
	l.SchemaVersion = records.SchemaVersion
	return fsx.WriteJSON(LedgerPath(runDir, l), l)
}

// ReadLedgers returns the run's ledgers by path; unreadable ones are
// returned in bad.
func ReadLedgers(runDir string) (ledgers map[string]*Ledger, bad []error) {
	paths, _ := filepath.Glob(filepath.Join(runDir, ledgerGlob))
	ledgers = map[string]*Ledger{}
	for _, p := range paths {
		var l Ledger
		if err := fsx.ReadJSON(p, &l); err != nil {
			bad = append(bad, err)
			continue
		}
		if l.SchemaVersion != records.SchemaVersion {
			bad = append(bad, fmt.Errorf("ledger %s: schema_version %d, expected %d", p, l.SchemaVersion, records.SchemaVersion))
			continue
		}
		ledgers[p] = &l
	}
	return ledgers, bad
}

// Spent is the run's spend: the sum of its ledgers, plus the spent_usd of
// a run.json written before ledgers existed (one legacy ledger).
func Spent(runDir string, r *records.Run) (float64, []error) {
	ledgers, bad := ReadLedgers(runDir)
	total := r.SpentUSD
	// In a fixed order: the same files always give the same sum.
	for _, p := range slices.Sorted(maps.Keys(ledgers)) {
		total += ledgers[p].SpentUSD
	}
	return total, bad
}
