#!/usr/bin/env bash
# Benchmark: anontrack against `cp -r` (the floor) and peers, on one synthetic participant,
# for each profile, in RAM (tmpfs) and on disk, in one run.
#
# Usage: scripts/bench.sh [--profiles lab,neuro] [--profile P] [--modes ram,disk]
#                         [--peers dcmodify,dcmanon,pydicom] [--series S] [--slices K]
#                         [--matrix M] [--rounds R] [--files N] [--workdir DIR] [--ramdir DIR]
#                         [--keep] [--no-build]
#
#   default      1 participant x 4 series x 400 slices of 240x240 = 1,600 files, about 190 MB;
#                profiles lab and neuro; in RAM and on disk; peers dcmodify and dcmanon
#   --profiles   comma-separated: lab, basic, neuro (--profile P: just one)
#   --modes      ram: the study (raw and outputs) in a tmpfs (--ramdir, default /dev/shm);
#                disk: in --workdir (default a new folder under ${TMPDIR:-/tmp}), which must be
#                on a real disk for the column to mean anything
#   --peers      which peers to time where installed: dcmodify (DCMTK), dcmanon (carecoders,
#                `cargo install dicom-anonymization`), pydicom (a read-modify-save loop, slow)
#   --files N    scale mode: about N files (4 series of N/4 slices), to check that peak memory
#                does not grow with the file count; add --matrix 64 to keep the disk use small
#
# In one run, with a warm page cache, it alternates R rounds (default 5) of, per mode:
#   cp -r          cp -r RAW OUT                                          (the floor)
#   anonymize P    anontrack anonymize RAW OUT --profile P ...            (standard profiles get
#                  --key-file with a study key made for the bench in the work folder)
#   verify P       anontrack verify RAW REF --profile P ...               (on an anonymize output)
#   sync P         anontrack sync WORKBOOK, anontrack.toml with profile P (anonymize + verify +
#                  flush to disk + publish + write-back)
#   sync P no flush  the same with ANONTRACK_NO_SYNC=1 (a bench-only switch that skips the
#                  syncfs/fsync): the difference is the cost of durability
#   dcmodify       cp -r RAW OUT && dcmodify -nb -imt -ma ... (the lab recipe; DCMTK edits in
#                  place, so its time includes the copy)
#   dcmanon        dcmanon anonymize -i RAW -o OUT -c lab.json -r --continue (the lab recipe as far as
#                  its config allows: the 18 tags replaced, the date set, UIDs and private tags
#                  kept; it decodes and re-encodes each file)
#   pydicom        scripts/bench_pydicom.py RAW OUT DATE                  (read, modify, save)
# and prints one table per mode (median wall seconds, median CPU seconds, the ratio to cp -r of
# the same mode, peak RSS) and a summary of the ratios. Every figure is a ratio to `cp -r`
# measured in the same run and mode: absolute times move with the machine's load.
# A tool that is missing or fails on its first try shows `n/a` with the reason.
#
# Env: ANONTRACK_BIN=path benchmarks that binary instead of target/release/anontrack;
#      DCMANON_BIN=path the dcmanon binary (default: dcmanon on PATH, else ~/.cargo/bin/dcmanon).
# Needs GNU time at /usr/bin/time (Debian: `apt-get install -y time`; the script installs it when
# run as root). Work folders are removed at the end unless --keep.

set -euo pipefail

SERIES=4
SLICES=400
MATRIX=240
ROUNDS=5
FILES=""
WORK=""
RAMDIR=/dev/shm
KEEP=0
BUILD=1
SEED=1
DATE=20240101
STUDY_ID=S001
PROFILES=lab,neuro
MODES=ram,disk
PEERS=dcmodify,dcmanon

while [[ $# -gt 0 ]]; do
    case "$1" in
        --series) SERIES="$2"; shift 2 ;;
        --slices) SLICES="$2"; shift 2 ;;
        --matrix) MATRIX="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --workdir) WORK="$2"; shift 2 ;;
        --ramdir) RAMDIR="$2"; shift 2 ;;
        --profile|--profiles) PROFILES="$2"; shift 2 ;;
        --modes|--mode) MODES="$2"; shift 2 ;;
        --peers) PEERS="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown option \`$1\` (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -n "$FILES" ]]; then
    SLICES=$(( (FILES + SERIES - 1) / SERIES ))
