package agent

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		text string
		want InfraKind
	}{
		{`API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, InfraAuth},
		{"Error: OAuth token has expired. Please obtain a new token", InfraAuth},
		{"litellm.AuthenticationError: AnthropicException - invalid x-api-key", InfraAuth},
		{"litellm.AuthenticationError: BedrockException Invalid Authentication", InfraAuth},
		{"unexpected status 403 Forbidden: permission denied for this key", InfraAuth},
		{"Incorrect API key provided: sk-abc", InfraAuth},
		{"ExpiredTokenException: The security token included in the request is expired", InfraAuth},
		{"google.api_core.exceptions.InvalidArgument: 400 API key not valid. Please pass a valid API key.", InfraAuth},
		{"stream error: 429 Too Many Requests", InfraRateLimit},
		{"litellm.RateLimitError: rate limit exceeded", InfraRateLimit},
		// An unavailable provider: 5xx, Anthropic's 529 overload.
		{`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, InfraProviderUnavailable},
		{`API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011"}`, InfraProviderUnavailable},
		{"litellm.InternalServerError: AnthropicException - Overloaded", InfraProviderUnavailable},
		{"Error code: 500 - {'type': 'error', 'error': {'type': 'api_error', 'message': 'Internal server error'}}", InfraProviderUnavailable},
		{"unexpected status 502 Bad Gateway: upstream connect error", InfraProviderUnavailable},
		{"Error code: 503 - upstream connect error or disconnect/reset before headers", InfraProviderUnavailable},
		{"HTTP/1.1 503 from https://api.openai.com/v1/responses", InfraProviderUnavailable},
		{"STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR", InfraProviderUnavailable},
		{"litellm.ServiceUnavailableError: OpenAIException - Service Unavailable", InfraProviderUnavailable},
		{"The API provider's servers are down or overloaded.", InfraProviderUnavailable},
		// A server error that says why is that class.
		{"litellm.InternalServerError: rate limit exceeded, retry later", InfraRateLimit},
		{"botocore.errorfactory.ThrottlingException: Too many tokens, please wait", InfraRateLimit},
		{"You exceeded your current quota, please check your plan and billing details (insufficient_quota)", InfraBilling},
		{"Your credit balance is too low to access the Anthropic API.", InfraBilling},
		{"The model `gpt-9` does not exist or you do not have access to it.", InfraModelNotFound},
		{`{"error":{"code":"model_not_found"}}`, InfraModelNotFound},
		{"litellm.NotFoundError: not_found_error: model: claude-x", InfraModelNotFound},
		// An agent's own output: line numbers, test counts, token counts,
		// its tests' HTTP errors, its files.
		{"Traceback: ZeroDivisionError: division by zero", ""},
		{"tests failed: 4 of 401 cases", ""},
		{`  File "/w/parser.py", line 429, in parse`, ""},
		{"429 passed, 3 failed in 2.01s", ""},
		{"benchmark took 529 ms", ""},
		{"500 passed, 2 skipped in 3.10s", ""},
		{"ran 502 iterations, 503 samples", ""},
		{`  File "/w/server.py", line 500, in handle`, ""},
		{"the job queue is overloaded with 503 entries", ""},
		{"E       assert response.status_code == 500", ""},
		{`{"type":"turn.completed","usage":{"input_tokens":401,"cached_input_tokens":403,"output_tokens":88}}`, ""},
		{"model checkpoint not found, training from scratch", ""},
		{"", ""},
	}
	for _, c := range cases {
		got := Classify(c.text)
		switch {
		case c.want == "" && got != nil:
			t.Errorf("Classify(%q) = %v, want nothing", c.text, got)
		case c.want != "" && (got == nil || got.Kind != c.want):
			t.Errorf("Classify(%q) = %v, want %s", c.text, got, c.want)
		}
	}
	got := Classify("line one\nline two: 429 Too Many Requests here\nline three")
	if got == nil || got.Msg != "line two: 429 Too Many Requests here" {
		t.Fatalf("Msg = %+v, want the matching line", got)
	}
	// The last error is why the agent failed: a rate limit it retried past
	// earlier does not count.
	got = Classify("warning: 429 Too Many Requests, retrying\nok\nError: 401 Unauthorized: invalid api key")
	if got == nil || got.Kind != InfraAuth {
		t.Fatalf("last match: got %+v, want auth", got)
	}
	long := Classify(strings.Repeat("x", 500) + " 429 Too Many Requests " + strings.Repeat("y", 500))
	if long == nil || len(long.Msg) > 210 {
		t.Fatalf("Msg not trimmed: %+v", long)
	}
}

