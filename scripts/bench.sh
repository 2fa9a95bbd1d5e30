#!/usr/bin/env bash
# Benchmark: anontrack against `cp -r` (the floor) and peers, on one synthetic participant.
#
# Usage: scripts/bench.sh [--series S] [--slices K] [--matrix M] [--rounds R] [--files N]
#                         [--workdir DIR] [--keep] [--no-build]
#
#   default      1 participant x 4 series x 400 slices of 240x240 = 1,600 files, about 190 MB
#   --files N    scale mode: about N files (4 series of N/4 slices), to check that peak memory
#                does not grow with the file count (issue 5: under 100 MB at 10,000 files);
#                add --matrix 64 to keep the disk use small
#
# In one run, with a warm page cache, it alternates R rounds (default 5) of:
#   cp -r          cp -r RAW OUT                                          (the floor)
#   anonymize      anontrack anonymize RAW OUT --original-id ID --study-id S001 --date ...
#   verify         anontrack verify RAW OUT --original-id ID             (on the anonymize output)
#   sync           anontrack sync WORKBOOK                                (anonymize+verify+write-back)
#   dcmodify       cp -r RAW OUT && dcmodify -nb -imt -ma ... (DCMTK modifies in place, so its
#                  time includes the copy)
#   pydicom        scripts/bench_pydicom.py RAW OUT DATE                  (read, modify, save)
# and prints one table: median wall seconds, median CPU seconds (user+sys), files/s and MB/s
# (raw files and bytes over median wall time), the ratio to cp -r, and peak RSS over all rounds.
# A tool that is missing or not implemented yet (exit 2 on its first try) shows `n/a`.
#
# Env: ANONTRACK_BIN=path benchmarks that binary instead of target/release/anontrack.
# Needs GNU time at /usr/bin/time (Debian: `apt-get install -y time`; the script installs it when
# run as root). Outputs go under a temporary work folder, removed at the end unless --keep.

set -euo pipefail

SERIES=4
SLICES=400
MATRIX=240
ROUNDS=5
FILES=""
WORK=""
KEEP=0
BUILD=1
SEED=1
DATE=20240101
STUDY_ID=S001