fi
IFS=, read -r -a PROFILE_LIST <<<"$PROFILES"
IFS=, read -r -a MODE_LIST <<<"$MODES"
IFS=, read -r -a PEER_LIST <<<"$PEERS"
for p in "${PROFILE_LIST[@]}"; do
    case "$p" in lab|basic|neuro) ;; *) echo "bench.sh: unknown profile \`$p\` (lab, basic, neuro)" >&2; exit 2 ;; esac
done
for m in "${MODE_LIST[@]}"; do
    case "$m" in ram|disk) ;; *) echo "bench.sh: unknown mode \`$m\` (ram, disk)" >&2; exit 2 ;; esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ANONTRACK_BIN:-$REPO/target/release/anontrack}"
DCMANON="${DCMANON_BIN:-$(command -v dcmanon || echo "$HOME/.cargo/bin/dcmanon")}"

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

# One work folder per mode: disk under --workdir (or TMPDIR), RAM under --ramdir.
declare -A MW
if [[ -z "$WORK" ]]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/anontrack-bench.XXXXXX")"
else
    mkdir -p "$WORK"
fi
for m in "${MODE_LIST[@]}"; do
    if [[ $m == ram ]]; then
        MW[ram]="$(mktemp -d "$RAMDIR/anontrack-bench.XXXXXX")"
    else
        MW[disk]="$WORK/disk"
        mkdir -p "${MW[disk]}"
    fi
done
cleanup() {
    if [[ $KEEP -eq 0 ]]; then
        rm -rf "$WORK"
        [[ -n "${MW[ram]:-}" ]] && rm -rf "${MW[ram]}"
    else
        echo "kept $WORK ${MW[ram]:-}" >&2
    fi
}
trap cleanup EXIT
fstype() { df --output=fstype "$1" 2>/dev/null | tail -1; }

echo "generating $SERIES series x $SLICES slices (${MATRIX}x${MATRIX}) ..." >&2
"$BIN" --quiet gen-study "$WORK/gen" --participants 1 --series "$SERIES" --slices "$SLICES" \
    --matrix "$MATRIX" --seed "$SEED"
ID="$(ls "$WORK/gen/sourcedata")"
NFILES=$(find "$WORK/gen/sourcedata/$ID" -type f | wc -l)
BYTES=$(find "$WORK/gen/sourcedata/$ID" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
MB=$(awk -v b="$BYTES" 'BEGIN {printf "%.1f", b / 1e6}')

# The lab's recipe for dcmodify: 18 tags to `Anonymous`, AcquisitionDate to the run's date.
LAB_TAGS=(0008,0012 0008,0020 0008,0021 0008,0023 0008,0090 0008,1050 0010,0010 0010,0020
          0010,0030 0010,1020 0010,1030 0010,4000 0029,1009 0029,1019 0029,1109 0029,1119
          0040,0244 0040,0253)
DCMODIFY_ARGS=(-nb -imt)
for t in "${LAB_TAGS[@]}"; do DCMODIFY_ARGS+=(-ma "($t)=Anonymous"); done
DCMODIFY_ARGS+=(-ma "(0008,0022)=$DATE")

# The lab recipe for dcmanon: its config replaces whole tag actions, so every tag its defaults
# touch is set to `none` (kept: UIDs, dates, private tags kept as the lab recipe keeps them), then
# the 18 tags are replaced with `Anonymous` and AcquisitionDate with the run's date.
dcmanon_config() { # out.json
    local defaults="$WORK/dcmanon-default.json"
    "$DCMANON" config create -o "$defaults" >/dev/null 2>&1 || return 1
    python3 - "$defaults" "$1" "$DATE" "${LAB_TAGS[@]}" <<'EOF'
import json, sys
src, out, date, *lab = sys.argv[1:]
cfg = json.load(open(src))
tags = cfg.get("tag_actions", {})
for k in list(tags):
    tags[k] = {"action": "none"}
for t in lab:
    g, e = t.split(",")
    tags[(g + e).upper()] = {"action": "replace", "value": "Anonymous"}
tags["00080022"] = {"action": "replace", "value": date}
cfg["tag_actions"] = tags
for k in ("remove_private_tags", "remove_curves", "remove_overlays"):
    if k in cfg:
        cfg[k] = False
json.dump(cfg, open(out, "w"), indent=1)
EOF
}

# The names of the timed tools, in the order of the tables.
TOOL_NAMES=(cp)
for p in "${PROFILE_LIST[@]}"; do TOOL_NAMES+=("anon-$p" "verify-$p" "sync-$p" "nosync-$p"); done
for peer in "${PEER_LIST[@]}"; do TOOL_NAMES+=("$peer"); done
label() {
    case "$1" in
        cp) echo "cp -r" ;;
        anon-*) echo "anonymize ${1#anon-}" ;;
        verify-*) echo "verify ${1#verify-}" ;;
        sync-*) echo "sync ${1#sync-}" ;;
        nosync-*) echo "sync ${1#nosync-} no flush" ;;
        *) echo "$1" ;;
    esac
}

