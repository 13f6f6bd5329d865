#!/bin/sh
# patch-rss.sh: peak memory of `bench prepare` when agents write a 200 MB
# file. Two items, two workers; each agent writes
# SIZE_MB of base64 text (a text diff as large as the file). Runs once
# with the default max_patch_bytes (the items end agent_error "patch too
# large", refused before git stores the file) and once with a limit large
# enough to capture the patch (streamed to model_patch.diff and
# predictions.jsonl). Prints the bench process's own peak RSS (VmHWM,
# polled from /proc; /usr/bin/time would report git's, its largest child).
#
#   scripts/patch-rss.sh [SIZE_MB]     (default 200; needs ~2 GB of disk)
set -eu
size=${1:-200}
repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
(cd "$repo_root" && go build -o "$work/bench" ./cmd/bench)

git init -q -b main repo
cd repo
git config user.email b@x && git config user.name b
echo 'slow() { echo 1000; }' > slow.sh
git add -A && git commit -qm base
base=$(git rev-parse HEAD)
: > ../commits.txt
for i in 1 2; do
	git checkout -q -B "opt$i" "$base"
	echo "fast() { echo $i; }" > "fast$i.sh"
	git add -A && git commit -qm "opt $i"
	echo "$(git rev-parse HEAD) parent=1" >> ../commits.txt
done
git checkout -q main
cd ..

cat > task.yaml <<'YAML'
id: rss
repo:
  url: ./repo
YAML
agent="head -c $((size * 3 / 4 * 1048576)) /dev/urandom | base64 > big.txt"
for limit in default large; do
	{
		[ "$limit" = large ] && echo "max_patch_bytes: $(((size + 50) * 1048576))"
		echo "agents:"
		echo "  big:"
		echo "    type: command"
		echo "    timeout: 10m"
		echo "    command: [\"sh\", \"-c\", \"$agent\"]"
	} > bench.yaml
	rm -rf state .work
	./bench prepare task.yaml --commits commits.txt --agent big --max-workers 2 > out.txt 2> err.txt &
	pid=$!
	hwm=0
	while kill -0 "$pid" 2>/dev/null; do
		v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		[ -n "$v" ] && hwm=$v
		sleep 0.1
	done
	wait "$pid" || { cat err.txt; exit 1; }
	patch=$(du -b state/runs/*/rss-0000/model_patch.diff 2>/dev/null | cut -f1 || true)
	preds=$(du -b state/runs/*/predictions.jsonl | cut -f1)
	printf '%s limit: %s; peak RSS of bench %d MB; model_patch.diff %s bytes, predictions.jsonl %s bytes\n' \
		"$limit" "$(tail -n 2 out.txt | head -n 1 | sed 's/.*: //')" $((hwm / 1024)) "${patch:-none}" "$preds"
done
