package evaluate

import "github.com/perfbench/perfbench/internal/records"

// Order returns the order in which the arms run in round r (0-based):
// B H A, H A B, A B H, then again. Over any three consecutive rounds each
// arm runs once in each position, so a drift of the machine within a round
// (a warming cache, a throttling CPU) favours no arm.
func Order(r int) []records.Arm {
	k := r % len(records.Arms)
	if k < 0 {
		k += len(records.Arms)
	}
	out := make([]records.Arm, 0, len(records.Arms))
	for i := range records.Arms {
		out = append(out, records.Arms[(k+i)%len(records.Arms)])
	}
	return out
}