# run_tool MODE_DIR NAME: one timed run, with $D/out fresh. Runs in its own bash (under
# /usr/bin/time), so it sees only the variables passed to it.
run_tool() {
    local D="$1" name="$2" p key=()
    local RAW="$D/study/sourcedata/$ID" OUT="$D/out"
    case "$name" in
        *-lab) p=lab ;;
        *-*) p="${name#*-}"; key=(--key-file "$D/study/bench.key") ;;
    esac
    case "$name" in
        cp) cp -r "$RAW" "$OUT" ;;
        anon-*) "$BIN" --quiet anonymize "$RAW" "$OUT" --original-id "$ID" --study-id "$STUDY_ID" --date "$DATE" --profile "$p" "${key[@]}" ;;
        verify-*) "$BIN" --quiet verify "$RAW" "$D/ref-$p/$STUDY_ID" --original-id "$ID" --study-id "$STUDY_ID" --date "$DATE" --profile "$p" "${key[@]}" ;;
        sync-*) "$BIN" --quiet sync "$D/study/BENCH_dataprocessing.xlsx" ;;
        nosync-*) ANONTRACK_NO_SYNC=1 "$BIN" --quiet sync "$D/study/BENCH_dataprocessing.xlsx" ;;
        dcmodify) cp -r "$RAW" "$OUT" && find "$OUT" -type f -name '*.dcm' -exec dcmodify "${DCMODIFY_ARGS[@]}" {} + >/dev/null ;;
        dcmanon) mkdir -p "$OUT" && "$DCMANON" anonymize -i "$RAW" -o "$OUT" -c "$D/dcmanon-lab.json" -r --continue >/dev/null ;;
        pydicom) python3 "$REPO/scripts/bench_pydicom.py" "$RAW" "$OUT" "$DATE" 2>/dev/null ;;
    esac
}

prepare() { # MODE_DIR NAME: reset outputs outside the timed region
    local D="$1" name="$2"
    rm -rf "$D/out" "$D/study/AnonDcm" "$D/study/.anontrack"
    case "$name" in
        sync-*|nosync-*)
            cp "$D/sheet-pristine.xlsx" "$D/study/BENCH_dataprocessing.xlsx"
            local p="${name#*-}"
            if [[ $p == lab ]]; then
                printf 'profile = "lab"\n' >"$D/study/anontrack.toml"
            else
                printf 'profile = "%s"\nkey_file = "bench.key"\n' "$p" >"$D/study/anontrack.toml"
            fi
            ;;
    esac
}

TIMES="$WORK/times"
mkdir -p "$TIMES"
declare -A OK WHY

# Try each tool once per mode (untimed): keep those that run (exit 0, or 1 = ran with findings).
try_tool() { # MODE NAME
    local m="$1" name="$2" D="${MW[$1]}"
    prepare "$D" "$name"
    local log="$WORK/try-$m-$name.log" rc=0
    run_tool "$D" "$name" >"$log" 2>&1 || rc=$?
    if [[ $rc -eq 0 || $rc -eq 1 ]]; then
        OK[$m.$name]=1
        [[ $rc -eq 1 ]] && WHY[$m.$name]="exit 1 (findings) on the first try"
        return 0
    fi
    WHY[$m.$name]="$(grep -m1 -v '^\s*$' "$log" | sed "s#$D/##g" | cut -c1-90 || true)"
    [[ -n "${WHY[$m.$name]}" ]] || WHY[$m.$name]="exit $rc"
    return 1
}

