#!/bin/sh
# bench: merge of run t__claude__m__20260102T030405Z once its shards are done, and its HTML report
#SBATCH --job-name=bench-merge
#SBATCH --partition=cpu
#SBATCH --chdir="/shared/p dir"
#SBATCH --output=/shared/p/state/runs/t__claude__m__20260102T030405Z/slurm/merge-%j.out
#SBATCH --export=NONE,BENCH_WATCH_TMP,HOME,LANG,LLM_MODEL,PATH,PROJECT_ROOT
#SBATCH --account=lab
#SBATCH --qos=normal
set -eu
/opt/bench/bin/bench merge /shared/p/state/runs/t__claude__m__20260102T030405Z
/opt/bench/bin/bench report /shared/p/state/runs/t__claude__m__20260102T030405Z --format html --out /shared/p/state/runs/t__claude__m__20260102T030405Z/report.html
