#!/usr/bin/env bash
# Submits anontrack run 20261130-200402-9f83 to SLURM: work items 0-2 of 3 as one array job, then the
# collect step, which writes the workbook once every task has ended (done, failed or cancelled).
# Written by `anontrack slurm-script` 0.1.0; run it with: bash THIS_FILE
# A task that died leaves its row untouched: re-submit it with `anontrack slurm-script PLAN
# --only <index>` (or run `anontrack work PLAN --index <index>`), then collect again.
set -euo pipefail

ANONTRACK='/opt/anontrack/bin/anontrack'
PLAN='/project/mystudy/plan.json'
WORKBOOK='/project/mystudy/STUDY_dataprocessing.xlsx'
LOGS='/project/mystudy/.anontrack/results/20261130-200402-9f83/logs'

mkdir -p "$LOGS"

# One task per work item; task i works item i ($SLURM_ARRAY_TASK_ID).
array_job=$(sbatch --parsable \
  --job-name='anontrack-work-20261130-200402-9f83' \
  --array=0-2%20 \
  --time='1:00:00' \
  --cpus-per-task=2 \
  --partition='short' \
  --account='mylab' \
  --output="$LOGS/work-%A_%a.out" <<EOF
#!/bin/bash
exec $(printf '%q ' "$ANONTRACK" work "$PLAN")--jobs 2
EOF
)
array_job=${array_job%%;*}  # --parsable may add ";cluster"

# The collect step: one job, after every task has ended, whatever its outcome.
collect_job=$(sbatch --parsable \
  --job-name='anontrack-collect-20261130-200402-9f83' \
  --dependency=afterany:"$array_job" \
  --time=0:30:00 \
  --cpus-per-task=1 \
  --partition='short' \
  --account='mylab' \
  --output="$LOGS/collect-%j.out" <<EOF
#!/bin/bash
exec $(printf '%q ' "$ANONTRACK" sync "$WORKBOOK" --collect "$PLAN")
EOF
)
collect_job=${collect_job%%;*}

echo "work array job: $array_job (items 0-2, at most 20 at once)"
echo "collect job: $collect_job (starts when every task has ended)"
echo "logs: $LOGS"
