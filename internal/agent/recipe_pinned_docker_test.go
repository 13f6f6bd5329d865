package agent_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
)

// fakeNPM stands for npm as far as the claude_code recipe uses it: it
// lays out @anthropic-ai/claude-code the way the real package is from
// 2.1.113 on (bin/claude.exe a placeholder that the postinstall,
// install.cjs, replaces with the platform's native binary), and, by the
// mode the environment image holds, runs that postinstall itself
// ("postinstall"), skips it ("skipped": scripts blocked, install.cjs
// still works) or skips it with the native package missing ("missing":
// install.cjs fails). Like npm, it exits 0 in every mode. The test writes
// the placeholder (/fake/stub-claude) and the native binary.
const fakeNPM = `#!/bin/sh
set -eu
pre= pkgspec=
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix|--cache) [ "$1" = --prefix ] && pre=$2; shift 2 ;;
	install|--no-fund|--no-audit|--no-update-notifier) shift ;;
	*) pkgspec=$1; shift ;;
	esac
done
[ "$pkgspec" = "@anthropic-ai/claude-code@` + "VERSION" + `" ] || { echo "fake npm: unexpected package $pkgspec" >&2; exit 9; }
pkg=$pre/node_modules/@anthropic-ai/claude-code
mkdir -p "$pkg/bin" "$pre/node_modules/.bin"
cp /fake/stub-claude "$pkg/bin/claude.exe"
ln -s ../@anthropic-ai/claude-code/bin/claude.exe "$pre/node_modules/.bin/claude"
mode=$(cat /fake/mode)
if [ "$mode" = missing ]; then
	echo 'echo "install.cjs: @anthropic-ai/claude-code-linux-x64 is not installed" >&2; exit 1' >"$pkg/install.cjs"
else
	echo "cp /fake/native-claude '$pkg/bin/claude.exe'; touch '$pkg/install-ran'" >"$pkg/install.cjs"
fi
if [ "$mode" = postinstall ]; then
	sh "$pkg/install.cjs"
	rm -f "$pkg/install-ran"
fi
exit 0
`