while [[ $# -gt 0 ]]; do
    case "$1" in
        --series) SERIES="$2"; shift 2 ;;
        --slices) SLICES="$2"; shift 2 ;;
        --matrix) MATRIX="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --workdir) WORK="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown option \`$1\` (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -n "$FILES" ]]; then
    SLICES=$(( (FILES + SERIES - 1) / SERIES ))
fi

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# ANONTRACK_BIN benchmarks another build (use with --no-build).
BIN="${ANONTRACK_BIN:-$REPO/target/release/anontrack}"

# GNU time gives peak RSS (%M); the shell keyword `time` does not.
if [[ ! -x /usr/bin/time ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "bench.sh: installing GNU time (apt-get install -y time)" >&2
        apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; }
    fi
    [[ -x /usr/bin/time ]] || { echo "bench.sh: /usr/bin/time is missing (apt-get install -y time)" >&2; exit 2; }
fi

if [[ $BUILD -eq 1 ]]; then
    echo "building release binary..." >&2
    (cd "$REPO" && cargo build --release --quiet)
fi

if [[ -z "$WORK" ]]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/anontrack-bench.XXXXXX")"
else
    mkdir -p "$WORK"
fi
cleanup() { if [[ $KEEP -eq 0 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi; }
trap cleanup EXIT

echo "generating $SERIES series x $SLICES slices (${MATRIX}x${MATRIX}) in $WORK/study ..." >&2
"$BIN" --quiet gen-study "$WORK/study" --participants 1 --series "$SERIES" --slices "$SLICES" \
    --matrix "$MATRIX" --seed "$SEED"
ID="$(ls "$WORK/study/sourcedata")"
RAW="$WORK/study/sourcedata/$ID"
NFILES=$(find "$RAW" -type f | wc -l)
BYTES=$(find "$RAW" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
MB=$(awk -v b="$BYTES" 'BEGIN {printf "%.1f", b / 1e6}')
echo "participant $ID: $NFILES files, $MB MB; $ROUNDS rounds, $(nproc) cores" >&2

# Warm the page cache so every tool reads from memory.
find "$RAW" -type f -exec cat {} + >/dev/null

OUT="$WORK/out"
TIMES="$WORK/times"
mkdir -p "$TIMES"

# The lab's recipe for dcmodify: 18 tags to `Anonymous`, AcquisitionDate to the run's date.
LAB_TAGS=(0008,0012 0008,0020 0008,0021 0008,0023 0008,0090 0008,1050 0010,0010 0010,0020
          0010,0030 0010,1020 0010,1030 0010,4000 0029,1009 0029,1019 0029,1109 0029,1119
          0040,0244 0040,0253)
DCMODIFY_ARGS=(-nb -imt)
for t in "${LAB_TAGS[@]}"; do DCMODIFY_ARGS+=(-ma "($t)=Anonymous"); done
DCMODIFY_ARGS+=(-ma "(0008,0022)=$DATE")

# The sync round needs a workbook beside the study: default anontrack.toml layout,
# raw = sourcedata/{original_id}, anonymized = AnonDcm/{id}.
SHEET="$WORK/study/BENCH_dataprocessing.xlsx"
SHEET_PRISTINE="$WORK/sheet-pristine.xlsx"

run_tool() { # name: the command line of one timed run, with $OUT fresh
    case "$1" in
        cp) cp -r "$RAW" "$OUT" ;;
        anonymize) "$BIN" --quiet anonymize "$RAW" "$OUT" --original-id "$ID" --study-id "$STUDY_ID" --date "$DATE" ;;
        verify) "$BIN" --quiet verify "$RAW" "$WORK/anon-ref" --original-id "$ID" ;;
        sync) "$BIN" --quiet sync "$SHEET" ;;
        dcmodify) cp -r "$RAW" "$OUT" && find "$OUT" -type f -name '*.dcm' -exec dcmodify "${DCMODIFY_ARGS[@]}" {} + >/dev/null ;;
        pydicom) python3 "$REPO/scripts/bench_pydicom.py" "$RAW" "$OUT" "$DATE" 2>/dev/null ;;
    esac
}

prepare() { # name: reset outputs outside the timed region
    rm -rf "$OUT" "$WORK/study/AnonDcm" "$WORK/study/.anontrack"
    if [[ "$1" == sync ]]; then cp "$SHEET_PRISTINE" "$SHEET"; fi
}

# Try each tool once (untimed): keep those that run (exit 0, or 1 = ran with findings).
TOOLS=(cp)
declare -A WHY
try_tool() {
    local name="$1"
    prepare "$name"
    local log="$WORK/try-$name.log" rc=0
    run_tool "$name" >"$log" 2>&1 || rc=$?
    if [[ $rc -eq 0 || $rc -eq 1 ]]; then
        TOOLS+=("$name")
        [[ $rc -eq 1 ]] && WHY[$name]="exit 1 (findings) on the first try"
        return 0
    fi
    WHY[$name]="$(grep -m1 -v '^\s*$' "$log" | sed "s#$WORK/##g" | cut -c1-90 || true)"
    [[ -n "${WHY[$name]}" ]] || WHY[$name]="exit $rc"
    return 1
}

if try_tool anonymize; then
    # verify compares against one kept anonymize output.
    rm -rf "$WORK/anon-ref"; mv "$OUT" "$WORK/anon-ref"
    try_tool verify || true
else
    WHY[verify]="needs anonymize"
fi
if command -v python3 >/dev/null && python3 -c "import openpyxl" 2>/dev/null; then
    if python3 "$REPO/scripts/bench_sheet.py" "$SHEET_PRISTINE" "$ID" "$STUDY_ID" BM 2>"$WORK/sheet.log"; then
        try_tool sync || true
    else
        WHY[sync]="cannot build the workbook: $(head -c 80 "$WORK/sheet.log")"
    fi
else
    WHY[sync]="python3 with openpyxl not installed (builds the workbook)"
fi
if command -v dcmodify >/dev/null; then try_tool dcmodify || true; else WHY[dcmodify]="not installed (Debian dcmtk)"; fi
if command -v python3 >/dev/null && python3 -c "import pydicom" 2>/dev/null; then
    try_tool pydicom || true
else
    WHY[pydicom]="python3 with pydicom not installed"
fi

# Alternate the tools within each round, so drift (thermal, other load) hits them alike.
for ((round = 1; round <= ROUNDS; round++)); do
    for name in "${TOOLS[@]}"; do
        prepare "$name"
        rc=0
        /usr/bin/time -f '%e %U %S %M' -o "$TIMES/$name.$round" \
            bash -c "$(declare -f run_tool); $(declare -p RAW OUT BIN ID STUDY_ID DATE WORK SHEET REPO DCMODIFY_ARGS); run_tool $name" \
            >/dev/null 2>&1 || rc=$?
        if [[ $rc -gt 1 ]]; then echo "warning: $name exited $rc in round $round" >&2; fi
    done
    echo "round $round/$ROUNDS done" >&2
done
prepare none

median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

CP_WALL=$(for f in "$TIMES"/cp.*; do awk '{print $1}' "$f"; done | median)

echo
echo "anontrack benchmark: 1 participant, $NFILES files, $MB MB, $ROUNDS round(s) (medians), $(nproc) cores, warm cache"
printf '%-10s %10s %10s %10s %9s %9s %13s\n' tool "wall s" "CPU s" "files/s" "MB/s" "x cp -r" "peak RSS MB"
for name in cp anonymize verify sync dcmodify pydicom; do
    label="$name"; [[ $name == cp ]] && label="cp -r"
    if [[ ! " ${TOOLS[*]} " == *" $name "* ]]; then
        printf '%-10s %10s %10s %10s %9s %9s %13s   (%s)\n' "$label" n/a n/a n/a n/a n/a n/a "${WHY[$name]:-not run}"
        continue
    fi
    wall=$(for f in "$TIMES/$name".*; do awk '{print $1}' "$f"; done | median)
    cpu=$(for f in "$TIMES/$name".*; do awk '{print $2 + $3}' "$f"; done | median)
    rss=$(for f in "$TIMES/$name".*; do awk '{print $4}' "$f"; done | sort -g | tail -1)
    awk -v l="$label" -v w="$wall" -v c="$cpu" -v n="$NFILES" -v b="$BYTES" -v cp="$CP_WALL" -v r="$rss" -v note="${WHY[$name]:-}" 'BEGIN {
        ws = (w > 0) ? w : 0.005   # GNU time reports 10 ms steps
        printf "%-10s %10.2f %10.2f %10.0f %9.1f %9.2f %13.1f%s\n", l, w, c, n / ws, b / 1e6 / ws, ws / ((cp > 0) ? cp : 0.005), r / 1024, (note != "") ? "   (" note ")" : ""
    }'
done
