package secrets

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLooksSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"OPENAI_API_KEY":        true,
		"GITHUB_TOKEN":          true,
		"AWS_SECRET_ACCESS_KEY": true,
		"DB_PASSWORD":           true,
		"AWS_SESSION_TOKEN":     true,
		"anthropic_api_key":     true,
		"HF_TOKEN":              true,
		"MYSQL_PASSWD":          true,
		"TOKENS_AND_TOKEN":      true,
		"PATH":                  false,
		"HOME":                  false,
		"LLM_MODEL":             false,
		"MAX_TOKENS":            false,
		"LLM_MAX_OUTPUT_TOKENS": false,
	} {
		if got := LooksSecret(name); got != want {
			t.Errorf("LooksSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	s := FromEnv([]string{
		"OPENAI_API_KEY=sk-proj-abcdef123456",
		"GITHUB_TOKEN=ghp_0123456789",
		"DB_PASSWORD=short", // below MinLen: ignored
		"HOME=/home/someone",
		"LLM_MODEL=anthropic/claude-x",
		"MAX_TOKENS=128000",
		"CUSTOM_CRED=custom-credential-value",
		"NOEQUALS",
	}, []string{"custom_cred"})
	in := "k=sk-proj-abcdef123456 g=ghp_0123456789 p=short h=/home/someone m=anthropic/claude-x n=128000 c=custom-credential-value"
	want := "k=[REDACTED:OPENAI_API_KEY] g=[REDACTED:GITHUB_TOKEN] p=short h=/home/someone m=anthropic/claude-x n=128000 c=[REDACTED:CUSTOM_CRED]"
	if got := s.ScrubString(in); got != want {
		t.Errorf("ScrubString =\n %q\nwant\n %q", got, want)
	}
}

func TestScrubLongestAndEscapedForms(t *testing.T) {
	var s Set
	s.AddNamed("SHORT", "abcdef")
	s.AddNamed("LONG", "abcdefgh")
	s.AddNamed("PW", `pa"ss\word/+&`)
	s.Add("anonymous-secret")
	in := `abcdefgh abcdefg xabcdef {"pw": "pa\"ss\\word/+\u0026"} q=pa%22ss%5Cword%2F%2B%26 anonymous-secret`
	want := `[REDACTED:LONG] [REDACTED:SHORT]g x[REDACTED:SHORT] {"pw": "[REDACTED:PW]"} q=[REDACTED:PW] [REDACTED]`
	if got := s.ScrubString(in); got != want {
		t.Errorf("ScrubString =\n %q\nwant\n %q", got, want)
	}
	var empty *Set
	if got := empty.ScrubString("abc"); got != "abc" {
		t.Errorf("nil set changed input")
	}
}

