package prepare

import (
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
)

// max_total_budget_usd is split evenly across the shards unless
// shard_budget_usd says otherwise; an unsharded process keeps the run's.
func TestShardBudgetSplit(t *testing.T) {
	for _, c := range []struct {
		total, perShard float64
		sh              shard.Spec
		want            float64
		name            string
	}{
		{total: 9, sh: shard.Spec{}, want: 9, name: "the run's max_total_budget_usd"},
		{total: 9, sh: shard.Spec{I: 1, N: 3}, want: 3, name: "shard 1/3's share (1/3) of max_total_budget_usd"},
		{total: 9, sh: shard.Spec{I: 0, N: 1}, want: 9, name: "shard 0/1's share (1/1) of max_total_budget_usd"},
		{total: 9, perShard: 4, sh: shard.Spec{I: 2, N: 3}, want: 4, name: "shard 2/3's shard_budget_usd"},
		{perShard: 4, sh: shard.Spec{I: 2, N: 3}, want: 4, name: "shard 2/3's shard_budget_usd"},
		{sh: shard.Spec{I: 0, N: 4}, want: 0},
	} {
		r := &runner{opts: Options{Bench: &config.Bench{MaxTotalBudgetUSD: c.total, ShardBudgetUSD: c.perShard}, Shard: c.sh}}
		got, name := r.budgetCap()
		if got != c.want || (c.name != "" && name != c.name) {
			t.Errorf("total %g, shard_budget_usd %g, shard %q: cap %g (%s), want %g (%s)", c.total, c.perShard, c.sh, got, name, c.want, c.name)
		}
	}
}

// A shard's cap counts its own processes' ledgers (earlier sessions of
// the shard), not the other shards'; an unsharded process counts all.
func TestShardSpendCountsItsLedgers(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, l := range []struct {
		shard string
		usd   float64
	}{{"1/3", 1}, {"1/3", 0.5}, {"0/3", 5}, {"", 2}} {
		led := journal.NewLedger(now)
		led.PID = 100 + i // distinct files
		led.Shard, led.SpentUSD = l.shard, l.usd
		if err := journal.WriteLedger(dir, led); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		sh   shard.Spec
		want float64
	}{{shard.Spec{I: 1, N: 3}, 1.5}, {shard.Spec{I: 2, N: 3}, 0}, {shard.Spec{}, 8.5}} {
		r := &runner{opts: Options{Shard: c.sh, Now: time.Now}, run: &records.Run{}, runDir: dir}
		r.openLedger()
		if got := r.otherSpend(); got != c.want {
			t.Errorf("shard %q: others' spend %g, want %g", c.sh, got, c.want)
		}
		if r.ledger.Shard != c.sh.String() {
			t.Errorf("ledger's shard %q, want %q", r.ledger.Shard, c.sh)
		}
	}
}

func TestBudgetNameInReason(t *testing.T) {
	v := decide(facts{out: &agent.Outcome{}, stopped: errRunBudget, maxTotalBudgetUSD: 3, budgetName: "shard 1/3's share (1/3) of max_total_budget_usd"})
	if !strings.Contains(v.reason, "stopped: shard 1/3's share (1/3) of max_total_budget_usd of $3") {
		t.Errorf("reason %q", v.reason)
	}
	v = decide(facts{out: &agent.Outcome{}, stopped: errRunBudget, maxTotalBudgetUSD: 3})
	if !strings.Contains(v.reason, "stopped: the run's max_total_budget_usd of $3") {
		t.Errorf("reason %q", v.reason)
	}
}

// Spend made outside this N's shards (an unsharded session before the
// shards, shards of another N, a legacy run.json spend) comes off every
// shard's share of max_total_budget_usd equally: the run's total stays
// under the cap. Before, a shard counted only its own ledgers, so a run
// that had spent $6 of $9 unsharded could spend $9 more in 3 shards, and
// `--shard 0/1` after a 3-way split started from $0 again.
func TestShardShareCountsSpendOutsideTheShards(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, l := range []struct {
		shard string
		usd   float64
	}{{"", 4}, {"1/3", 0.5}, {"0/3", 5}, {"0/2", 1}} {
		led := journal.NewLedger(now)
		led.PID = 100 + i
		led.Shard, led.SpentUSD = l.shard, l.usd
		if err := journal.WriteLedger(dir, led); err != nil {
			t.Fatal(err)
		}
	}
	// Outside 3-way shards: $4 unsharded, $1 of a 2-way split, $1 legacy.
	for _, c := range []struct {
		sh       shard.Spec
		perShard float64
		want     float64
	}{
		{sh: shard.Spec{I: 1, N: 3}, want: 0.5 + 6.0/3},
		{sh: shard.Spec{I: 2, N: 3}, want: 6.0 / 3},
		// shard_budget_usd is each shard's own: the outside spend is not its.
		{sh: shard.Spec{I: 1, N: 3}, perShard: 2, want: 0.5},
		// A whole-run shard after the 3-way one: everything else counts.
		{sh: shard.Spec{I: 0, N: 1}, want: 4 + 0.5 + 5 + 1 + 1},
	} {
		b := &config.Bench{MaxTotalBudgetUSD: 9, ShardBudgetUSD: c.perShard}
		r := &runner{opts: Options{Shard: c.sh, Bench: b, Now: time.Now}, run: &records.Run{SpentUSD: 1}, runDir: dir}
		r.openLedger()
		if got := r.otherSpend(); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("shard %q, shard_budget_usd %g: others' spend %g, want %g", c.sh, c.perShard, got, c.want)
		}
	}
}
