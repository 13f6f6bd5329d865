package evaluate

// Arm is one of the three candidates of an item.
type Arm string

// The arms, in the order of the first round.
const (
	Base  Arm = "base"
	Human Arm = "human"
	Agent Arm = "agent"
)

// Arms lists the arms in the order of the first round: B H A.
var Arms = []Arm{Base, Human, Agent}

// Order returns the order in which the arms run in round r (0-based):
// B H A, H A B, A B H, then again. Over any three consecutive rounds each
// arm runs once in each position, so a drift of the machine within a round
// (a warming cache, a throttling CPU) favours no arm.
func Order(r int) []Arm {
	k := r % len(Arms)
	if k < 0 {
		k += len(Arms)
	}
	out := make([]Arm, 0, len(Arms))
	for i := range Arms {
		out = append(out, Arms[(k+i)%len(Arms)])
	}
	return out
}