func TestScrubMultilineValue(t *testing.T) {
	key := "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nZm9vYmFyYmF6cXV4cXV1eHF1dXg=\n-----END KEY-----\n"
	s := FromEnv([]string{"SSH_PRIVATE_KEY=" + key}, nil)
	out := s.ScrubString("the agent printed line 2: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
	if strings.Contains(out, "MIIEvQ") {
		t.Errorf("a line of a multi-line secret leaked: %q", out)
	}
}

// streamScrub writes in through a Writer in the given chunks.
func streamScrub(s *Set, in []byte, cuts []int) []byte {
	var out bytes.Buffer
	w := s.Writer(&out)
	prev := 0
	for _, c := range cuts {
		w.Write(in[prev:c])
		prev = c
	}
	w.Write(in[prev:])
	w.Close()
	return out.Bytes()
}

func TestWriterSecretSplitAtEveryBoundary(t *testing.T) {
	secret := "sk-live-0123456789abcdef"
	s := FromEnv([]string{"OPENAI_API_KEY=" + secret}, nil)
	in := []byte("before " + secret + " middle sk-live-012 partial " + secret)
	whole := s.Scrub(in)
	if strings.Contains(string(whole), secret) || strings.Count(string(whole), "[REDACTED:OPENAI_API_KEY]") != 2 {
		t.Fatalf("Scrub = %q", whole)
	}
	for cut := 0; cut <= len(in); cut++ {
		if got := streamScrub(s, in, []int{cut}); !bytes.Equal(got, whole) {
			t.Fatalf("split at %d: got %q, want %q", cut, got, whole)
		}
	}
}

func TestWriterHoldsBackOnlyPrefixes(t *testing.T) {
	secret := "sk-live-0123456789abcdef"
	s := FromEnv([]string{"OPENAI_API_KEY=" + secret}, nil)
	var out bytes.Buffer
	w := s.Writer(&out)
	w.Write([]byte("a full line\n"))
	if out.String() != "a full line\n" {
		t.Errorf("output not containing a secret prefix was held back: %q", out.String())
	}
	w.Write([]byte("key: sk-live-0123456789abcde")) // all but the last byte
	if held := len("key: sk-live-0123456789abcde") - (out.Len() - len("a full line\n")); held > len(secret)-1 || held == 0 {
		t.Errorf("held back %d bytes, want 1..%d", held, len(secret)-1)
	}
	if strings.Contains(out.String(), "sk-live") {
		t.Errorf("a secret prefix was written before it could be decided: %q", out.String())
	}
	w.Write([]byte("f done"))
	w.Close()
	if want := "a full line\nkey: [REDACTED:OPENAI_API_KEY] done"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// The scanner keys on two bytes: a lone last byte that starts a secret is
// held back while streaming, and left as it is at the end.
func TestScrubLoneLastByte(t *testing.T) {
	var s Set
	s.AddNamed("K", "sk-live-0123456789")
	for _, in := range []string{"s", "as", "x sk", "sk-live-012345678"} {
		if got := s.ScrubString(in); got != in {
			t.Errorf("ScrubString(%q) = %q", in, got)
		}
	}
	var out bytes.Buffer
	w := s.Writer(&out)
	w.Write([]byte("key s"))
	if out.String() != "key " {
		t.Errorf("after %q wrote %q, want the 's' held back", "key s", out.String())
	}
	w.Write([]byte("k-live-0123456789 s"))
	w.Close()
	if want := "key [REDACTED:K] s"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestWriterCloseClosesUnderlying(t *testing.T) {
	s := FromEnv([]string{"X_TOKEN=abcdefgh"}, nil)
	var c closeRecorder
	w := s.Writer(&c)
	w.Write([]byte("abcdefg"))
	if err := w.Close(); err != nil || !c.closed || c.String() != "abcdefg" {
		t.Errorf("Close: err=%v closed=%v out=%q", err, c.closed, c.String())
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Errorf("Write after Close succeeded")
	}
}

// randomCase builds a set of secrets that share prefixes and overlap, and
// an input mixing them, their prefixes and noise.
func randomCase(rng *rand.Rand) (*Set, []byte) {
	alpha := "abcXYZ-_"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	var s Set
	var vals []string
	for i := range 1 + rng.IntN(4) {
		var v string
		if i > 0 && rng.IntN(2) == 0 {
			// Share a prefix or a suffix with an earlier secret.
			prev := vals[rng.IntN(len(vals))]
			if rng.IntN(2) == 0 {
				v = prev[:rng.IntN(len(prev))] + word(MinLen)
			} else {
				v = word(rng.IntN(3)) + prev[rng.IntN(len(prev)/2):]
			}
		} else {
			v = word(MinLen + rng.IntN(10))
		}
		if len(v) >= MinLen {
			vals = append(vals, v)
			s.AddNamed("S"+string(rune('A'+i)), v)
		}
	}
	var in []byte
	for range rng.IntN(30) {
		switch rng.IntN(4) {
		case 0:
			in = append(in, word(rng.IntN(8))...)
		case 1:
			v := vals[rng.IntN(len(vals))]
			in = append(in, v[:rng.IntN(len(v))]...)
		default:
			in = append(in, vals[rng.IntN(len(vals))]...)
		}
	}
	return &s, in
}

func TestWriterMatchesScrubOnRandomChunkings(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 3000 {
		s, in := randomCase(rng)
		whole := s.Scrub(in)
		var cuts []int
		for c := 0; c < len(in); c += rng.IntN(9) {
			cuts = append(cuts, c)
		}
		if got := streamScrub(s, in, cuts); !bytes.Equal(got, whole) {
			t.Fatalf("iteration %d: input %q cuts %v:\n stream %q\n whole  %q", iter, in, cuts, got, whole)
		}
	}
}

func FuzzScrubWriter(f *testing.F) {
	f.Add([]byte("token sk-abcdef123 and sk-abcdef12 sk-abc"), "sk-abcdef123", "abcdef12", uint64(3))
	f.Add([]byte("aaaaaaaaaaaaaaaaab"), "aaaaaab", "aaaaaaaaa", uint64(1))
	f.Add([]byte("xyzxyzxyz"), "zxyzxy", "yzxyzx", uint64(99))
	f.Fuzz(func(t *testing.T, in []byte, a, b string, seed uint64) {
		var s Set
		s.AddNamed("A", a)
		s.AddNamed("B", b)
		whole := s.Scrub(in)
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		var cuts []int
		for c := 0; c < len(in); c += rng.IntN(len(a) + len(b) + 2) {
			cuts = append(cuts, c)
		}
		if got := streamScrub(&s, in, cuts); !bytes.Equal(got, whole) {
			t.Fatalf("cuts %v:\n stream %q\n whole  %q", cuts, got, whole)
		}
	})
}

func TestScrubFile(t *testing.T) {
	dir := t.TempDir()
	secret := "ghp_abcdefghijklmnop"
	s := FromEnv([]string{"GITHUB_TOKEN=" + secret}, nil)

	traj := filepath.Join(dir, "trajectory.json")
	doc, _ := json.Marshal(map[string]string{"cmd": "git clone https://x:" + secret + "@github.com/o/r"})
	os.WriteFile(traj, bytes.Repeat(append(doc, '\n'), 5000), 0o640) // larger than any buffer
	if err := s.ScrubFile(traj); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(traj)
	if bytes.Contains(data, []byte(secret)) || bytes.Count(data, []byte("[REDACTED:GITHUB_TOKEN]")) != 5000 {
		t.Errorf("secret left in the file")
	}
	if fi, _ := os.Stat(traj); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}

	clean := filepath.Join(dir, "clean.txt")
	os.WriteFile(clean, []byte("nothing to see"), 0o644)
	before, _ := os.Stat(clean)
	if err := s.ScrubFile(clean); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(clean); !os.SameFile(before, after) {
		t.Errorf("a file without secrets was rewritten")
	}

	link := filepath.Join(dir, "link")
	os.Symlink(traj, link)
	if err := s.ScrubFile(link); err == nil {
		t.Errorf("ScrubFile followed a symlink")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestScrubTreeDoesNotFollowLinks(t *testing.T) {
	secret := "xoxb-1234567890"
	s := FromEnv([]string{"SLACK_TOKEN=" + secret}, nil)
	outside := filepath.Join(t.TempDir(), "outside.txt")
	os.WriteFile(outside, []byte(secret), 0o644)

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "top.log"), []byte("t "+secret), 0o644)
	os.WriteFile(filepath.Join(dir, "a", "b", "deep.jsonl"), []byte(`{"k":"`+secret+`"}`), 0o644)
	os.Symlink(outside, filepath.Join(dir, "a", "escape"))
	if err := s.ScrubTree(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"top.log", "a/b/deep.jsonl"} {
		if data, _ := os.ReadFile(filepath.Join(dir, p)); bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s still holds the secret", p)
		}
	}
	if data, _ := os.ReadFile(outside); string(data) != secret {
		t.Errorf("a file outside the tree was rewritten through a symlink")
	}
}

func TestRedactArgv(t *testing.T) {
	s := FromEnv([]string{"OPENAI_API_KEY=sk-known-value-1234"}, nil)
	cases := []struct{ in, want []string }{
		{
			[]string{"docker", "run", "-e", "OPENAI_API_KEY=whatever", "-e", "LLM_MODEL=gpt-x", "--env=GITHUB_TOKEN=ghp_x", "img"},
			[]string{"docker", "run", "-e", "OPENAI_API_KEY=[REDACTED]", "-e", "LLM_MODEL=gpt-x", "--env=GITHUB_TOKEN=[REDACTED]", "img"},
		},
		{
			[]string{"aider", "--api-key", "abc123xyz", "--openai-api-key=sk-zzz", "--model", "m", "--max-tokens", "100"},
			[]string{"aider", "--api-key", "[REDACTED]", "--openai-api-key=[REDACTED]", "--model", "m", "--max-tokens", "100"},
		},
		{
			[]string{"agent", "--token", "--verbose", "--no-api-key", "prompt"},
			[]string{"agent", "--token", "--verbose", "--no-api-key", "prompt"},
		},
		{
			[]string{"agent", "-p", "use sk-known-value-1234 please"},
			[]string{"agent", "-p", "use [REDACTED:OPENAI_API_KEY] please"},
		},
		{
			[]string{"sh", "-c", `GITHUB_TOKEN=ghp_secret agent --api-key 'q w' --model x && curl -H "Authorization: Bearer abc.def" https://u:pw123@h.example/p`},
			[]string{"sh", "-c", `GITHUB_TOKEN=[REDACTED] agent --api-key [REDACTED] --model x && curl -H "Authorization: Bearer [REDACTED]" https://u:[REDACTED]@h.example/p`},
		},
		{
			[]string{"sh", "-c", `agent --api-key "$OPENAI_API_KEY" OPENAI_API_KEY=$OPENAI_API_KEY`},
			[]string{"sh", "-c", `agent --api-key "$OPENAI_API_KEY" OPENAI_API_KEY=$OPENAI_API_KEY`},
		},
		{
			[]string{"git", "clone", "https://x-access-token:ghs_abc@github.com/o/r"},
			[]string{"git", "clone", "https://x-access-token:[REDACTED]@github.com/o/r"},
		},
		{
			[]string{"curl", "-H", "x-api-key: sk-ant-123"},
			[]string{"curl", "-H", "x-api-key: [REDACTED]"},
		},
	}
	for _, c := range cases {
		orig := slices.Clone(c.in)
		got := s.RedactArgv(c.in)
		if !slices.Equal(got, c.want) {
			t.Errorf("RedactArgv(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if !slices.Equal(c.in, orig) {
			t.Errorf("RedactArgv modified its input")
		}
	}
	var nilSet *Set
	if got := nilSet.RedactArgv([]string{"A_KEY=v"}); got[0] != "A_KEY=[REDACTED]" {
		t.Errorf("nil set: %q", got)
	}
}

func TestShellQuoteRoundTrip(t *testing.T) {
	argv := []string{"plain", "", "with space", "it's", `"dq"`, "$HOME", "a\nb", "--flag=x,y:z/@%+", "*", "tab\there", `back\slash`}
	q := ShellQuote(argv)
	if !strings.HasPrefix(q, "plain '' 'with space' 'it'\\''s'") {
		t.Errorf("ShellQuote = %s", q)
	}
	out, err := exec.Command("sh", "-c", "set -- "+q+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, argv) {
		t.Errorf("the shell read back %q, want %q", got, argv)
	}
}

func TestFilterEnv(t *testing.T) {
	env := []string{"PATH=/bin", "TAVILY_API_KEY=t", "serper_api_key=s", "SEARXNG_URL=http://x", "OPENAI_API_KEY=o", "SERPAPI_EXTRA=1"}
	if got, want := FilterEnv(env, SearchKeyDenyList), []string{"PATH=/bin", "OPENAI_API_KEY=o", "SERPAPI_EXTRA=1"}; !slices.Equal(got, want) {
		t.Errorf("FilterEnv = %q, want %q", got, want)
	}
	if got := FilterEnv(env, []string{"SERPAPI_*", "PATH"}); slices.Contains(got, "SERPAPI_EXTRA=1") || slices.Contains(got, "PATH=/bin") {
		t.Errorf("prefix deny failed: %q", got)
	}
}

func TestScrubberFound(t *testing.T) {
	s := &Set{}
	s.AddNamed("OPENAI_API_KEY", "sk-openai-0123456789")
	s.AddNamed("GITHUB_TOKEN", "ghp_github_abcdefgh")
	s.Add("anonymous-secret")
	var out strings.Builder
	sc := s.Scrubber(&out)
	in := "a sk-openai-0123456789 b anonymous-secret c sk-openai-0123456789 d"
	// Byte by byte: a value split across writes still counts.
	for i := range len(in) {
		if _, err := sc.Write([]byte{in[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "a [REDACTED:OPENAI_API_KEY] b [REDACTED] c [REDACTED:OPENAI_API_KEY] d"; out.String() != want {
		t.Errorf("scrubbed = %q, want %q", out.String(), want)
	}
	if got := sc.Found(); !slices.Equal(got, []string{"OPENAI_API_KEY", Unnamed}) {
		t.Errorf("found = %q", got)
	}
	if got := s.Scrubber(io.Discard).Found(); len(got) != 0 {
		t.Errorf("fresh scrubber found %q", got)
	}
}
