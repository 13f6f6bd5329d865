package agent

import (
	"regexp"
	"strings"

	"github.com/perfbench/perfbench/internal/textx"
)

// InfraKind is the class of an infrastructure failure.
type InfraKind string

// Infrastructure failure classes. Every one makes the item infra_error
// (retried on resume); rate limits and an unavailable provider (5xx,
// overloaded) are also retried at once with backoff, and consecutive auth
// or billing failures stop the run.
const (
	InfraAuth                InfraKind = "auth"
	InfraBilling             InfraKind = "billing"
	InfraRateLimit           InfraKind = "rate_limit"
	InfraProviderUnavailable InfraKind = "provider_unavailable"
	InfraModelNotFound       InfraKind = "model_not_found"
	InfraOther               InfraKind = "infra"
)

// Retried reports whether a failure of this kind is retried at once, with
// backoff: it passes by itself.
func (k InfraKind) Retried() bool { return k == InfraRateLimit || k == InfraProviderUnavailable }

// StopsRun reports whether consecutive failures of this kind stop a run:
// no later item can succeed until someone fixes the account.
func (k InfraKind) StopsRun() bool { return k == InfraAuth || k == InfraBilling }

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
	case InfraBilling:
		return "out of credit: " + e.Msg
	case InfraRateLimit:
		return "rate limited: " + e.Msg
	case InfraProviderUnavailable:
		return "provider unavailable: " + e.Msg
	case InfraModelNotFound:
		return "model not found: " + e.Msg
	}
	return e.Msg
}

// Each pattern needs the context of an API error (a status next to its
// reason, an error type, a provider's message), never a bare number: an
// agent's output is full of line numbers, test counts and token counts.
// Billing comes before rate limits: OpenAI's out-of-credit answer is a
// 429 too. An unavailable provider (500, 502, 503, 529, "overloaded")
// comes last: a server error that says more (a rate limit, an unknown
// model) is that. A 5xx status must not follow a comparison: a web
// project's failing test asserts on its own status codes.
var classifiers = []struct {
	kind InfraKind
	re   *regexp.Regexp
}{
	{InfraBilling, regexp.MustCompile(`(?i)insufficient_quota|exceeded your current quota|credit balance is too low|billing[_ ](hard[_ ]limit|not[_ ]active|error)|payment required|\b402\b[^\n]{0,30}payment`)},
	{InfraAuth, regexp.MustCompile(`(?i)\b(401|403)\b[^\n]{0,40}(unauthori[sz]ed|forbidden|authenticat|api[ _-]?key|credential|expired|permission[ _]denied|invalid[ _-]?(token|key|bearer))|(unauthori[sz]ed|forbidden|authentication[_ ]error|permission[_ ]denied)[^\n]{0,40}\b(401|403)\b|authentication_?error|authenticationerror|permissiondeniederror|authentication[ _]failed|invalid[ _-]?(x-)?api[ _-]?key|incorrect api key|api key not valid|expiredtoken|security token included in the request is (expired|invalid)|(oauth |access |api |auth )?(token|credential|key|session)s? (has |have )?(expired|is expired|are expired)|expired (oauth |access |api )?(token|credential|api key|session)|please run /login|invalid_grant`)},
	{InfraRateLimit, regexp.MustCompile(`(?i)(error|status|code|http)[^\n]{0,20}\b429\b|\b429\b[^\n]{0,30}(too many|rate|limit|requests)|rate[ _-]?limit(ed|_error|_exceeded| exceeded| reached| hit)|ratelimiterror|too many requests|resource[ _]exhausted|throttlingexception|\bthrottled\b`)},
	{InfraModelNotFound, regexp.MustCompile("(?i)model[_ ]not[_ ]found|the model [`'\"][^`'\"\n]+[`'\"] does not exist|not_found_error[^\n]{0,80}model|notfounderror|unknown model|no such model|invalid model (name|id)|model [`'\"][^`'\"\n]+[`'\"] (is not (found|available|supported)|not found)")},
	{InfraProviderUnavailable, regexp.MustCompile(`(?i)(error|status|code|http)[^\n=<>!]{0,20}\b(500|502|503|529)\b|\b(500|502|503|529)\b[^\n]{0,30}(overload|unavailable|gateway|internal server)|internal[_ ]?server[_ ]?error|service[_ ]?unavailable|bad[_ ]?gateway|overloaded_error|\boverloaded\b[^\n]{0,40}(retry|try again|error|api)|(api|server|model|service|exception|error)[^\n]{0,40}\boverloaded\b`)},
}

// Classify finds an infrastructure failure in an agent's output (the tail
// of its logs, an error event): out of credit, auth invalid or expired
// (401/403, "expired"), rate limit (429, "rate limit"), model not found,
// provider unavailable (500, 502, 503, 529, internal_server_error,
// "service unavailable", "bad gateway", "overloaded"). The last line that matches wins (a
// rate limit the agent retried past is not why it failed later). It
// returns nil when nothing matches. Only call it on a rollout that
// failed: a successful agent may well print these words.
func Classify(text string) *InfraError {
	for end := len(text); end > 0; {
		start := strings.LastIndexByte(text[:end], '\n') + 1
		line := text[start:end]
		for _, c := range classifiers {
			if loc := c.re.FindStringIndex(line); loc != nil {
				return &InfraError{Kind: c.kind, Msg: lineAround(line, loc[0], loc[1])}
			}
		}
		end = start - 1
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
	return textx.Truncate(strings.TrimSpace(text[start:end]), 200)
}
