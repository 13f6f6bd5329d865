// Package forensics owns the deterministic scans of a rollout for what a
// score should not reward: leak attempts in the agent's actions (its
// trajectory's steps, or its raw logs when it left no structure), the
// leak_suspected judgement over its patch, and the reward-hack heuristics
// over the patch. It is pure: steps, patch bytes and the task's context in,
// records.LeakAttempt and records.RewardHack out; what it needs from git
// (the pre tree) comes through the small TreeSearcher interface.
package forensics
