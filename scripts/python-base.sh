#!/bin/sh
# python-base.sh builds the Python base image of the tests,
# perfbench-test/python-base:<key>, FROM scratch out of Debian's packages,
# since no image can be pulled here: python3 (the full standard library,
# which pip and setuptools need), python3-pip, python3-setuptools and
# python3-wheel (an offline `pip install --no-index --no-build-isolation
# -e .` of a pyproject.toml project: setuptools >= 64 builds the editable
# wheel, wheel's bdist_wheel writes it) and busybox-static (/bin/sh and the
# basic tools, its applets as symlinks), with their dependency closure.
#
# The packages are fetched with `apt-get download` into a cache directory
# ($PYTHON_BASE_CACHE, default ~/.cache/perfbench/python-base) and unpacked
# with `dpkg-deb -x` into the build context's rootfs/: no maintainer script
# runs, which the image does not need. The closure follows Depends and
# Pre-Depends, the first alternative of each choice (Debian's preferred
# one), and skips virtual packages: 51 packages on bookworm.
#
# The key is the sha256 (first 16 hex digits) of the sorted list of
# "package=version" and of this script itself, so a new package version or
# a changed recipe gives a new tag. An image with that tag on the engine is
# reused ("cached"); either way the image is also tagged
# perfbench-test/python-base:current, the name the tests look up
# (internal/envbuild/envtest.PythonBase), and it carries the key as the
# label perfbench.test.key. The tags of older keys are then removed, never
# forced: an image a container uses stays, with a warning line (one that
# images are built on loses its tag and goes with them).
#
# The image: PATH over /usr/local and /usr, LANG=C.UTF-8, a /tmp with mode
# 1777, an /etc/passwd with root and the user bench (uid 1000, home
# /home/bench owned by it: `docker run --user 1000:1000` gets HOME from
# it), and no EXTERNALLY-MANAGED marker (as in the official python
# images), so that a non-root user's pip installs into ~/.local.
#
# Usage: scripts/python-base.sh   (DOCKER names the engine's client,
# default docker; PYTHON_BASE_REPO the repository, default
# perfbench-test/python-base, the tests' — another one is for a trial run
# that leaves the tests' image alone). Exit status 0 when the image is
# there, 1 otherwise.
set -eu

docker=${DOCKER:-docker}
repo=${PYTHON_BASE_REPO:-perfbench-test/python-base}
roots="python3 python3-pip python3-setuptools python3-wheel busybox-static"
cache=${PYTHON_BASE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/perfbench/python-base}
script=$0
start=$(date +%s)

die() {
	echo "python-base: $*" >&2
	exit 1
}

# prune_old removes the tags of older keys: they are never used again.
# By tag, never forced; the tag alone is compared (podman lists the
# repository as localhost/...).
prune_old() {
	for old in $("$docker" images --format '{{.Tag}}' "$repo"); do
		case $old in "$key" | current | "<none>") continue ;; esac
		if ! err=$("$docker" rmi "$repo:$old" 2>&1 >/dev/null); then
			echo "python-base: warning: kept $repo:$old: $(echo "$err" | head -n 1)" >&2
		fi
	done
}

for tool in apt-get apt-cache dpkg-deb sha256sum "$docker"; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (a Debian host with docker is needed)"
done
"$docker" version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no container engine answers ($docker version)"

# The package lists may not have been read yet on a fresh machine.
case $(apt-cache policy python3 2>/dev/null) in
*"Candidate: (none)"* | "")
	[ "$(id -u)" = 0 ] || die "apt-cache knows no python3 candidate: run apt-get update as root"
	apt-get update -qq || die "apt-get update failed"
	;;
esac

# The closure: one recursive apt-cache call, then a walk from the roots in
# awk over the first alternatives. A block starts with the package's name
# at column 0; " |Depends: x" means x or the next line's package, so the
# line after a "|" one is an alternative and not followed; "<x>" is
# virtual; deeper-indented lines are a virtual package's providers.
# shellcheck disable=SC2086 # one word per package
names=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances $roots |
	awk -v roots="$roots" '
		/^[^ ]/ { pkg = $1; alt = 0; known[pkg] = 1; next }
		/^ [ |][A-Za-z]*Depends: / {
			if (!alt && $2 !~ /^</) deps[pkg] = deps[pkg] " " $2
			alt = ($0 ~ /^ \|/)
		}
		END {
			n = split(roots, queue, " ")
			for (i = 1; i <= n; i++) seen[queue[i]] = 1
			for (i = 1; i <= n; i++) {
				if (!(queue[i] in known)) { print "unknown package " queue[i] > "/dev/stderr"; exit 1 }
				m = split(deps[queue[i]], d, " ")
				for (j = 1; j <= m; j++) if (!(d[j] in seen)) { seen[d[j]] = 1; queue[++n] = d[j] }
			}
			for (i = 1; i <= n; i++) print queue[i]
		}' | sort) || die "resolving the dependencies of $roots failed"

