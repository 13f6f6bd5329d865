package envbuild

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/proc"
)

// directoryBuild says the engine gets the context as a directory rather
// than perfbench's tar on stdin, which then keeps the after-build rehash:
//
//   - podman, whose build takes a directory or a URL as its context but no
//     tar on stdin (its man page; containers/buildah issue 3719 is the
//     open request);
//   - docker with BuildKit, which takes a tar on stdin for a remote
//     context and applies no .dockerignore to it, so the Dockerfile, the
//     .dockerignore and what it excludes would land in COPY . (the legacy
//     builder removes them from the context it extracts).
//
// A variable so tests run the directory path on a legacy docker.
var directoryBuild = func(ctx context.Context, eng *container.Engine) bool {
	if eng.Podman() {
		return true
	}
	val, set := engineEnv(eng, "DOCKER_BUILDKIT")
	return buildKit(val, set, func() bool { return hasBuildx(ctx, eng) })
}

// buildKit decides, as the docker client does, whether its build runs on
// BuildKit: DOCKER_BUILDKIT set to a boolean decides (a value the client
// rejects fails the build anyway: the directory, which needs no tar
// sniffing, then); unset or empty, the client of docker 23 and later
// builds with BuildKit when its buildx component is installed, and falls
// back to the legacy builder (with a deprecation warning) when it is not.
// It also asks the daemon's default builder, which perfbench does not: a
// buildx next to an older daemon is taken for BuildKit, which costs only
// the directory build's rehash.
func buildKit(val string, set bool, buildx func() bool) bool {
	if set && val != "" {
		on, err := strconv.ParseBool(val)
		return on || err != nil
	}
	return buildx()
}

// engineEnv is name's value in the environment the engine's client runs
// with (Engine.Env; nil is this process's), the last one when repeated, as
// exec keeps it.
func engineEnv(eng *container.Engine, name string) (string, bool) {
	if eng.Env == nil {
		return os.LookupEnv(name)
	}
	for i := len(eng.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(eng.Env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// buildxSeen caches hasBuildx per client and environment: the plugin is
// found through HOME, DOCKER_CONFIG and the like, and does not come or go
// within a run.
var buildxSeen sync.Map // string → bool

// hasBuildx reports whether `docker buildx version` succeeds with the
// engine's client and environment. A probe that does not finish answers
// yes: the directory build is right on either builder, the tar only on
// the legacy one.
func hasBuildx(ctx context.Context, eng *container.Engine) bool {
	env := eng.Env
	if env == nil {
		env = os.Environ()
	}
	key := eng.Bin + "\x00" + strings.Join(env, "\x00")
	if v, ok := buildxSeen.Load(key); ok {
		return v.(bool)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := proc.Run(ctx, proc.Spec{Argv: []string{eng.Bin, "buildx", "version"}, Env: env, Grace: 2 * time.Second})
	if err != nil || res.Stopped {
		return true // not cached: the next build asks again
	}
	ok := res.ExitCode == 0
	buildxSeen.Store(key, ok)
	return ok
}