// TestClaudeRecipeNativeBinary builds the claude_code recipe, as `bench
// build --agent` renders it, on an environment image whose node and npm
// are fakes of the package's layout: the image gets a claude that runs
// whether npm ran the postinstall or not, and the build fails, naming
// the missing native binary, when install.cjs cannot place it (npm's own
// exit status says nothing then). The output of claude --version is what
// counts: a placeholder that prints its message and exits 0 is no claude,
// nor is a native binary of another version.
func TestClaudeRecipeNativeBinary(t *testing.T) {
	busybox := evaltest.RequireBusybox(t)
	k, ok := agent.Find(all.Kinds(), "claude_code")
	if !ok || k.Recipe == nil {
		t.Fatal("no claude_code recipe")
	}
	r := k.Recipe()
	placeholder := "echo 'Error: claude native binary not installed.' >&2\n"
	for _, tc := range []struct {
		name, mode string
		stubExit   int    // the placeholder's exit status
		native     string // what the native binary's --version says
		installed  bool   // install.cjs was run by the recipe
		fails      string // the build's message, "" when it passes
	}{
		{name: "postinstall", mode: "postinstall", stubExit: 1},
		{name: "skipped", mode: "skipped", stubExit: 1, installed: true},
		{name: "skipped-exit0", mode: "skipped", installed: true},
		{name: "missing", mode: "missing", stubExit: 1,
			fails: "perfbench: claude --version says (failed: Error: claude native binary not installed.) after npm install, want " + r.Version + " (Claude Code)"},
		{name: "missing-exit0", mode: "missing",
			fails: "perfbench: claude --version says Error: claude native binary not installed. after npm install, want " + r.Version + " (Claude Code)"},
		{name: "other-version", mode: "postinstall", stubExit: 1, native: "2.1.120 (Claude Code)",
			fails: "perfbench: claude --version says 2.1.120 (Claude Code) after npm install"},
	} {
		if tc.native == "" {
			tc.native = r.Version + " (Claude Code)"
		}
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			suffix := randomSuffix(t)
			envTag := "perfbench-test/claude-recipe-env:" + suffix
			agentTag := "perfbench-test/claude-recipe-agent:" + suffix

			envCtx := t.TempDir()
			copyFile(t, busybox, filepath.Join(envCtx, "busybox"), 0o755)
			writeFile(t, filepath.Join(envCtx, "npm"), strings.ReplaceAll(fakeNPM, "VERSION", r.Version), 0o755)
			writeFile(t, filepath.Join(envCtx, "node"), "#!/bin/sh\nexec sh \"$@\"\n", 0o755)
			writeFile(t, filepath.Join(envCtx, "stub-claude"), fmt.Sprintf("#!/bin/sh\n%sexit %d\n", placeholder, tc.stubExit), 0o755)
			writeFile(t, filepath.Join(envCtx, "native-claude"), "#!/bin/sh\necho '"+tc.native+"'\n", 0o755)
			writeFile(t, filepath.Join(envCtx, "mode"), tc.mode+"\n", 0o644)
			// USER root needs root in /etc/passwd.
			writeFile(t, filepath.Join(envCtx, "passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0o644)
			writeFile(t, filepath.Join(envCtx, "Dockerfile"), "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"+
				"COPY passwd /etc/passwd\nCOPY npm node /usr/bin/\nCOPY stub-claude native-claude mode /fake/\nLABEL perfbench.test=envagent\n", 0o644)
			if out, ok := buildRecipe(ctx, t, envTag, envCtx, agentTag, r, tc.fails != ""); !ok {
				t.Fatalf("the build succeeded without the pinned native binary:\n%s", out)
			} else if tc.fails != "" {
				if !strings.Contains(out, tc.fails) {
					t.Errorf("build output lacks %q:\n%s", tc.fails, out)
				}
				return
			}
			if got, want := docker(ctx, t, "run", "--rm", "--network", "none", agentTag, "claude", "--version"), r.Version+" (Claude Code)\n"; got != want {
				t.Errorf("claude --version in the agent image: %q, want %q", got, want)
			}
			probe := "test -e " + agent.Prefix("claude_code") + "/node_modules/@anthropic-ai/claude-code/install-ran && echo ran || echo not run"
			want := "not run\n"
			if tc.installed {
				want = "ran\n"
			}
			if got := docker(ctx, t, "run", "--rm", "--network", "none", agentTag, "sh", "-c", probe); got != want {
				t.Errorf("install.cjs by the recipe: %q, want %q", got, want)
			}
		})
	}
}

// fakeCurl stands for curl as the codex recipe uses it (-o FILE URL): it
// refuses any URL but the pinned release asset for this machine and
// "downloads" /fake/asset.tar.gz, a tarball laid out as the release
// workflow packs it (the one file codex-<target>).
const fakeCurl = `#!/bin/sh
set -eu
out= url=
while [ $# -gt 0 ]; do
	case "$1" in
	-o) out=$2; shift 2 ;;
	-*) shift ;;
	*) url=$1; shift ;;
	esac
done
[ "$url" = "$(cat /fake/url)" ] || { echo "fake curl: unexpected URL $url" >&2; exit 22; }
cp /fake/asset.tar.gz "$out"
`

