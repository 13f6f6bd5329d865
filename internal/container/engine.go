package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/textx"
)

// Engine is a docker-compatible client on PATH.
type Engine struct {
	// Bin is the executable: docker or podman.
	Bin string
	// Env is the client's environment; nil is the harness's.
	Env []string
}

// NewEngine returns the engine named in container.engine ("" is docker).
func NewEngine(name string) *Engine {
	if name == "" {
		name = "docker"
	}
	return &Engine{Bin: name}
}

// Podman reports whether the engine is podman.
func (e *Engine) Podman() bool { return strings.Contains(e.Bin, "podman") }

// Error is a failed engine command.
type Error struct {
	Args     []string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s: %s", strings.Join(e.Args[:min(len(e.Args), 3)], " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// notFound reports whether an engine error says the object does not exist.
func notFound(err error) bool {
	var ee *Error
	if !errors.As(err, &ee) {
		return false
	}
	s := strings.ToLower(ee.Stderr)
	return strings.Contains(s, "no such") || strings.Contains(s, "not found") || strings.Contains(s, "not known") || strings.Contains(s, "no container with")
}

// command runs one short engine command and returns its stdout.
func (e *Engine) command(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	cmd.Env = e.Env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		ee := &Error{Args: append([]string{e.Bin}, args...), ExitCode: -1, Stderr: stderr.String(), Err: err}
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			ee.ExitCode = xe.ExitCode()
		}
		if ctx.Err() != nil {
			ee.Err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		return stdout.Bytes(), ee
	}
	return stdout.Bytes(), nil
}

// ServerVersion returns the engine's server version: it fails when the
// client is missing or no daemon answers.
func (e *Engine) ServerVersion(ctx context.Context) (string, error) {
	format := "{{.Server.Version}}"
	if e.Podman() {
		format = "{{.Version}}"
	}
	out, err := e.command(ctx, "version", "--format", format)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// MemoryLimitSupported reports whether the engine enforces --memory (docker
// info's MemoryLimit; podman's cgroup controllers).
func (e *Engine) MemoryLimitSupported(ctx context.Context) (bool, error) {
	if e.Podman() {
		out, err := e.command(ctx, "info", "--format", "{{json .Host.CgroupControllers}}")
		if err != nil {
			return false, err
		}
		var ctrls []string
		if err := json.Unmarshal(bytes.TrimSpace(out), &ctrls); err != nil {
			return false, fmt.Errorf("podman info: %w", err)
		}
		return slices.Contains(ctrls, "memory"), nil
	}
	out, err := e.command(ctx, "info", "--format", "{{json .MemoryLimit}}")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "true", nil
}

// Image is what perfbench records about an image.
type Image struct {
	Ref         string   `json:"ref"`
	ID          string   `json:"id"`
	RepoDigests []string `json:"repo_digests,omitempty"`
	// Env is the image's configured environment, Labels its labels.
	Env    []string          `json:"-"`
	Labels map[string]string `json:"-"`
}

// Digest returns the first repository digest ("repo@sha256:..."), "" for a
// local image.
func (i *Image) Digest() string {
	if len(i.RepoDigests) == 0 {
		return ""
	}
	return i.RepoDigests[0]
}

// ErrNoImage is returned by InspectImage for an image that is not present
// locally.
var ErrNoImage = errors.New("image not present locally")

// InspectImage returns the id and digests of a local image; ErrNoImage
// (wrapped) when it is not present.
func (e *Engine) InspectImage(ctx context.Context, ref string) (*Image, error) {
	out, err := e.command(ctx, "image", "inspect", "--format", "{{json .}}", ref)
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%s: %w (pull or build it first: perfbench never pulls)", ref, ErrNoImage)
		}
		return nil, err
	}
	var raw struct {
		ID          string   `json:"Id"`
		RepoDigests []string `json:"RepoDigests"`
		Config      struct {
			Env    []string          `json:"Env"`
			Labels map[string]string `json:"Labels"`
		} `json:"Config"`
	}
	// podman prints one JSON document per image, docker too with {{json .}}.
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, fmt.Errorf("image inspect %s: %w", ref, err)
	}
	id := raw.ID
	if id != "" && !strings.Contains(id, ":") {
		id = "sha256:" + id // podman omits the algorithm
	}
	return &Image{Ref: ref, ID: id, RepoDigests: raw.RepoDigests, Env: raw.Config.Env, Labels: raw.Config.Labels}, nil
}

// kill signals a container and reports whether the signal was delivered:
// not when the container does not exist yet (or any more) or is not
// running (created but not yet started, or exited).
func (e *Engine) kill(ctx context.Context, name, signal string) (bool, error) {
	args := []string{"kill"}
	if signal != "" {
		args = append(args, "--signal", signal)
	}
	_, err := e.command(ctx, append(args, name)...)
	switch {
	case err == nil:
		return true, nil
	case notFound(err) || isNotRunning(err):
		return false, nil
	}
	return false, err
}

func isNotRunning(err error) bool {
	var ee *Error
	return errors.As(err, &ee) && (strings.Contains(ee.Stderr, "is not running") || strings.Contains(ee.Stderr, "removal of container"))
}