HAVE_SHEET=0
if command -v python3 >/dev/null && python3 -c "import openpyxl" 2>/dev/null; then HAVE_SHEET=1; fi
for m in "${MODE_LIST[@]}"; do
    D="${MW[$m]}"
    echo "setting up $m in $D ($(fstype "$D")) ..." >&2
    cp -r "$WORK/gen" "$D/study"
    # The study key of the standard profiles: made for the bench, kept in its work folder.
    head -c 32 /dev/urandom >"$D/study/bench.key"
    chmod 600 "$D/study/bench.key"
    # Warm the page cache so every tool reads from memory.
    find "$D/study/sourcedata" -type f -exec cat {} + >/dev/null
    if [[ $HAVE_SHEET -eq 1 ]]; then
        python3 "$REPO/scripts/bench_sheet.py" "$D/sheet-pristine.xlsx" "$ID" "$STUDY_ID" BM 2>"$WORK/sheet.log" || HAVE_SHEET=0
    fi
    try_tool "$m" cp || true
    for p in "${PROFILE_LIST[@]}"; do
        if try_tool "$m" "anon-$p"; then
            # verify compares against one kept anonymize output (named like sync's output).
            rm -rf "$D/ref-$p"; mkdir -p "$D/ref-$p"; mv "$D/out" "$D/ref-$p/$STUDY_ID"
            try_tool "$m" "verify-$p" || true
        else
            WHY[$m.verify-$p]="needs anonymize"
        fi
        for s in sync nosync; do
            if [[ $HAVE_SHEET -eq 1 ]]; then
                try_tool "$m" "$s-$p" || true
            else
                WHY[$m.$s-$p]="python3 with openpyxl not installed (builds the workbook)"
            fi
        done
    done
    for peer in "${PEER_LIST[@]}"; do
        case "$peer" in
            dcmodify)
                if command -v dcmodify >/dev/null; then try_tool "$m" dcmodify || true
                else WHY[$m.dcmodify]="not installed (Debian dcmtk)"; fi ;;
            dcmanon)
                if [[ ! -x "$DCMANON" ]]; then
                    WHY[$m.dcmanon]="not installed (cargo install dicom-anonymization)"
                elif dcmanon_config "$D/dcmanon-lab.json"; then
                    try_tool "$m" dcmanon || true
                else
                    WHY[$m.dcmanon]="cannot write its config (dcmanon config create)"
                fi ;;
            pydicom)
                if command -v python3 >/dev/null && python3 -c "import pydicom" 2>/dev/null; then
                    try_tool "$m" pydicom || true
                else
                    WHY[$m.pydicom]="python3 with pydicom not installed"
                fi ;;
            *) echo "bench.sh: unknown peer \`$peer\` (dcmodify, dcmanon, pydicom)" >&2; exit 2 ;;
        esac
    done
done

echo "participant $ID: $NFILES files, $MB MB; profiles ${PROFILE_LIST[*]}; modes ${MODE_LIST[*]}; $ROUNDS rounds, $(nproc) cores" >&2
# Alternate the tools (and the modes) within each round, so drift (thermal, other load) hits
# them alike.
for ((round = 1; round <= ROUNDS; round++)); do
    for m in "${MODE_LIST[@]}"; do
        D="${MW[$m]}"
        for name in "${TOOL_NAMES[@]}"; do
            [[ -n "${OK[$m.$name]:-}" ]] || continue
            prepare "$D" "$name"
            rc=0
            # Wall time from the clock in ns (GNU time's %e has 10 ms steps, coarse in RAM);
            # CPU and peak RSS from GNU time.
            t0=$(date +%s%N)
            /usr/bin/time -f '%e %U %S %M' -o "$TIMES/$m.$name.$round" \
                bash -c "$(declare -f run_tool); $(declare -p BIN ID STUDY_ID DATE REPO DCMANON DCMODIFY_ARGS); run_tool '$D' '$name'" \
                >/dev/null 2>&1 || rc=$?
            t1=$(date +%s%N)
            awk -v a="$t0" -v b="$t1" '{ $1 = sprintf("%.4f", (b - a) / 1e9); print }' "$TIMES/$m.$name.$round" >"$TIMES/tmp" \
                && mv "$TIMES/tmp" "$TIMES/$m.$name.$round"
            if [[ $rc -gt 1 ]]; then echo "warning: $m $name exited $rc in round $round" >&2; fi
        done
    done
    echo "round $round/$ROUNDS done" >&2
done
for m in "${MODE_LIST[@]}"; do prepare "${MW[$m]}" none; done

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# med MODE NAME COLUMN: the median (or for RSS the max) over the rounds.
med() {
    local files=("$TIMES/$1.$2".*)
    [[ -e "${files[0]}" ]] || { echo ""; return; }
    case "$3" in
        wall) for f in "${files[@]}"; do awk '{print $1}' "$f"; done | median ;;
        cpu) for f in "${files[@]}"; do awk '{print $2 + $3}' "$f"; done | median ;;
        rss) for f in "${files[@]}"; do awk '{print $4}' "$f"; done | sort -g | tail -1 ;;
    esac
}
ratio() { # a b: a / b
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", ((a > 0) ? a : 0.0005) / ((b > 0) ? b : 0.0005) }'
}

