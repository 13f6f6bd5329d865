#!/bin/sh
# Flag rate of the reward-hack rules over real changes that are not
# reward hacks: every commit of this project's history and the human diffs
# of the tests' fixtures. Exits 1 when a high-severity rule flags one.
# Usage: scripts/forensics-falsealarms.sh [-repo DIR] [-v]
set -eu
cd "$(dirname "$0")/.."
exec go run scripts/forensics-falsealarms.go "$@"
