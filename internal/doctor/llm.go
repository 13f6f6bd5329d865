package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// LLMTimeout bounds the credential check's request.
const LLMTimeout = 10 * time.Second

// credential is one configured LLM credential and how to verify it: a GET
// of the provider's model list (or key) endpoint.
type credential struct {
	// What names the credential by its variables, never by value.
	What   string
	URL    string
	Header http.Header
	// Unverifiable explains why no request is possible.
	Unverifiable string
}

// providerOf returns the provider of a LiteLLM model name
// ("anthropic/claude-x" → anthropic, "claude-x" → anthropic, "gpt-4o" →
// openai), "" when unknown.
func providerOf(model string) string {
	m := strings.ToLower(model)
	if p, _, ok := strings.Cut(m, "/"); ok {
		switch p {
		case "anthropic", "openai", "openrouter", "gemini", "bedrock":
			return p
		case "litellm_proxy":
			return ""
		}
	}
	switch {
	case strings.HasPrefix(m, "claude"):
		return "anthropic"
	case strings.HasPrefix(m, "gpt-"), strings.HasPrefix(m, "o1"), strings.HasPrefix(m, "o3"), strings.HasPrefix(m, "o4"):
		return "openai"
	case strings.HasPrefix(m, "gemini"):
		return "gemini"
	}
	return ""
}

// providerKeys are the provider-specific credential variables, in the
// order checked when the model names no provider.
var providerKeys = []struct{ provider, env string }{
	{"anthropic", "ANTHROPIC_API_KEY"},
	{"openai", "OPENAI_API_KEY"},
	{"openrouter", "OPENROUTER_API_KEY"},
	{"gemini", "GEMINI_API_KEY"},
}

