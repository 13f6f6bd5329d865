package envtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

// The generated task is a valid task file with a commits file naming its
// pair, and its build context has the files the hash tests rely on.
func TestPythonTaskFiles(t *testing.T) {
	tk := PythonTaskFrom(t, t.TempDir(), "perfbench-test/python-base:0123456789abcdef")
	task, err := config.LoadTask(tk.File, config.Vars{})
	if err != nil {
		t.Fatalf("loading the generated task: %v", err)
	}
	if task.ID != TaskID || task.Workload != Workload || task.Repo.URL != "./repo" {
		t.Errorf("task = id %q workload %q url %q", task.ID, task.Workload, task.Repo.URL)
	}
	entries, err := plan.ReadCommitsFile(tk.Commits)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Human != tk.Human || entries[0].Pre != tk.Pre {
		t.Errorf("commits file = %+v, want human %s pre %s", entries, tk.Human, tk.Pre)
	}
	if got := workspacetest.Git(t, tk.Repo, "rev-parse", tk.Human+"^"); got != tk.Pre {
		t.Errorf("human's parent = %s, want pre %s", got, tk.Pre)
	}
	if diff := workspacetest.Git(t, tk.Repo, "diff", "--name-only", tk.Pre, tk.Human); diff != "src/"+Package+"/__init__.py" {
		t.Errorf("the human commit changes %q, want only the module", diff)
	}
	df, err := os.ReadFile(tk.Dockerfile)
	if err != nil || !strings.HasPrefix(string(df), "FROM perfbench-test/python-base:0123456789abcdef\n") {
		t.Errorf("Dockerfile = %q, %v", df, err)
	}
	for _, rel := range []string{".dockerignore", ContextFile, IgnoredFile} {
		if _, err := os.Stat(filepath.Join(tk.Context, rel)); err != nil {
			t.Error(err)
		}
	}
	if ign, _ := os.ReadFile(filepath.Join(tk.Context, ".dockerignore")); string(ign) != IgnoredFile+"\n" {
		t.Errorf(".dockerignore = %q", ign)
	}
}

// The base image works as the tasks need: in a container of it, as the
// non-root user, with the repository bind-mounted at /workspace, the
// task's offline editable install succeeds and writes outside the
// workspace (the user's ~/.local), the package then imports from any
// directory, and the workload runs; since the install is editable, the
// human commit checked out afterwards is what runs, without reinstalling.
func TestPythonBaseEditableInstall(t *testing.T) {
	base := PythonBase(t)
	tk := PythonTaskFrom(t, t.TempDir(), base)
	ws := filepath.Join(t.TempDir(), "workspace")
	workspacetest.Git(t, "", "clone", "-q", "--no-checkout", tk.Repo, ws)
	workspacetest.Git(t, ws, "checkout", "-q", tk.Pre)

	// As root the workspace is given to the image's user bench, whose HOME
	// comes from the image's /etc/passwd; another invoking user (already
	// not root) runs as itself, with a HOME in the image's /tmp.
	user, home, env := User, Home, []string(nil)
	if os.Getuid() != 0 {
		user, home = currentUser(), "/tmp/home"
		env = []string{"-e", "HOME=" + home}
	}
	chownTree(t, ws)

	name := "perfbench-envtest-" + randomHex(t)
	eng := evaltest.Engine()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Remove(ctx, name); err != nil {
			t.Errorf("removing %s: %v", name, err)
		}
	})
	run := append([]string{"run", "-d", "--name", name, "--network", "none", "--user", user,
		"--label", "perfbench.test=envtest", "-v", ws + ":/workspace", "-w", "/workspace"}, env...)
	docker(t, append(run, base, "sleep", "300")...)
	inside := func(script string) string {
		t.Helper()
		return docker(t, "exec", name, "sh", "-ec", script)
	}

	got := inside(`echo "home=$HOME uid=$(id -u)"
cd /tmp
if python3 -c 'import ` + Package + `' 2>/dev/null; then echo before=importable; else echo before=absent; fi`)
	wantUID, _, _ := strings.Cut(user, ":")
	if want := "home=" + home + " uid=" + wantUID + "\nbefore=absent\n"; got != want {
		t.Fatalf("before the install:\n%s\nwant:\n%s", got, want)
	}
	if os.Getuid() != 0 {
		inside("mkdir -p " + home)
	}

	start := time.Now()
	out := inside(Setup + " 2>&1")
	t.Logf("%s: %s\n%s", Setup, time.Since(start).Round(time.Millisecond), out)
	if !strings.Contains(out, "Successfully installed "+Package+"-0.1.0") {
		t.Fatalf("%s did not install %s:\n%s", Setup, Package, out)
	}

	// Imported from another directory, the package is the workspace's
	// source, found through what pip wrote into the user site, outside
	// /workspace.
	got = inside(`cd /
python3 -c 'import site, ` + Package + `; print(` + Package + `.__file__); print(site.getusersitepackages())'`)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || lines[0] != "/workspace/src/"+Package+"/__init__.py" || !strings.HasPrefix(lines[1], home+"/.local/lib/python3") {
		t.Fatalf("after the install, from /: %q", got)
	}
	listing := inside("ls -a " + lines[1])
	if !strings.Contains(listing, "__editable__") || !strings.Contains(listing, Package+"-0.1.0.dist-info") {
		t.Errorf("the user site %s holds:\n%s\nwant the editable install's .pth and dist-info", lines[1], listing)
	}

	start = time.Now()
	if got := inside(Workload); got != Output+"\n" {
		t.Errorf("the workload at pre printed %q, want %s", got, Output)
	}
	t.Logf("pre's workload: %s", time.Since(start).Round(time.Millisecond))

	// The human commit, checked out on the host, runs as installed.
	workspacetest.Git(t, ws, "-c", "safe.directory=*", "checkout", "-q", tk.Human)
	chownTree(t, ws)
	start = time.Now()
	got = inside(`cd /tmp && python3 -c 'import ` + Package + `; print(` + Package + `.count_primes.__doc__)' && cd /workspace && ` + Workload)
	if !strings.Contains(got, "sieve") || !strings.HasSuffix(got, "\n"+Output+"\n") {
		t.Errorf("at the human commit: %q, want the sieve's docstring and %s", got, Output)
	}
	t.Logf("human's workload: %s", time.Since(start).Round(time.Millisecond))
}

// docker runs the engine's client, failing t on error; it returns stdout.
func docker(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, evaltest.Engine().Bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// chownTree gives dir to the image's user when the test runs as root
// (the invoking user owns it otherwise).
func chownTree(t testing.TB, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		return
	}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 1000, 1000)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func currentUser() string { return fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()) }

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
