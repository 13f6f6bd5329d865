package forensics

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

func TestSimpleCommands(t *testing.T) {
	tests := []struct {
		line string
		want [][]string
	}{
		{`git log -1`, [][]string{{"git", "log", "-1"}}},
		{`cd /w && git log --all | head; echo "a b"`, [][]string{{"cd", "/w"}, {"git", "log", "--all"}, {"head"}, {"echo", "a b"}}},
		{`bash -lc 'git reflog && ls'`, [][]string{{"git", "reflog"}, {"ls"}}},
		{`sh -c "eval 'git fetch origin'"`, [][]string{{"git", "fetch", "origin"}}},
		{`FOO=1 sudo -E timeout 10 git clone x 2>&1`, [][]string{{"git", "clone", "x", "2>&1"}}},
		{`echo $(git rev-list --all) # git fetch`, [][]string{{"echo"}, {"git", "rev-list", "--all"}}},
		{`a\ b 'c'"d"`, [][]string{{"a b", "cd"}}},
		{`'unterminated`, [][]string{{"unterminated"}}},
	}
	for _, tt := range tests {
		if got := SimpleCommands(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SimpleCommands(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

var leakCtx = LeakContext{
	RepoURL:      "https://github.com/Acme/fastlib.git",
	HarnessPaths: []string{"/srv/state", "/srv/work"},
}

// TestLeakRules has a positive and a negative case per rule.
func TestLeakRules(t *testing.T) {
	tests := []struct {
		rule     string
		pos, neg []Step
	}{
		{LeakGitHistory,
			[]Step{{Command: "git log --all --oneline"}, {Command: "git -C /w reflog"}, {Command: "git fsck --lost-found"}, {Command: "git cat-file --batch-all-objects --batch-check"}, {Command: "bash -lc 'git rev-list --all | wc -l'"}},
			[]Step{{Command: "git log -1"}, {Command: "git log --oneline -5"}, {Command: "git diff"}, {Command: "git status && git show HEAD --stat"}, {Command: `echo "try git log --all"`}}},
		{LeakGitRemote,
			[]Step{{Command: "git fetch origin"}, {Command: "git pull"}, {Command: "cd /tmp && git clone https://example.com/x.git"}, {Command: "git remote add up https://example.com/x"}, {Command: "git ls-remote x"}},
			[]Step{{Command: "git remote -v"}, {Command: "git add -A"}, {Command: "grep -r 'git fetch' ."}}},
		{LeakGitInternals,
			[]Step{{Command: "cat .git/packed-refs"}, {Command: "ls -R .git/objects"}, {Command: "python3 -c \"open('.git/logs/HEAD').read()\""}, {Input: `{"file_path":"/w/.git/packed-refs"}`}},
			[]Step{{Command: "cat .gitignore"}, {Command: "ls .github/workflows"}, {Input: `{"file_path":"/w/src/git.py"}`}}},
		{LeakUpstreamURL,
			[]Step{{Command: "curl -L https://github.com/acme/fastlib/archive/main.zip"}, {Command: "git clone git@github.com:Acme/fastlib"}, {Command: "wget https://raw.githubusercontent.com/acme/fastlib/main/x.py"}, {Command: "pip install git+ssh://git@github.com/acme/fastlib.git@v2"}, {Input: "https://github.com/acme/fastlib/commits"}},
			[]Step{{Command: "curl https://github.com/acme/fastlib-extras"}, {Command: "curl https://github.com/other/fastlib"}, {Command: "echo done"}}},
		{LeakUpstreamPkg,
			[]Step{{Command: "pip install fastlib==2.0"}, {Command: "pip download -d /tmp/x FastLib"}, {Command: "python3 -m pip install -U fastlib"}, {Command: "uv pip install 'fastlib>=3'"}},
			[]Step{{Command: "pip install -e ."}, {Command: "pip install numpy pytest"}, {Command: "pip install -r requirements.txt"}, {Command: "pip show fastlib"}}},
		{LeakPackageCache,
			[]Step{{Command: "cat /usr/lib/python3/site-packages/fastlib/core.py"}, {Command: "ls ~/.cache/pip"}, {Command: "find / -path '*dist-packages/fastlib*'"}},
			[]Step{{Command: "ls /usr/lib/python3/site-packages/numpy"}, {Command: "ls ~/.config"}}},
		{LeakHarnessPath,
			[]Step{{Command: "ls /srv/state/runs"}, {Command: "cat /srv/work/mirrors/x/HEAD"}, {Input: `{"path":"/srv/state"}`}},
			[]Step{{Command: "ls /srv/statement"}, {Command: "ls /srv"}, {Command: "cat /srv/workload.txt"}}},
		{LeakProcOther,
			[]Step{{Command: "cat /proc/1/environ"}, {Command: "for p in /proc/*/cmdline; do cat $p; done"}, {Command: "tr '\\0' ' ' < /proc/$PPID/environ"}},
			[]Step{{Command: "cat /proc/self/environ"}, {Command: "cat /proc/cpuinfo"}, {Command: "cat /proc/1/status"}}},
		{LeakDockerSocket,
			[]Step{{Command: "curl --unix-socket /var/run/docker.sock http://x/containers/json"}, {Command: "docker ps"}, {Command: "ls -l /run/podman/podman.sock"}},
			[]Step{{Command: "cat Dockerfile"}, {Command: "echo docker"}}},
	}
	for _, tt := range tests {
		for _, s := range tt.pos {
			if got := rulesOf(ScanLeaks([]Step{s}, leakCtx)); !slices.Contains(got, tt.rule) {
				t.Errorf("%s: %+v not flagged (got %v)", tt.rule, s, got)
			}
		}
		for _, s := range tt.neg {
			if got := rulesOf(ScanLeaks([]Step{s}, leakCtx)); slices.Contains(got, tt.rule) {
				t.Errorf("%s: %+v flagged", tt.rule, s)
			}
		}
	}
}

func rulesOf(l []records.LeakAttempt) []string {
	var out []string
	for _, a := range l {
		out = append(out, a.Rule)
	}
	return out
}

func TestLeakURLForms(t *testing.T) {
	for _, repo := range []string{"https://github.com/acme/fastlib", "git@github.com:acme/fastlib.git", "ssh://git@github.com:22/acme/fastlib.git", "git://github.com/acme/fastlib"} {
		for _, cmd := range []string{"git clone https://github.com/acme/fastlib.git", "curl https://api.github.com/repos/acme/fastlib/commits", "git fetch git@github.com:acme/fastlib"} {
			if got := rulesOf(ScanLeaks([]Step{{Command: cmd}}, LeakContext{RepoURL: repo})); !slices.Contains(got, LeakUpstreamURL) {
				t.Errorf("repo %s: %q not flagged (%v)", repo, cmd, got)
			}
		}
	}
	gl := LeakContext{RepoURL: "https://gitlab.com/grp/proj.git"}
	if got := rulesOf(ScanLeaks([]Step{{Command: "curl https://gitlab.com/api/v4/projects/grp%2Fproj/repository/archive"}}, gl)); !slices.Contains(got, LeakUpstreamURL) {
		t.Errorf("gitlab api form not flagged: %v", got)
	}
	local := LeakContext{RepoURL: "/data/repos/proj"}
	if got := rulesOf(ScanLeaks([]Step{{Command: "git fetch /data/repos/proj"}}, local)); !slices.Contains(got, LeakUpstreamURL) || !slices.Contains(got, LeakGitRemote) {
		t.Errorf("local repo fetch: %v", got)
	}
}

func TestLeakEvidence(t *testing.T) {
	steps := []Step{
		{Index: 3, Source: "trajectory", Command: "git log --all", Output: strings.Repeat("x", 1000)},
		{Index: 4, Source: "trajectory", Command: "git log --all"},
	}
	got := ScanLeaks(steps, leakCtx)
	if len(got) != 2 || got[0].Step != 3 || got[1].Step != 4 || got[0].Command != "git log --all" || got[0].Reason == "" {
		t.Fatalf("ScanLeaks = %+v", got)
	}
	if len(got[0].Excerpt) > maxExcerpt+len("…") {
		t.Errorf("excerpt not capped: %d bytes", len(got[0].Excerpt))
	}
}

func TestLogSteps(t *testing.T) {
	log := "I will look at history with git log --all\n$ git log --all\n+ git fetch /data/repos/proj\nsome output git reflog\n" +
		`{"type":"tool_use","input":{"command":"git reflog"}}` + "\n" + `{"cmd":["bash","-lc","git pull"]}` + "\n"
	steps := LogSteps("command_stdout.txt", []byte(log))
	var cmds []string
	for _, s := range steps {
		cmds = append(cmds, s.Command)
	}
	want := []string{"git log --all", "git fetch /data/repos/proj", "git reflog", "bash -lc 'git pull'"}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("LogSteps commands = %q, want %q", cmds, want)
	}
	if steps[0].Index != 2 || steps[0].Source != "command_stdout.txt" {
		t.Errorf("first step = %+v", steps[0])
	}
	got := rulesOf(ScanLeaks(steps, LeakContext{RepoURL: "/data/repos/proj"}))
	for _, r := range []string{LeakGitHistory, LeakGitRemote, LeakUpstreamURL} {
		if !slices.Contains(got, r) {
			t.Errorf("%s not found in %v", r, got)
		}
	}
}

func FuzzSimpleCommands(f *testing.F) {
	for _, s := range []string{`bash -lc 'git log --all'`, `a && b || c | d; e & f`, `"x\"y" 'z`, `$(a $(b)) ` + "`c`", `eval eval eval eval eval git fetch`, `sh -c "sh -c 'sh -c x'"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmds := SimpleCommands(line)
		for _, c := range cmds {
			if len(c) == 0 {
				t.Fatalf("empty command from %q", line)
			}
		}
		ScanLeaks([]Step{{Command: line, Input: line}}, leakCtx)
		LogSteps("x", []byte(line))
	})
}
