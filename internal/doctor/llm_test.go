package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/config"
)

// provider answers /models like an OpenAI-compatible endpoint: 200 for the
// good key, 401 otherwise.
func provider(t *testing.T, good string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+good {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"Incorrect API key provided"}}`))
			return
		}
		w.Write([]byte(`{"data":[{"id":"m"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLLMCredentials(t *testing.T) {
	srv := provider(t, "sk-good-0123456789")
	ctx := context.Background()
	ok := checkLLM(ctx, srv.Client(), map[string]string{"LLM_API_KEY": "sk-good-0123456789", "LLM_BASE_URL": srv.URL + "/v1", "LLM_MODEL": "openai/gpt-4o"}, "")
	if !ok.OK || !strings.Contains(ok.Detail, "LLM_API_KEY at LLM_BASE_URL valid (HTTP 200") {
		t.Errorf("200: %+v", ok)
	}
	bad := checkLLM(ctx, srv.Client(), map[string]string{"LLM_API_KEY": "sk-expired-0123456789", "LLM_BASE_URL": srv.URL + "/v1"}, "")
	if bad.OK || !strings.Contains(bad.Detail, "rejected") || !strings.Contains(bad.Detail, "HTTP 401") {
		t.Errorf("401: %+v", bad)
	}
	if strings.Contains(bad.Detail+ok.Detail, "0123456789") {
		t.Error("a key value in the detail")
	}
	// A provider key, at its base URL.
	p := checkLLM(ctx, srv.Client(), map[string]string{"OPENAI_API_KEY": "sk-good-0123456789", "OPENAI_BASE_URL": srv.URL + "/v1"}, "openai/gpt-4o")
	if !p.OK || !strings.Contains(p.Detail, "OPENAI_API_KEY valid") {
		t.Errorf("provider key: %+v", p)
	}
	// Other answers: 404 cannot verify (passes), no answer fails.
	nf := checkLLM(ctx, srv.Client(), map[string]string{"LLM_API_KEY": "k", "LLM_BASE_URL": srv.URL + "/nothing"}, "")
	if !nf.OK || !strings.Contains(nf.Detail, "not verified") {
		t.Errorf("404: %+v", nf)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	down := checkLLM(ctx, srv.Client(), map[string]string{"LLM_API_KEY": "k", "LLM_BASE_URL": url}, "")
	if down.OK || !strings.Contains(down.Detail, "no answer from") {
		t.Errorf("no answer: %+v", down)
	}
}

func TestLLMCredentialsTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := checkLLM(ctx, srv.Client(), map[string]string{"LLM_API_KEY": "k", "LLM_BASE_URL": srv.URL}, "")
	if r.OK || !strings.Contains(r.Detail, "no answer from") {
		t.Errorf("timeout: %+v", r)
	}
}

func TestLLMNotConfigured(t *testing.T) {
	r := checkLLM(context.Background(), http.DefaultClient, map[string]string{"PATH": "/bin"}, "anthropic/claude")
	if r.OK || !r.NotConfigured || !strings.Contains(r.Detail, "no LLM credentials configured") {
		t.Errorf("%+v", r)
	}
	// The preflight goes on without credentials; doctor shows ✗.
	b := &config.Bench{Paths: config.Paths{StateRoot: t.TempDir(), WorkRoot: t.TempDir()}}
	a := &config.Agent{Name: "oh", Type: "openhands", CLI: "/bin/true"}
	checks := Checks(Input{Bench: b, Agent: a, Kinds: all.Kinds(), Env: []string{"PATH=/usr/bin:/bin"}})
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "LLM credentials") {
		t.Fatalf("no credential check in %v", names)
	}
	var only []Check
	for _, c := range checks {
		if c.Name == "LLM credentials" {
			only = append(only, c)
		}
	}
	if err := Preflight(context.Background(), only); err != nil {
		t.Errorf("preflight stopped on missing credentials: %v", err)
	}
}

func TestCredentialsSelection(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		model string
		want  []string // URLs or unverifiable markers
	}{
		{map[string]string{"LLM_API_KEY": "k"}, "anthropic/claude-sonnet-4", []string{"https://api.anthropic.com/v1/models"}},
		{map[string]string{"LLM_API_KEY": "k"}, "gpt-4o", []string{"https://api.openai.com/v1/models"}},
		{map[string]string{"LLM_API_KEY": "k"}, "openrouter/x/y", []string{"https://openrouter.ai/api/v1/key"}},
		{map[string]string{"LLM_API_KEY": "k"}, "bedrock/anthropic.claude", []string{"unverifiable"}},
		{map[string]string{"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}, "anthropic/claude", []string{"https://api.anthropic.com/v1/models"}},
		{map[string]string{"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}, "", []string{"https://api.anthropic.com/v1/models", "https://api.openai.com/v1/models"}},
		{map[string]string{"GEMINI_API_KEY": "g"}, "gemini/gemini-2.5-pro", []string{"https://generativelanguage.googleapis.com/v1beta/models"}},
		{map[string]string{"AWS_ACCESS_KEY_ID": "x"}, "bedrock/anthropic.claude", []string{"unverifiable"}},
	} {
		var got []string
		for _, c := range credentials(tc.env, tc.model) {
			if c.Unverifiable != "" {
				got = append(got, "unverifiable")
			} else {
				got = append(got, c.URL)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("credentials(%v, %q) = %v, want %v", tc.env, tc.model, got, tc.want)
		}
	}
}

// TestCredentialNames: the names a cluster's Secret must provide cover
// every key the check reads, narrowed to the model's provider.
func TestCredentialNames(t *testing.T) {
	all := CredentialNames("")
	for _, pk := range providerKeys {
		if !slices.Contains(all, pk.env) {
			t.Errorf("CredentialNames(\"\") lacks %s", pk.env)
		}
	}
	claude := CredentialNames("claude-sonnet-4")
	if !slices.Contains(claude, "ANTHROPIC_API_KEY") || !slices.Contains(claude, "LLM_API_KEY") || slices.Contains(claude, "OPENAI_API_KEY") {
		t.Errorf("CredentialNames(claude) = %v", claude)
	}
}
