#!/usr/bin/env bash
# Scale run: a whole study through the SLURM array (plan, one task per participant, collect) on
# the one-node cluster of scripts/slurm-local.sh, against a local `sync` of a copy; prints the
# wall time of both.
#
# Usage: scripts/bench-cluster.sh [--participants P] [--files F] [--matrix M] [--max-parallel K]
#                                 [--workdir DIR] [--keep] [--no-build]
#
#   default   50 participants x 1,600 files (4 series x 400 slices of 64x64), K = nproc
#
# Needs root, slurm-wlm and munge (for the cluster) and python3 with openpyxl (for the workbook).
# Starts its own cluster in the work folder on port 6937 and stops it (by pid) at the end.
# The tasks and the local sync share this machine's cores: the array's gain on one node is
# overlapping participants, not more cores; on a real cluster each task gets its own.

set -euo pipefail

PARTICIPANTS=50
FILES=1600
MATRIX=64
PARALLEL=$(nproc)
WORK=""
KEEP=0
BUILD=1
DATE=20240101

while [[ $# -gt 0 ]]; do
    case "$1" in
        --participants) PARTICIPANTS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --matrix) MATRIX="$2"; shift 2 ;;
        --max-parallel) PARALLEL="$2"; shift 2 ;;
        --workdir) WORK="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-cluster.sh: unknown option \`$1\` (see --help)" >&2; exit 2 ;;
    esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ANONTRACK_BIN:-$REPO/target/release/anontrack}"
if [[ $BUILD -eq 1 ]]; then
    echo "building release binary..." >&2
    (cd "$REPO" && cargo build --release --quiet)
fi
python3 -c "import openpyxl" 2>/dev/null || { echo "bench-cluster.sh: needs python3 with openpyxl" >&2; exit 2; }

if [[ -z "$WORK" ]]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/anontrack-bench-cluster.XXXXXX")"
else
    mkdir -p "$WORK"
fi
# The cluster's munged runs as the `munge` user and must reach its folder inside.
chmod 0755 "$WORK"
CLUSTER="$WORK/slurm"
cleanup() {
    "$REPO/scripts/slurm-local.sh" stop "$CLUSTER" >/dev/null || true
    if [[ $KEEP -eq 0 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

SLICES=$(( (FILES + 3) / 4 ))
echo "generating $PARTICIPANTS participants x 4 series x $SLICES slices (${MATRIX}x${MATRIX}) ..." >&2
"$BIN" --quiet gen-study "$WORK/local" --participants "$PARTICIPANTS" --series 4 --slices "$SLICES" --matrix "$MATRIX"
python3 - "$WORK/local" <<'EOF'
import os, sys
import openpyxl
study = sys.argv[1]
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Sheet1"
ws.append(["ID", "Original ID", "Study", "Scan Date", "DICOMS Anonymized", "DICOM anonymization check"])
for i, oid in enumerate(sorted(os.listdir(os.path.join(study, "sourcedata")))):
    ws.append([f"S{i + 1:04d}", int(oid) if oid.isdigit() else oid, "BENCH", None, "BM", None])
wb.save(os.path.join(study, "BENCH_dataprocessing.xlsx"))
EOF
cp -r "$WORK/local" "$WORK/cluster"
NFILES=$(find "$WORK/local/sourcedata" -type f | wc -l)
# Warm the page cache for both copies.
find "$WORK/local/sourcedata" "$WORK/cluster/sourcedata" -type f -exec cat {} + >/dev/null

SLURM_LOCAL_PORT=6937 "$REPO/scripts/slurm-local.sh" start "$CLUSTER" >&2
export SLURM_CONF="$CLUSTER/slurm.conf"

echo "local sync of $NFILES files ..." >&2
t0=$(date +%s.%N)
"$BIN" --quiet sync "$WORK/local/BENCH_dataprocessing.xlsx" --date "$DATE" || true
t1=$(date +%s.%N)

echo "SLURM array of $PARTICIPANTS tasks (at most $PARALLEL at once) + collect ..." >&2
cd "$WORK/cluster"
t2=$(date +%s.%N)
"$BIN" --quiet sync BENCH_dataprocessing.xlsx --date "$DATE" --plan-out plan.json
"$BIN" slurm-script plan.json --max-parallel "$PARALLEL" --time 60 > submit.sh
collect=$(bash submit.sh | sed -n 's/^collect job: \([0-9]*\).*/\1/p')
while :; do
    state=$(scontrol show job -o "$collect" | tr ' ' '\n' | sed -n 's/^JobState=//p')
    case $state in
        COMPLETED | FAILED | CANCELLED | TIMEOUT) break ;;
    esac
    sleep 0.2
done
t3=$(date +%s.%N)

if ! diff -r -q "$WORK/local/AnonDcm" "$WORK/cluster/AnonDcm" >/dev/null; then
    echo "bench-cluster.sh: the outputs differ between the local sync and the array" >&2
    exit 1
fi
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$NFILES" -v p="$PARTICIPANTS" -v k="$PARALLEL" -v cores="$(nproc)" 'BEGIN {
    printf "%d participants, %d files, %d cores; outputs byte-identical\n", p, n, cores
    printf "%-40s %8s %10s\n", "mode", "wall s", "files/s"
    printf "%-40s %8.2f %10.0f\n", "local sync", b - a, n / (b - a)
    printf "%-40s %8.2f %10.0f\n", "SLURM array (" k " at once) + collect", d - c, n / (d - c)
}'
echo "collect job $collect ended $state (FAILED means a row has a problem; see the logs)" >&2