func TestLineWriter(t *testing.T) {
	var log bytes.Buffer
	var lines []string
	w := &LineWriter{W: &log, Fn: func(l []byte) { lines = append(lines, string(l)) }}
	for _, chunk := range []string{"fir", "st\nsecond\r\n", "", "thi", "rd\n", "tail"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("before Close: %q", lines)
	}
	w.Close()
	want := []string{"first", "second", "third", "tail"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", lines, want)
	}
	if log.String() != "first\nsecond\r\nthird\ntail" {
		t.Fatalf("log = %q: bytes must pass through unchanged", log.String())
	}
}

func TestLineWriterSkipsOverlongLines(t *testing.T) {
	var lines []string
	w := &LineWriter{W: &bytes.Buffer{}, Fn: func(l []byte) { lines = append(lines, string(l[:min(len(l), 5)])) }}
	big := bytes.Repeat([]byte("z"), maxParsedLine+10)
	w.Write(big)
	w.Write([]byte("zz\nnext\n"))
	if len(lines) != 1 || lines[0] != "next" {
		t.Fatalf("lines = %q, want only the line after the over-long one", lines)
	}
}

func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), 2)
	f.Add([]byte("\n\n\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		var log bytes.Buffer
		var got [][]byte
		w := &LineWriter{W: &log, Fn: func(l []byte) { got = append(got, append([]byte(nil), l...)) }}
		if split <= 0 {
			split = 1
		}
		for i := 0; i < len(data); i += split {
			w.Write(data[i:min(len(data), i+split)])
		}
		w.Close()
		if !bytes.Equal(log.Bytes(), data) {
			t.Fatal("bytes changed on the way to the log")
		}
		var want [][]byte
		parts := bytes.Split(data, []byte("\n"))
		for i, l := range parts {
			if i == len(parts)-1 {
				// The final unterminated line: no line ending to trim.
				if len(l) > 0 {
					want = append(want, l)
				}
				break
			}
			want = append(want, bytes.TrimSuffix(l, []byte("\r")))
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
			}
		}
	})
}

func TestPriceUsage(t *testing.T) {
	b := &config.Bench{Prices: map[string]config.Price{
		"gpt-5":  {Input: 1.25, Output: 10, CachedInput: 0.125},
		"sonnet": {Input: 3, Output: 15},
	}}
	u := records.Usage{InputTokens: 1_000_000, CacheReadTokens: 400_000, OutputTokens: 100_000}
	got, ok := PriceUsage(b, "openai/gpt-5", u)
	want := 0.6*1.25 + 0.4*0.125 + 0.1*10
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Fatalf("PriceUsage(openai/gpt-5) = %v, %v; want %v", got, ok, want)
	}
	// Without a cached price, cached tokens are ordinary input.
	got, _ = PriceUsage(b, "sonnet", u)
	if want := 1*3 + 0.1*15; math.Abs(got-want) > 1e-9 {
		t.Fatalf("PriceUsage(sonnet) = %v, want %v", got, want)
	}
	// Cache writes (inside InputTokens, like cache reads) cost 1.25 ×
	// input for Anthropic's models unless cache_write says otherwise.
	b.Prices["claude-sonnet-4-5"] = config.Price{Input: 3, Output: 15, CachedInput: 0.3}
	b.Prices["glm-4.6"] = config.Price{Input: 0.6, Output: 2.2, CachedInput: 0.11, CacheWrite: 0.9}
	cw := records.Usage{InputTokens: 1_000_000, CacheReadTokens: 500_000, CacheWriteTokens: 200_000, OutputTokens: 100_000}
	for _, c := range []struct {
		model string
		want  float64
	}{
		// 0.3M uncached × 3 + 0.5M read × 0.3 + 0.2M written × 3.75 + 0.1M out × 15
		{"anthropic/claude-sonnet-4-5", 0.9 + 0.15 + 0.75 + 1.5},
		{"claude-sonnet-4-5", 0.9 + 0.15 + 0.75 + 1.5},
		// gpt-5: writes at the input rate: 0.3M × 1.25 + 0.5M × 0.125 + 0.2M × 1.25 + 0.1M × 10
		{"openai/gpt-5", 0.375 + 0.0625 + 0.25 + 1},
		// an explicit cache_write: 0.3M × 0.6 + 0.5M × 0.11 + 0.2M × 0.9 + 0.1M × 2.2
		{"zai/glm-4.6", 0.18 + 0.055 + 0.18 + 0.22},
	} {
		if got, ok := PriceUsage(b, c.model, cw); !ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("PriceUsage(%s) with cache writes = %v, %v; want %v", c.model, got, ok, c.want)
		}
	}
	if _, ok := PriceUsage(b, "unknown", u); ok {
		t.Fatal("an unknown model must not be priced")
	}
	if _, ok := PriceUsage(nil, "gpt-5", u); ok {
		t.Fatal("no table, no price")
	}
}
