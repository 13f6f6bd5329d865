package evaluate

import "github.com/perfbench/perfbench/internal/records"

// Order returns the order in which the three arms run in round r
// (0-based): B H A, H A B, A B H, then again (Rotate of records.Arms).
func Order(r int) []records.Arm { return Rotate(records.Arms, r) }

// Rotate returns the order of arms in round r (0-based): the list rotated
// left by r, so that arms[0] opens round 0, arms[1] round 1, and so on.
// Over any len(arms) consecutive rounds each arm runs once in each
// position, so a drift of the machine within a round (a warming cache, a
// throttling CPU) favours no arm. With K candidates an item has K + 2
// arms: B H A0 … A(K-1).
func Rotate[T any](arms []T, r int) []T {
	n := len(arms)
	if n == 0 {
		return nil
	}
	k := r % n
	if k < 0 {
		k += n
	}
	out := make([]T, 0, n)
	for i := range arms {
		out = append(out, arms[(k+i)%n])
	}
	return out
}
