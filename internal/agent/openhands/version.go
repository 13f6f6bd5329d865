package openhands

import (
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
)

// versionProbe is how doctor learns an entry's OpenHands version: the tag
// of its image in docker mode, the openhands-ai distribution's version in
// the Python mode; uvx fetches it on use, so it is not asked.
func versionProbe(a *config.Agent, p agent.Probes) agent.VersionProbe {
	s, err := Resolve(a, p.Lookup)
	if err != nil {
		return agent.VersionProbe{None: err.Error()}
	}
	switch s.Mode {
	case ModeDocker:
		return agent.VersionProbe{Known: ImageTag(s.Image), None: noTag(s.Image)}
	case ModePython:
		return agent.VersionProbe{Argv: []string{s.CLI, "-c", "import importlib.metadata as m; print('openhands-ai', m.version('openhands-ai'))"}}
	}
	return agent.VersionProbe{None: "uvx fetches openhands-ai on first use: not asked"}
}

// ImageTag is the tag of an image reference ("" when it has none or is
// pinned by digest only).
func ImageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[i+1:]
	}
	return ""
}

func noTag(ref string) string {
	if ImageTag(ref) == "" {
		return "image " + ref + " has no tag: version not known"
	}
	return ""
}