# The candidate version of each, as apt-get download will fetch it.
# shellcheck disable=SC2086
pins=$(apt-cache show --no-all-versions $names |
	awk '/^Package: / { p = $2 } /^Version: / { print p "=" $2 }' | sort -u)
[ "$(echo "$pins" | wc -l)" -eq "$(echo "$names" | wc -l)" ] || die "no single candidate version for every package"
key=$({ echo "$pins"; cat "$script"; } | sha256sum | cut -c1-16)
tag=$repo:$key

if "$docker" image inspect "$tag" >/dev/null 2>&1; then
	"$docker" tag "$tag" "$repo:current"
	prune_old
	echo "python-base: $tag cached ($(echo "$pins" | wc -l) packages, $(($(date +%s) - start))s)"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/python-base.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$cache"

# The .deb files of the pins, downloaded once: apt-get verifies each
# against the signed lists; a download lands under its final name by a
# rename, so a concurrent run never reads half a file.
# shellcheck disable=SC2086
apt-get download --print-uris $pins >"$work/uris" || die "apt-get download --print-uris failed"
files=$(awk '{ print $2 }' "$work/uris")
missing=""
for f in $files; do
	[ -s "$cache/$f" ] || missing="$missing ${f%%_*}"
done
if [ -n "$missing" ]; then
	mkdir "$work/dl"
	sandbox=""
	[ "$(id -u)" != 0 ] || sandbox="-o APT::Sandbox::User=root"
	want=""
	for p in $missing; do want="$want $(echo "$pins" | grep "^$p=")"; done
	# shellcheck disable=SC2086
	(cd "$work/dl" && apt-get download -qq $sandbox $want) || die "apt-get download$want failed"
	for f in "$work"/dl/*.deb; do mv "$f" "$cache/"; done
fi

root=$work/rootfs
mkdir -p "$root" "$work/home"
for f in $files; do
	dpkg-deb -x "$cache/$f" "$root" || die "dpkg-deb -x $f failed"
done
[ -x "$root/bin/busybox" ] || die "busybox-static gave no /bin/busybox"
# Every applet busybox knows, where no package put a real program.
for applet in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] && continue
	mkdir -p "$root/$(dirname "$applet")"
	ln -s /bin/busybox "$root/$applet"
done
[ -x "$root/usr/bin/python3" ] || die "python3 gave no /usr/bin/python3"
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
mkdir -p "$root/tmp" "$root/var/tmp" "$root/root" "$root/home" "$root/etc"
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
bench:x:1000:1000:bench:/home/bench:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
bench:x:1000:
nogroup:x:65534:
EOF
echo "$pins" >"$root/etc/perfbench-python-base.packages"

cat >"$work/Dockerfile" <<EOF
FROM scratch
LABEL perfbench.test=python-base perfbench.test.key=$key
COPY rootfs/ /
COPY --chown=1000:1000 home/ /home/bench/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1
EOF
"$docker" build -q -t "$tag" -t "$repo:current" "$work" >"$work/build.log" 2>&1 || {
	cat "$work/build.log" >&2
	die "$docker build failed"
}
# A smoke check of what the tests rely on; a failing image loses its tags,
# so the next run builds again. (setuptools first: Debian's pip imports the
# standard library's distutils, which setuptools refuses to replace later
# in the same process; pip runs setuptools in a process of its own.)
"$docker" run --rm --network none --user 1000:1000 "$tag" \
	sh -c 'test "$HOME" = /home/bench && test -w "$HOME" && python3 -W ignore::UserWarning -c "import setuptools, wheel, pip, ssl, sqlite3, ctypes, venv"' || {
	"$docker" rmi "$tag" "$repo:current" >/dev/null 2>&1 || true
	die "$tag does not work: python3 cannot import setuptools, wheel and pip as uid 1000 with a writable HOME"
}
prune_old
echo "python-base: built $tag ($(echo "$pins" | wc -l) packages, $(du -sh "$root" | cut -f1)) in $(($(date +%s) - start))s"