// CredentialNames are the variables the LLM credentials check reads for
// model: LLM_API_KEY, LLM_BASE_URL and LLM_MODEL, and its provider's key
// and base URL (every provider's when the model names none). A cluster's
// pods take them from a Secret by these names (bench k8s render).
func CredentialNames(model string) []string {
	names := []string{"LLM_API_KEY", "LLM_BASE_URL", "LLM_MODEL"}
	byProvider := map[string][]string{
		"anthropic":  {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"},
		"openai":     {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"},
		"openrouter": {"OPENROUTER_API_KEY", "OPENROUTER_API_BASE"},
		"gemini":     {"GEMINI_API_KEY", "GOOGLE_API_KEY"},
		"bedrock":    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"},
	}
	if p := providerOf(model); p != "" {
		return append(names, byProvider[p]...)
	}
	for _, p := range []string{"anthropic", "openai", "openrouter", "gemini", "bedrock"} {
		names = append(names, byProvider[p]...)
	}
	return names
}

// endpoint builds the request that verifies key for provider. base
// overrides the provider's default URL (OPENAI_BASE_URL, ...).
func endpoint(provider, what, key, base string) credential {
	c := credential{What: what, Header: http.Header{}}
	trim := func(s string) string { return strings.TrimRight(s, "/") }
	switch provider {
	case "anthropic":
		c.URL = trim(or(base, "https://api.anthropic.com")) + "/v1/models"
		c.Header.Set("x-api-key", key)
		c.Header.Set("anthropic-version", "2023-06-01")
	case "openai":
		c.URL = trim(or(base, "https://api.openai.com/v1")) + "/models"
		c.Header.Set("Authorization", "Bearer "+key)
	case "openrouter":
		// /models answers without a key; /key checks it.
		c.URL = trim(or(base, "https://openrouter.ai/api/v1")) + "/key"
		c.Header.Set("Authorization", "Bearer "+key)
	case "gemini":
		c.URL = trim(or(base, "https://generativelanguage.googleapis.com/v1beta")) + "/models"
		c.Header.Set("x-goog-api-key", key)
	case "bedrock":
		c.Unverifiable = "Bedrock requests need AWS request signing"
	default:
		c.Unverifiable = "unknown provider; set LLM_BASE_URL to verify against <base>/models"
	}
	return c
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// credentials lists the credentials worth verifying for model: LLM_API_KEY
// (against LLM_BASE_URL + /models, or the model's provider), else the
// model's provider key, else every provider key that is set. AWS
// credentials for Bedrock are reported but cannot be verified.
func credentials(env map[string]string, model string) []credential {
	if model == "" {
		model = env["LLM_MODEL"]
	}
	prov := providerOf(model)
	if key := env["LLM_API_KEY"]; key != "" {
		if base := env["LLM_BASE_URL"]; base != "" {
			c := credential{What: "LLM_API_KEY at LLM_BASE_URL", URL: strings.TrimRight(base, "/") + "/models", Header: http.Header{}}
			c.Header.Set("Authorization", "Bearer "+key)
			if prov == "anthropic" {
				c.Header.Set("x-api-key", key)
				c.Header.Set("anthropic-version", "2023-06-01")
			}
			return []credential{c}
		}
		return []credential{endpoint(prov, "LLM_API_KEY ("+or(prov, "provider unknown")+")", key, "")}
	}
	base := func(p string) string {
		switch p {
		case "openai":
			return or(env["OPENAI_BASE_URL"], env["OPENAI_API_BASE"])
		case "anthropic":
			return env["ANTHROPIC_BASE_URL"]
		case "openrouter":
			return env["OPENROUTER_API_BASE"]
		}
		return ""
	}
	var out []credential
	for _, pk := range providerKeys {
		if key := env[pk.env]; key != "" && (prov == "" || prov == pk.provider) {
			out = append(out, endpoint(pk.provider, pk.env, key, base(pk.provider)))
		}
	}
	if prov == "gemini" && env["GEMINI_API_KEY"] == "" && env["GOOGLE_API_KEY"] != "" {
		out = append(out, endpoint("gemini", "GOOGLE_API_KEY", env["GOOGLE_API_KEY"], ""))
	}
	if (prov == "bedrock" || prov == "") && env["AWS_ACCESS_KEY_ID"] != "" && (prov == "bedrock" || len(out) == 0) {
		out = append(out, credential{What: "AWS_ACCESS_KEY_ID", Unverifiable: "Bedrock requests need AWS request signing"})
	}
	return out
}

// checkLLM verifies the configured credentials. With none configured it
// fails with NotConfigured set (doctor shows ✗, prepare's preflight goes
// on).
func checkLLM(ctx context.Context, client *http.Client, env map[string]string, model string) Result {
	creds := credentials(env, model)
	if len(creds) == 0 {
		return Result{NotConfigured: true, Detail: "no LLM credentials configured (LLM_API_KEY with LLM_MODEL, or ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENROUTER_API_KEY, GEMINI_API_KEY, AWS_* for Bedrock) in the environment or .env"}
	}
	var details []string
	ok := true
	for _, c := range creds {
		if c.Unverifiable != "" {
			details = append(details, fmt.Sprintf("%s set (not verified: %s)", c.What, c.Unverifiable))
			continue
		}
		good, msg := probe(ctx, client, c)
		ok = ok && good
		details = append(details, msg)
	}
	return Result{OK: ok, Detail: strings.Join(details, "; ")}
}

// probe sends one request and explains the answer.
func probe(ctx context.Context, client *http.Client, c credential) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, LLMTimeout)
	defer cancel()
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return false, fmt.Sprintf("%s: bad URL %q", c.What, c.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return false, fmt.Sprintf("%s: %v", c.What, err)
	}
	req.Header = c.Header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Sprintf("%s: no answer from %s within %s", c.What, u.Host, LLMTimeout)
		}
		return false, fmt.Sprintf("%s: no answer from %s (%s)", c.What, u.Host, errorCause(err))
	}
	resp.Body.Close()
	where := u.Host + u.Path
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return true, fmt.Sprintf("%s valid (HTTP %d from %s)", c.What, code, where)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return false, fmt.Sprintf("%s rejected by %s (HTTP %d): the key is invalid, expired or not allowed", c.What, where, code)
	case code == http.StatusTooManyRequests:
		return true, fmt.Sprintf("%s accepted but rate limited by %s (HTTP 429)", c.What, where)
	case code >= 500:
		return false, fmt.Sprintf("%s: %s answered HTTP %d (provider error)", c.What, where, code)
	default:
		return true, fmt.Sprintf("%s not verified: %s answered HTTP %d", c.What, where, code)
	}
}

// errorCause is the innermost message of a request error, without the URL
// (which could carry a token in its query).
func errorCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