// TestCodexRecipeReleaseAsset builds the codex recipe on an environment
// image whose curl serves a stand-in of the release asset: the binary is
// unpacked under its release name, renamed and linked, and the build
// checks that it says it is the pinned version (a binary that says
// another fails the build).
func TestCodexRecipeReleaseAsset(t *testing.T) {
	busybox := evaltest.RequireBusybox(t)
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	arch := strings.TrimSpace(string(out))
	if arch != "x86_64" && arch != "aarch64" {
		t.Skipf("codex has no release binary for %s", arch)
	}
	k, ok := agent.Find(all.Kinds(), "codex")
	if !ok || k.Recipe == nil {
		t.Fatal("no codex recipe")
	}
	r := k.Recipe()
	for _, tc := range []struct {
		name, says string
		exit       int    // the stand-in binary's exit status
		fails      string // what the build's message says it says, "" when it passes
	}{
		{name: "pinned", says: "codex-cli " + r.Version},
		{name: "other version", says: "codex-cli 0.1.0", fails: "codex-cli 0.1.0"},
		// A binary that cannot run (another architecture's): the
		// message still comes, with what the attempt said.
		{name: "cannot run", says: "codex: cannot execute binary file", exit: 126, fails: "(failed: codex: cannot execute binary file)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			suffix := randomSuffix(t)
			envTag := "perfbench-test/codex-recipe-env:" + suffix
			agentTag := "perfbench-test/codex-recipe-agent:" + suffix

			target := "codex-" + arch + "-unknown-linux-musl"
			assetDir := t.TempDir()
			stream := 1 // a binary that fails says so on stderr
			if tc.exit != 0 {
				stream = 2
			}
			writeFile(t, filepath.Join(assetDir, target), fmt.Sprintf("#!/bin/sh\necho '%s' >&%d\nexit %d\n", tc.says, stream, tc.exit), 0o755)
			envCtx := t.TempDir()
			if out, err := exec.Command("tar", "-C", assetDir, "-czf", filepath.Join(envCtx, "asset.tar.gz"), target).CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, out)
			}
			copyFile(t, busybox, filepath.Join(envCtx, "busybox"), 0o755)
			writeFile(t, filepath.Join(envCtx, "curl"), fakeCurl, 0o755)
			writeFile(t, filepath.Join(envCtx, "url"), "https://github.com/openai/codex/releases/download/rust-v"+r.Version+"/"+target+".tar.gz\n", 0o644)
			writeFile(t, filepath.Join(envCtx, "passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0o644)
			writeFile(t, filepath.Join(envCtx, "Dockerfile"), "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"+
				"RUN [\"/bin/mkdir\", \"-m\", \"1777\", \"/tmp\"]\nCOPY passwd /etc/passwd\nCOPY curl /usr/bin/\nCOPY asset.tar.gz url /fake/\nLABEL perfbench.test=envagent\n", 0o644)
			if out, ok := buildRecipe(ctx, t, envTag, envCtx, agentTag, r, tc.fails != ""); !ok {
				t.Fatalf("the build accepted a binary that says %q:\n%s", tc.says, out)
			} else if tc.fails != "" {
				if want := "perfbench: codex --version says " + tc.fails + ", want codex-cli " + r.Version; !strings.Contains(out, want) {
					t.Errorf("build output lacks %q:\n%s", want, out)
				}
				return
			}
			if got, want := docker(ctx, t, "run", "--rm", "--network", "none", agentTag, "codex", "--version"), tc.says+"\n"; got != want {
				t.Errorf("codex --version in the agent image: %q, want %q", got, want)
			}
		})
	}
}

// buildRecipe builds the environment image envTag from envCtx, then the
// recipe's agent image agentTag FROM its id as `bench build --agent`
// renders it. A build that mustFail returns its output, ok false when it
// succeeded (the image removed); else the agent image is built (ok).
func buildRecipe(ctx context.Context, t *testing.T, envTag, envCtx, agentTag string, r envbuild.Recipe, mustFail bool) (string, bool) {
	t.Helper()
	dockerBuild(ctx, t, envTag, envCtx)
	envID := strings.TrimSpace(docker(ctx, t, "image", "inspect", "--format", "{{.Id}}", envTag))
	agentCtx := t.TempDir()
	writeFile(t, filepath.Join(agentCtx, "Dockerfile"), string(envbuild.AgentDockerfile(envID, r)), 0o644)
	if !mustFail {
		dockerBuild(ctx, t, agentTag, agentCtx)
		return "", true
	}
	out, err := exec.CommandContext(ctx, "docker", "build", "-q", "--force-rm", "--label", "perfbench.test=envagent", "-t", agentTag, agentCtx).CombinedOutput()
	if err == nil {
		exec.Command("docker", "image", "rm", agentTag).Run()
		return string(out), false
	}
	return string(out), true
}