// Remove kills and removes containers by name or id (rm -f). Containers that
// do not exist (already removed, e.g. by --rm) are not an error.
func (e *Engine) Remove(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	_, err := e.command(ctx, append([]string{"rm", "-f"}, names...)...)
	if err != nil && (notFound(err) || isNotRunning(err)) {
		return nil
	}
	return err
}

// RemoveOwn removes the containers of these names that this process
// created (their perfbench.pid and perfbench.pidstart labels are this
// process's); a container of the same name that another harness created
// is left alone. For containers started detached, whose id the caller did
// not keep.
func (e *Engine) RemoveOwn(ctx context.Context, names ...string) error {
	mine := OwnerLabels("", "")
	var ids []string
	for _, n := range names {
		if n == "" {
			continue
		}
		cs, err := e.List(ctx, "name=^"+n+"$", "label="+LabelPID+"="+mine[LabelPID])
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Labels[LabelPIDStart] == mine[LabelPIDStart] && c.Labels[LabelHost] == mine[LabelHost] {
				ids = append(ids, c.ID)
			}
		}
	}
	return e.Remove(ctx, ids...)
}

// Container is one entry of List.
type Container struct {
	ID     string
	Name   string
	State  string
	Labels map[string]string
}

// List returns the containers (running or not) matching every filter
// ("label=perfbench.run=x", "name=...").
func (e *Engine) List(ctx context.Context, filters ...string) ([]Container, error) {
	args := []string{"ps", "-a", "--no-trunc", "--format", "{{json .}}"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, err := e.command(ctx, args...)
	if err != nil {
		return nil, err
	}
	return parsePS(out)
}

// parsePS reads `ps --format '{{json .}}'`: one object per line (docker)
// or a JSON array (some podman versions). Docker writes Names and Labels as
// strings ("a,b", "k=v,k2=v2"), podman as a list and a map.
func parsePS(out []byte) ([]Container, error) {
	out = bytes.TrimSpace(out)
	var raws []map[string]json.RawMessage
	if bytes.HasPrefix(out, []byte("[")) {
		if err := json.Unmarshal(out, &raws); err != nil {
			return nil, fmt.Errorf("ps: %w", err)
		}
	} else {
		for _, line := range bytes.Split(out, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil {
				return nil, fmt.Errorf("ps: %w", err)
			}
			raws = append(raws, m)
		}
	}
	var cs []Container
	for _, m := range raws {
		var c Container
		c.ID = jsonString(m, "ID", "Id")
		c.State = jsonString(m, "State")
		if raw, ok := m["Names"]; ok {
			var s string
			var list []string
			if json.Unmarshal(raw, &s) == nil {
				c.Name, _, _ = strings.Cut(s, ",")
			} else if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
				c.Name = list[0]
			}
		}
		c.Labels = map[string]string{}
		if raw, ok := m["Labels"]; ok {
			var s string
			var mm map[string]string
			if json.Unmarshal(raw, &s) == nil {
				for _, kv := range strings.Split(s, ",") {
					if k, v, ok := strings.Cut(kv, "="); ok {
						c.Labels[k] = v
					}
				}
			} else if json.Unmarshal(raw, &mm) == nil {
				c.Labels = mm
			}
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func jsonString(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return ""
}

// RemoveLabeled removes every container carrying all the given labels
// ("k=v"); it returns the names removed.
func (e *Engine) RemoveLabeled(ctx context.Context, labels ...string) ([]string, error) {
	if len(labels) == 0 {
		return nil, errors.New("remove by label: no label given")
	}
	var filters []string
	for _, l := range labels {
		filters = append(filters, "label="+l)
	}
	cs, err := e.List(ctx, filters...)
	if err != nil {
		return nil, err
	}
	var ids, names []string
	for _, c := range cs {
		ids = append(ids, c.ID)
		names = append(names, c.Name)
	}
	return names, e.Remove(ctx, ids...)
}

// RemoveStale removes the containers a harness on this host left behind
// when it died (kill -9, power loss): those with perfbench labels whose
// perfbench.pid is no longer that process. Containers without our labels,
// those of live harnesses and those of other hosts are never touched. It
// returns the names removed.
func (e *Engine) RemoveStale(ctx context.Context) ([]string, error) {
	cs, err := e.List(ctx, "label="+LabelPID)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	var ids, names []string
	for _, c := range cs {
		if !Stale(c.Labels, host) {
			continue
		}
		ids = append(ids, c.ID)
		names = append(names, c.Name)
	}
	return names, e.Remove(ctx, ids...)
}

// Stale reports whether a container with these labels belongs to a
// perfbench harness on this host that is gone. Without perfbench.run and
// perfbench.pid it is not ours: never stale.
func Stale(labels map[string]string, host string) bool {
	if labels[LabelRun] == "" || labels[LabelPID] == "" {
		return false
	}
	if h := labels[LabelHost]; h != "" && h != host {
		return false
	}
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := processStart(pid)
	if err != nil {
		return true // no such process
	}
	if want := labels[LabelPIDStart]; want != "" && want != start {
		return true // the pid now belongs to another process
	}
	return false
}

// OOMKilled reports whether the engine recorded an out-of-memory kill of
// the named container between since and now. It reads the engine's event
// log, which outlives a container removed by --rm.
func (e *Engine) OOMKilled(ctx context.Context, name string, since time.Time) (bool, error) {
	stamp := func(t time.Time) string {
		return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
	}
	// The daemon may log the event a moment after the client returned
	// (seen on a loaded machine): look again for a little while.
	for attempt := 0; ; attempt++ {
		// An --until in the future would make `events` wait for it.
		out, err := e.command(ctx, "events", "--since", stamp(since.Add(-time.Second)), "--until", stamp(time.Now()),
			"--filter", "container="+name, "--filter", "event=oom", "--format", "{{.Status}}")
		if err != nil {
			return false, err
		}
		if bytes.Contains(out, []byte("oom")) || attempt == 9 {
			return bytes.Contains(out, []byte("oom")), nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Wait polls until no container matches the filters or the context ends;
// it reports whether none is left. (An --rm removal is asynchronous.)
func (e *Engine) Wait(ctx context.Context, filters ...string) bool {
	for {
		cs, err := e.List(ctx, filters...)
		if err == nil && len(cs) == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// teeWriter writes to w and to the tail; errors of the tail never count.
type teeWriter struct {
	w    io.Writer
	tail *textx.Tail
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.tail.Write(p)
	if t.w == nil {
		return len(p), nil
	}
	return t.w.Write(p)
}

// LocalImage is one tag of a local image (Ref "" when it has none), with
// the image's labels.
type LocalImage struct {
	ID     string
	Ref    string
	Labels map[string]string
}

// Images lists the local images matching every filter ("label=k=v"), one
// entry per tag. The labels come from one image inspect of all the ids
// (docker's image list prints none); an image removed in between is left
// out.
func (e *Engine) Images(ctx context.Context, filters ...string) ([]LocalImage, error) {
	args := []string{"images", "--no-trunc", "--format", "{{json .}}"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, err := e.command(ctx, args...)
	if err != nil {
		return nil, err
	}
	imgs, ids, err := parseImages(out)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	out, err = e.command(ctx, append([]string{"image", "inspect", "--format", "{{.Id}} {{json .Config.Labels}}"}, ids...)...)
	if err != nil && !notFound(err) {
		return nil, err
	}
	labels := map[string]map[string]string{}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		id, js, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
		if !ok {
			continue
		}
		var l map[string]string
		if err := json.Unmarshal(js, &l); err != nil {
			return nil, fmt.Errorf("image inspect %s: labels: %w", id, err)
		}
		labels[normImageID(string(id))] = l
	}
	var kept []LocalImage
	for _, img := range imgs {
		if l, ok := labels[img.ID]; ok {
			img.Labels = l
			kept = append(kept, img)
		}
	}
	return kept, nil
}

// parseImages reads `images --format '{{json .}}'`: one object per line
// (docker: ID, Repository, Tag) or a JSON array, podman's summaries with
// their tags as a list (RepoTags, Names). It returns an entry per tag and
// the ids, each once.
func parseImages(out []byte) (imgs []LocalImage, ids []string, err error) {
	out = bytes.TrimSpace(out)
	var raws []map[string]json.RawMessage
	if bytes.HasPrefix(out, []byte("[")) {
		if err := json.Unmarshal(out, &raws); err != nil {
			return nil, nil, fmt.Errorf("images: %w", err)
		}
	} else {
		for _, line := range bytes.Split(out, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(line, &m); err != nil {
				return nil, nil, fmt.Errorf("images: %w", err)
			}
			raws = append(raws, m)
		}
	}
	for _, m := range raws {
		id := normImageID(jsonString(m, "ID", "Id"))
		if id == "" {
			continue
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		repo, tag := jsonString(m, "Repository"), jsonString(m, "Tag")
		var refs []string
		if repo != "" && repo != "<none>" && tag != "" && tag != "<none>" {
			refs = append(refs, repo+":"+tag)
		} else if repo == "" {
			// podman's {{json .}} is its image summary: the tags as a list.
			for _, key := range []string{"RepoTags", "Names"} {
				if raw, ok := m[key]; ok && len(refs) == 0 {
					json.Unmarshal(raw, &refs)
				}
			}
			refs = slices.DeleteFunc(refs, func(r string) bool { return r == "" || strings.HasPrefix(r, "<none>") })
		}
		if len(refs) == 0 {
			refs = []string{""}
		}
		for _, ref := range refs {
			imgs = append(imgs, LocalImage{ID: id, Ref: ref})
		}
	}
	return imgs, ids, nil
}

// normImageID adds the algorithm podman omits.
func normImageID(id string) string {
	if id != "" && !strings.Contains(id, ":") {
		return "sha256:" + id
	}
	return id
}

// RemoveImage removes an image by ref or id, never forcing: an image a
// container uses stays, and that is an error. A ref of an image with other
// tags is only untagged.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.command(ctx, "rmi", ref)
	return err
}

// ImageNotFound reports whether err (of RemoveImage, say) says the image
// does not exist.
func ImageNotFound(err error) bool { return notFound(err) }
