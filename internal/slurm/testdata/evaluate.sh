#!/bin/sh
# bench: evaluation of run t__claude__m__20260102T030405Z, one of 4 shards, on a node of its own
# A failed shard I is run again by: sbatch --array=I /shared/p/state/runs/t__claude__m__20260102T030405Z/slurm/evaluate.sh
# (finished items are skipped, interrupted and infra_error ones redone).
#SBATCH --job-name=bench-evaluate
#SBATCH --array=0-3
#SBATCH --partition=cpu
#SBATCH --exclusive
#SBATCH --chdir="/shared/p dir"
#SBATCH --output=/shared/p/state/runs/t__claude__m__20260102T030405Z/slurm/evaluate-%A_%a.out
#SBATCH --export=NONE,BENCH_WATCH_TMP,HOME,LANG,LLM_MODEL,PATH,PROJECT_ROOT
#SBATCH --account=lab
#SBATCH --qos=normal
set -eu
/opt/bench/bin/bench evaluate /shared/p/state/runs/t__claude__m__20260102T030405Z --bench-cfg /shared/p/bench.yaml --shard "$SLURM_ARRAY_TASK_ID/4" --quiet
