#!/bin/sh
# Whole-run overhead of the harness: `bench prepare` with the noop agent on
# N items (default 200) at --max-workers 2, on a generated repository.
# Prints the peak RSS of the bench process and, from the journals, the mean
# time per item, the part spent creating workspaces, and the rest (task
# file, agent process, patch capture, journals) — the harness's overhead
# beyond workspace creation.
#
#   scripts/overhead.sh [N]
#
# Needs go, git, GNU /usr/bin/time and awk.
set -eu
n=${1:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

(cd "$root" && go build -o "$tmp/bench" ./cmd/bench)

# A repository of 200 files with one human commit per item.
git init -q -b main repo
(
	cd repo
	i=0
	while [ $i -lt 200 ]; do
		printf 'line %d\n' $i > "f$i.txt"
		i=$((i + 1))
	done
	git add -A
	git -c user.name=h -c user.email=h@x commit -q -m base
	i=0
	while [ $i -lt "$n" ]; do
		printf 'change %d\n' $i >> "f$((i % 200)).txt"
		git -c user.name=h -c user.email=h@x commit -q -am "c$i"
		i=$((i + 1))
	done
	git rev-list --reverse HEAD | tail -n "$n" | sed 's/$/ parent=1/'
) > commits.txt

cat > task.yaml <<YAML
id: ovh
repo:
  url: ./repo
YAML
cat > bench.yaml <<YAML
agents:
  noop: {}
YAML

start=$(date +%s.%N)
/usr/bin/time -v ./bench prepare task.yaml --commits commits.txt --agent noop --max-workers 2 >run.out 2>time.err || { cat run.out time.err; exit 1; }
end=$(date +%s.%N)
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.err)

cat state/runs/*/ovh-*/journal.json | awk -v n="$n" -v rss="$rss" -v wall="$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" '
	/"duration_seconds":/ { gsub(/[,]/, "", $2); d += $2; items++ }
	/"workspace":/ { gsub(/[,]/, "", $2); w += $2 }
	END {
		printf "items %d, max workers 2, wall %.1f s\n", items, wall
		printf "peak RSS %.1f MiB\n", rss / 1024
		printf "mean per item %.0f ms: workspace %.0f ms, beyond workspace %.0f ms\n", 1000 * d / items, 1000 * w / items, 1000 * (d - w) / items
	}'
