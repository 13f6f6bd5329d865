#!/bin/sh
# bench: rollouts of run t__claude__m__20260102T030405Z, one of 4 shards
# A failed shard I is run again by: sbatch --array=I /shared/p/state/runs/t__claude__m__20260102T030405Z/slurm/prepare.sh
# (finished items are skipped, interrupted and infra_error ones redone).
#SBATCH --job-name=bench-prepare
#SBATCH --array=0-3
#SBATCH --time=02:10:00
#SBATCH --cpus-per-task=2
#SBATCH --mem=4g
#SBATCH --partition=cpu
#SBATCH --chdir="/shared/p dir"
#SBATCH --output=/shared/p/state/runs/t__claude__m__20260102T030405Z/slurm/prepare-%A_%a.out
#SBATCH --export=NONE,BENCH_WATCH_TMP,HOME,LANG,LLM_MODEL,PATH,PROJECT_ROOT
#SBATCH --account=lab
#SBATCH --qos=normal
set -eu
/opt/bench/bin/bench prepare /shared/p/tasks/t.yaml --from-plan /shared/p/state/plan.json --bench-cfg /shared/p/bench.yaml --agent claude --samples 2 --run-id t__claude__m__20260102T030405Z --shard "$SLURM_ARRAY_TASK_ID/4"
