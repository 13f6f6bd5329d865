package records

// Usage is what an agent spent, as it reported it (or as the harness
// priced its tokens): the journal's usage.
type Usage struct {
	CostUSD          float64 `json:"cost_usd"`
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	CacheReadTokens  int64   `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int64   `json:"cache_write_tokens,omitempty"`
	Turns            int     `json:"turns"`
	// Source says where the numbers come from ("metrics.json", "result
	// event", ...); "" when nothing was reported.
	Source string `json:"source,omitempty"`
	// Partial is true when the agent was stopped before reporting final
	// totals and the numbers were read from its stream so far.
	Partial bool `json:"partial,omitempty"`
}