mode_word() { [[ $1 == ram ]] && echo "in RAM ($(fstype "${MW[ram]}"))" || echo "on disk ($(fstype "${MW[disk]}"))"; }

echo
echo "anontrack benchmark: 1 participant, $NFILES files, $MB MB, $ROUNDS round(s) (medians), $(nproc) cores, warm cache, $(date -u +%Y-%m-%d)"
for m in "${MODE_LIST[@]}"; do
    cp_wall=$(med "$m" cp wall)
    echo
    echo "$(mode_word "$m"):"
    printf '%-22s %8s %8s %9s %9s %12s\n' tool "wall s" "CPU s" "files/s" "x cp -r" "peak RSS MB"
    for name in "${TOOL_NAMES[@]}"; do
        if [[ -z "${OK[$m.$name]:-}" ]]; then
            printf '%-22s %8s %8s %9s %9s %12s   (%s)\n' "$(label "$name")" n/a n/a n/a n/a n/a "${WHY[$m.$name]:-not run}"
            continue
        fi
        wall=$(med "$m" "$name" wall); cpu=$(med "$m" "$name" cpu); rss=$(med "$m" "$name" rss)
        awk -v l="$(label "$name")" -v w="$wall" -v c="$cpu" -v n="$NFILES" -v r="$rss" -v x="$(ratio "$wall" "$cp_wall")" -v note="${WHY[$m.$name]:-}" 'BEGIN {
            ws = (w > 0) ? w : 0.0005
            printf "%-22s %8.3f %8.2f %9.0f %9s %12.1f%s\n", l, w, c, n / ws, x, r / 1024, (note != "") ? "   (" note ")" : ""
        }'
    done
done

# The summary: every figure a ratio measured in the same run and mode.
echo
echo "summary: median wall time as a multiple of cp -r in the same mode"
header=$(printf '%-26s' "")
for m in "${MODE_LIST[@]}"; do for p in "${PROFILE_LIST[@]}"; do header+=$(printf ' %12s' "$m $p"); done; done
echo "$header"
for row in anon verify sync nosync; do
    line=$(printf '%-26s' "$(label "$row-X" | sed 's/ X//')")
    for m in "${MODE_LIST[@]}"; do
        cp_wall=$(med "$m" cp wall)
        for p in "${PROFILE_LIST[@]}"; do line+=$(printf ' %12s' "$(ratio "$(med "$m" "$row-$p" wall)" "$cp_wall")"); done
    done
    echo "$line"
done
line=$(printf '%-26s' "durability (sync/no flush)")
for m in "${MODE_LIST[@]}"; do
    for p in "${PROFILE_LIST[@]}"; do line+=$(printf ' %12s' "$(ratio "$(med "$m" "sync-$p" wall)" "$(med "$m" "nosync-$p" wall)")"); done
done
echo "$line"
if [[ " ${PROFILE_LIST[*]} " == *" lab "* ]]; then
    for p in "${PROFILE_LIST[@]}"; do
        [[ $p == lab ]] && continue
        for row in anon sync; do
            line=$(printf '%-26s' "$p / lab ($(label "$row-X" | sed 's/ X//'))")
            for m in "${MODE_LIST[@]}"; do
                line+=$(printf ' %12s' "$(ratio "$(med "$m" "$row-$p" wall)" "$(med "$m" "$row-lab" wall)")")
                for ((i = 1; i < ${#PROFILE_LIST[@]}; i++)); do line+=$(printf ' %12s' ""); done
            done
            echo "$line"
        done
    done
fi
for peer in "${PEER_LIST[@]}"; do
    line=$(printf '%-26s' "$peer (lab recipe)")
    for m in "${MODE_LIST[@]}"; do
        x=$(ratio "$(med "$m" "$peer" wall)" "$(med "$m" cp wall)")
        [[ -n "${OK[$m.$peer]:-}" ]] || x=n/a
        line+=$(printf ' %12s' "$x")
        for ((i = 1; i < ${#PROFILE_LIST[@]}; i++)); do line+=$(printf ' %12s' ""); done
    done
    echo "$line"
done
