#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for tests and demos: munged, slurmctld and slurmd
# started as root from Debian's `slurm-wlm` and `munge` packages, everything under one folder.
#
# Usage: scripts/slurm-local.sh start|stop|status [DIR]
#
#   start    writes DIR/slurm.conf and a fresh munge key, starts munged, slurmctld and slurmd,
#            and waits until the node takes jobs (a few seconds); prints the line to export
#   stop     stops the daemons that `start` started, by the pids in DIR (never by name)
#   status   says which of them run, and shows `sinfo`
#
# DIR defaults to $SLURM_LOCAL_DIR, else /tmp/anontrack-slurm. Client commands (sbatch, squeue,
# scontrol, scancel) need `export SLURM_CONF=DIR/slurm.conf`. Ports: $SLURM_LOCAL_PORT (slurmctld,
# default 6817) and the one after it (slurmd). Nothing outside DIR is written: /etc/slurm and
# /etc/munge stay as they are, and munged listens on its own socket in DIR.
#
# Needs root (slurmd runs jobs as their submitter; munged runs as the `munge` user).

set -euo pipefail

cmd=${1:-}
dir=${2:-${SLURM_LOCAL_DIR:-/tmp/anontrack-slurm}}
port=${SLURM_LOCAL_PORT:-6817}

die() {
  echo "slurm-local: $*" >&2
  exit 2
}

# The pid in FILE if that process still runs, else nothing.
running_pid() {
  local file=$1 pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_one() {
  local name=$1 file=$2 pid
  if pid=$(running_pid "$file"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

write_conf() {
  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  # A little under the real memory: a node that reports less than its configured
  # RealMemory is drained.
  mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for anontrack's tests.
ClusterName=anontrack-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to scontrol for ten minutes.
MinJobAge=600
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmd and slurmctld read cgroup.conf only for cgroup plugins; none is configured.
}

start_munge() {
  local m=$dir/munge
  mkdir -p "$m"
  chown munge:munge "$m"
  # munged wants its socket folder open to all (clients must reach the socket); the key is 0400.
  chmod 0755 "$m"
  if [[ ! -s $m/munge.key ]]; then
    dd if=/dev/urandom of="$m/munge.key" bs=1 count=1024 status=none
    chown munge:munge "$m/munge.key"
    chmod 0400 "$m/munge.key"
  fi
  runuser -u munge -- munged \
    --key-file="$m/munge.key" --socket="$m/munge.socket" --pid-file="$m/munged.pid" \
    --log-file="$m/munged.log" --seed-file="$m/munged.seed" \
    || die "munged did not start (see $m/munged.log)"
  for _ in $(seq 50); do
    [[ -S $m/munge.socket ]] && return 0
    sleep 0.1
  done
  die "munged did not open its socket (see $m/munged.log)"
}

start() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (slurmd starts jobs as their submitter)"
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || die "\`$tool\` not found (hint: apt-get install slurm-wlm munge)"
  done
  if running_pid "$dir/slurmctld.pid" >/dev/null || running_pid "$dir/munge/munged.pid" >/dev/null; then
    die "a cluster from $dir is already running (stop it first: $0 stop $dir)"
  fi
  mkdir -p "$dir/state" "$dir/spool"
  chmod 0755 "$dir"
  runuser -u munge -- test -x "$dir" ||
    die "the \`munge\` user cannot reach $dir (hint: a folder above it is private; use one under /tmp, or chmod 0755 its parents)"
  write_conf
  export SLURM_CONF=$dir/slurm.conf
  start_munge
  # -c: a clean start, forgetting jobs from an earlier cluster in the same folder.
  slurmctld -c -f "$SLURM_CONF" || die "slurmctld did not start (see $dir/slurmctld.log)"
  slurmd -f "$SLURM_CONF" || die "slurmd did not start (see $dir/slurmd.log)"
  local state=""
  for _ in $(seq 300); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n1 || true)
    case $state in
      idle | mixed | allocated) break ;;
      down* | drain*) scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.1
  done
  case $state in
    idle | mixed | allocated) ;;
    *) die "the node did not come up (state \`${state:-unknown}\`; see $dir/slurmctld.log and $dir/slurmd.log)" ;;
  esac
  echo "slurm-local: one-node cluster up ($(nproc) CPUs); for sbatch and squeue:"
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
  [[ -d $dir ]] || return 0
  # Jobs first would be polite, but stopping slurmd ends its job steps too.
  stop_one slurmd "$dir/slurmd.pid"
  stop_one slurmctld "$dir/slurmctld.pid"
  stop_one munged "$dir/munge/munged.pid"
}

status() {
  local any=1 name file pid
  for name in munged slurmctld slurmd; do
    case $name in
      munged) file=$dir/munge/munged.pid ;;
      *) file=$dir/$name.pid ;;
    esac
    if pid=$(running_pid "$file"); then
      echo "$name running (pid $pid)"
      any=0
    else
      echo "$name not running"
    fi
  done
  if [[ $any -eq 0 && -f $dir/slurm.conf ]]; then
    SLURM_CONF=$dir/slurm.conf sinfo || true
  fi
  return $any
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status [DIR]" ;;
esac
