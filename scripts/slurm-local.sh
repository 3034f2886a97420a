#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for trying `revbench run --slurm` and for
# its tests (tests/test_slurm.c). Everything it starts lives in one folder: its own munged
# (own key and socket), slurmctld and slurmd on free ports, state, spool and logs. Nodes and
# controller are addressed as 127.0.0.1, so nothing needs DNS and nothing leaves the loopback.
#
#   scripts/slurm-local.sh install        install Slurm 22.05 and munge from Debian (as root)
#   scripts/slurm-local.sh up [DIR]       start the cluster (installing it first if missing);
#                                         prints `export SLURM_CONF=DIR/slurm.conf` on stdout
#   scripts/slurm-local.sh down [DIR]     stop it (the folder and its logs stay)
#   scripts/slurm-local.sh status [DIR]   sinfo of the cluster, exit 1 if it is not up
#
# DIR defaults to ${TMPDIR:-/tmp}/revbench-slurm. Several folders give several independent
# clusters (each picks its own ports), so two test runs on one machine do not collide.
#
# Exit status: 0 done; 1 a daemon failed (its log is printed); 3 Slurm cannot run here (not
# root, or not installed and apt-get failed): the tests skip on 3 and fail on 1.
#
# Facts this relies on (Debian 12, Slurm 22.05, no systemd): munged refuses to run as root,
# so it runs as the munge user; SlurmctldHost must be `hostname -s`; proctrack/linuxproc and
# task/none need no cgroups; a job behind a failed dependency pends forever unless
# DependencyParameters=kill_invalid_depend; there is no accounting without slurmdbd, so
# finished jobs are kept visible to `scontrol show job` for MinJobAge seconds and logged by
# jobcomp/filetxt.
set -euo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge)
cmd="${1:-}"
dir="${2:-${TMPDIR:-/tmp}/revbench-slurm}"

die() { echo "slurm-local: $*" >&2; exit 1; }

installed() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null
}

install() {
  installed && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: Slurm is not installed and this is not root; as root, run:" >&2
    echo "  apt-get install -y --no-install-recommends ${PACKAGES[*]}" >&2
    exit 3
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing on a fresh machine; update only then (it is slow).
  if ! apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null ||
      { echo "slurm-local: apt-get install ${PACKAGES[*]} failed" >&2; exit 3; }
  fi
}

# Two free TCP ports on the loopback, asked of the kernel (bind to port 0).
free_ports() {
  python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits up to $2 tenths of a second for command $1 to succeed; never a fixed sleep.
poll() {
  local i
  for ((i = 0; i < $2; i++)); do
    eval "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

show_log() { echo "--- $1" >&2; tail -n 20 "$1" >&2 2>/dev/null || true; }

up() {
  install
  # slurmd starts jobs as their users and munged must be started as the munge user: both need
  # root. Not being root is "cannot run here" (3, the tests skip), not a failure.
  if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: a local cluster needs root (slurmd and munged run as other users)" >&2
    exit 3
  fi
  if [ -f "$dir/slurm.conf" ] && pid_alive "$dir/slurmctld.pid" && pid_alive "$dir/slurmd.pid"; then
    echo "export SLURM_CONF=$dir/slurm.conf"
    return 0
  fi
  down_quiet
  # A fresh cluster each time: state of an earlier one (its jobs, its cluster name) is dropped.
  rm -rf "$dir/state" "$dir/spool"
  mkdir -p "$dir"/{state,spool,log,munge}
  dir="$(cd "$dir" && pwd)"
  local host ports ctld_port slurmd_port node
  host="$(hostname -s)"
  read -r ctld_port slurmd_port < <(free_ports)
  # The node line as slurmd measures this machine, addressed on the loopback.
  node="$(slurmd -C | head -n 1) NodeAddr=127.0.0.1"

  # munge: its own key and socket in this folder, owned by the munge user, which it insists on.
  chown munge:munge "$dir/munge"
  # munged wants its socket folder searchable by all (clients connect) but writable by it alone.
  chmod 0755 "$dir/munge"
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 0400 "$dir/munge/munge.key"
  fi
  runuser -u munge -- munged --socket="$dir/munge/munge.socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" ||
    { show_log "$dir/munge/munged.log"; die "munged did not start"; }
  poll "[ -S '$dir/munge/munge.socket' ]" 50 || { show_log "$dir/munge/munged.log"; die "munged made no socket"; }

  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a single-node cluster on the loopback.
ClusterName=revbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
DependencyParameters=kill_invalid_depend
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=600
KillWait=10
$node
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"
  # -i: ignore state left by an earlier cluster in this folder (jobs of a previous run).
  slurmctld -i -f "$SLURM_CONF" || { show_log "$dir/log/slurmctld.log"; die "slurmctld did not start"; }
  slurmd -f "$SLURM_CONF" -N "$host" || { show_log "$dir/log/slurmd.log"; die "slurmd did not start"; }
  if ! poll "sinfo -h -o %T | grep -qx idle" 300; then
    show_log "$dir/log/slurmctld.log"
    show_log "$dir/log/slurmd.log"
    die "the node did not become idle within 30 s"
  fi
  echo "export SLURM_CONF=$SLURM_CONF"
}

# Sends SIGTERM to every daemon whose pid file is given, then waits (10 s at most) for all of
# them together before SIGKILL: slurmctld takes a few seconds to save its state.
stop_pidfiles() {
  local f pids=() i
  for f in "$@"; do
    # Read once: a daemon removes its own pid file as it exits.
    local pid
    pid="$(cat "$f" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for ((i = 0; i < 100 && ${#pids[@]} > 0; i++)); do
    local alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    pids=("${alive[@]+"${alive[@]}"}")
    [ ${#pids[@]} -gt 0 ] && sleep 0.1
  done
  for p in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$@"
}

down_quiet() {
  [ -d "$dir" ] || return 0
  stop_pidfiles "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"
}

case "$cmd" in
  install) install ;;
  up) up ;;
  down) down_quiet ;;
  status)
    [ -f "$dir/slurm.conf" ] && pid_alive "$dir/slurmctld.pid" || die "no cluster is up in $dir"
    SLURM_CONF="$dir/slurm.conf" sinfo ;;
  *)
    echo "usage: scripts/slurm-local.sh install|up|down|status [DIR]" >&2
    exit 2 ;;
esac
