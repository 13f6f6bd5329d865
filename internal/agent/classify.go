package agent

import (
	"regexp"
	"strings"
)

// InfraKind is the class of an infrastructure failure.
type InfraKind string

// Infrastructure failure classes. Every one makes the item infra_error
// (retried on resume); rate limits are also retried at once with backoff,
// and consecutive auth failures stop the run.
const (
	InfraAuth          InfraKind = "auth"
	InfraRateLimit     InfraKind = "rate_limit"
	InfraModelNotFound InfraKind = "model_not_found"
	InfraOther         InfraKind = "infra"
)

// InfraError is an Outcome.Infra that knows its class.
type InfraError struct {
	Kind InfraKind
	// Msg is one line, secrets scrubbed.
	Msg string
}

func (e *InfraError) Error() string {
	switch e.Kind {
	case InfraAuth:
		return "authentication failed: " + e.Msg
	case InfraRateLimit:
		return "rate limited: " + e.Msg
	case InfraModelNotFound:
		return "model not found: " + e.Msg
	}
	return e.Msg
}

// Patterns are checked in this order: an expired key that answers 401 is
// an auth failure even when the text also says "error".
var classifiers = []struct {
	kind InfraKind
	re   *regexp.Regexp
}{
	{InfraAuth, regexp.MustCompile(`(?i)\b(401|403)\b.*(unauthori[sz]ed|forbidden|auth|invalid|key|token|credential)|(unauthori[sz]ed|forbidden|authentication[_ ]error|permission[_ ]denied)\b.*\b(401|403)\b|invalid[ _-]?(x-)?api[ _-]?key|incorrect api key|authentication[_ ](error|failed)|(token|credential|key|session|oauth)s? (has |have )?(expired|is expired|are expired)|expired (token|credential|key|session)|\bunauthori[sz]ed\b|please run /login|not logged in|invalid_grant`)},
	{InfraRateLimit, regexp.MustCompile(`(?i)\b429\b|rate[ _-]?limit|too many requests|\boverloaded\b|overloaded_error|resource[ _]exhausted|quota exceeded|insufficient_quota|\b529\b`)},
	{InfraModelNotFound, regexp.MustCompile(`(?i)model[_ ]not[_ ]found|(model|deployment) .{0,80}(does not exist|not found|is not available|unknown)|unknown model|invalid model|no such model|not_found_error.{0,80}model`)},
}

// Classify finds an infrastructure failure in an agent's output (the tail
// of its logs, an error event): auth invalid or expired (401/403,
// "expired"), rate limit or overload (429, "rate limit", "overloaded"),
// model not found. It returns nil when nothing matches. Only call it on a
// rollout that failed: a successful agent may well print these words.
func Classify(text string) *InfraError {
	for _, c := range classifiers {
		if loc := c.re.FindStringIndex(text); loc != nil {
			return &InfraError{Kind: c.kind, Msg: lineAround(text, loc[0], loc[1])}
		}
	}
	return nil
}

// lineAround returns the line holding text[i:j], trimmed to 200 bytes.
func lineAround(text string, i, j int) string {
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[j:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += j
	}
	line := strings.TrimSpace(text[start:end])
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}
