package config

import (
	"fmt"
	"strings"
)

// CheckRepoURL refuses repository URLs that git would misread or that make
// git run commands: a leading '-' (an option to clone or fetch) and the
// ext:: and fd:: transports (ext:: runs a shell command, fd:: talks over
// inherited file descriptors). The message suits "<field>: <message>".
func CheckRepoURL(url string) error {
	if strings.HasPrefix(url, "-") {
		return fmt.Errorf("must not start with '-' (git would read it as an option), got %s", quoteShort(url))
	}
	if t, _, ok := strings.Cut(url, "::"); ok && refusedTransport[t] != "" {
		return fmt.Errorf("the %s:: transport %s: give a URL or a path, got %s", t, refusedTransport[t], quoteShort(url))
	}
	return nil
}

var refusedTransport = map[string]string{"ext": "runs a command", "fd": "talks over inherited file descriptors"}

// IsLocalRepo reports whether url names a local path by git's own rule
// (url_is_local_not_ssh): no colon, or a slash before the first colon.
// scheme://..., transport::address and scp-like host:path all have a colon
// first.
func IsLocalRepo(url string) bool {
	colon := strings.IndexByte(url, ':')
	if colon < 0 {
		return url != ""
	}
	slash := strings.IndexByte(url, '/')
	return slash >= 0 && slash < colon
}
