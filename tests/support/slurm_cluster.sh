#!/usr/bin/env bash
# A throwaway single-node Slurm cluster (munged + slurmctld + slurmd) living entirely in one
# directory, for the Slurm executor tests. Everything (config, state, spool, logs, pid files,
# munge key and socket) is inside DIR; daemons talk over 127.0.0.1 on free TCP ports, so it does
# not touch /etc/slurm, /etc/munge, /run/munge or a system cluster.
#
#   slurm_cluster.sh start DIR               create DIR, start the daemons, wait for the node to
#                                            be idle; prints KEY=VALUE lines on stdout
#                                            (SLURM_CONF=DIR/slurm.conf, ...) for eval/parsing
#   slurm_cluster.sh stop DIR                cancel jobs, stop the daemons; safe to call twice
#   slurm_cluster.sh restart-controller DIR  SIGTERM slurmctld and start it again on the same
#                                            state (running jobs survive); wait until it answers
#   slurm_cluster.sh status DIR              exit 0 if the controller answers
#
# Needs root (SlurmUser=root, munged runs as the munge user) and the Debian packages
# slurm-wlm and munge (scripts/setup). Exit 2: not root or binaries missing; 1: other failure.
# Knobs (environment): SLURM_FIXTURE_CPUS (node CPU count; default what `slurmd -C` finds, but
# at least 8, accepted through SlurmdParameters=config_overrides), SLURM_FIXTURE_TIMEOUT (seconds
# to wait for readiness, default 30), SLURM_FIXTURE_MIN_JOB_AGE (seconds a finished job stays
# visible, default 30; 0 = never purge), SLURM_FIXTURE_KILL_WAIT (SIGTERM->SIGKILL, default 5),
# SLURM_FIXTURE_MESSAGE_TIMEOUT (default 5), SLURM_FIXTURE_EXTRA_CONF (lines added to slurm.conf).
set -euo pipefail

die() { echo "slurm_cluster: $*" >&2; exit 1; }
usage() { echo "usage: $0 {start|stop|restart-controller|status} DIR" >&2; exit 2; }
log() { echo "slurm_cluster: $*" >&2; }

(($# == 2)) || usage
cmd=$1
dir=$2
[[ $dir == /* ]] || dir="$PWD/$dir"
dir=${dir%/}

if [[ $(id -u) != 0 ]]; then
  echo "slurm_cluster: must run as root (SlurmUser=root, munged is started as the munge user)" >&2
  exit 2
fi
for b in munged mungekey slurmctld slurmd sinfo scontrol squeue scancel sbatch runuser python3; do
  if ! command -v "$b" >/dev/null; then
    echo "slurm_cluster: '$b' not found; run scripts/setup (needs slurm-wlm and munge)" >&2
    exit 2
  fi
done
getent passwd munge >/dev/null || { echo "slurm_cluster: no 'munge' user; run scripts/setup" >&2; exit 2; }

conf="$dir/slurm.conf"
timeout=${SLURM_FIXTURE_TIMEOUT:-30}
export SLURM_CONF="$conf"
# Do not let a caller's environment redirect the clients used here.
unset SLURM_CLUSTERS SQUEUE_FORMAT SQUEUE_FORMAT2 SINFO_FORMAT

pid_of() { # pid_of FILE: prints the pid if FILE names a live process
  local f=$1 p
  [[ -s $f ]] || return 1
  p=$(tr -dc 0-9 <"$f")
  [[ -n $p ]] && kill -0 "$p" 2>/dev/null && echo "$p"
}

logs_tail() {
  local f
  for f in "$dir"/munge/munged.log "$dir"/slurmctld.log "$dir"/slurmd.log; do
    [[ -f $f ]] || continue
    echo "----- tail $f" >&2
    tail -n 25 "$f" >&2
  done
}

fail() { log "$*"; logs_tail; exit 1; }

wait_exit() { # wait_exit PID SECONDS: 0 once PID is gone
  local p=$1 n=$(($2 * 10))
  while ((n-- > 0)); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

stop_pidfiles() { # stop_pidfiles FILE...: SIGTERM all at once, wait, SIGKILL after 15 s
  local f p pids=()
  for f in "$@"; do
    if p=$(pid_of "$f"); then
      kill -TERM "$p" 2>/dev/null || true
      pids+=("$p")
    fi
  done
  for p in "${pids[@]+"${pids[@]}"}"; do
    if ! wait_exit "$p" 15; then
      log "pid $p ($(cat "/proc/$p/comm" 2>/dev/null)) ignored SIGTERM for 15 s; SIGKILL"
      kill -KILL "$p" 2>/dev/null || true
      wait_exit "$p" 5 || log "pid $p still alive after SIGKILL"
    fi
  done
  rm -f "$@"
}

controller_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

free_ports() { # prints two free TCP ports on 127.0.0.1
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

start_munged() {
  local m="$dir/munge"
  if pid_of "$m/munged.pid" >/dev/null; then return 0; fi
  install -d -o munge -g munge -m 0755 "$m"
  if [[ ! -s $m/munge.key ]]; then
    mungekey --create --keyfile="$m/munge.key" --force
    chown munge:munge "$m/munge.key"
    chmod 0400 "$m/munge.key"
  fi
  rm -f "$m/munge.socket" "$m/munge.socket.lock"
  runuser -u munge -- munged --socket="$m/munge.socket" --key-file="$m/munge.key" \
    --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed" \
    || fail "munged failed to start"
  local deadline=$((SECONDS + timeout))
  until [[ -S $m/munge.socket ]]; do
    ((SECONDS < deadline)) || fail "munged socket $m/munge.socket did not appear"
    sleep 0.1
  done
}

start_slurmctld() {
  if pid_of "$dir/slurmctld.pid" >/dev/null; then return 0; fi
  slurmctld -f "$conf" || fail "slurmctld failed to start"
}

start_slurmd() {
  if pid_of "$dir/slurmd.pid" >/dev/null; then return 0; fi
  slurmd -f "$conf" || fail "slurmd failed to start"
}

wait_controller() {
  local deadline=$((SECONDS + timeout))
  until controller_up; do
    ((SECONDS < deadline)) || fail "slurmctld did not answer 'scontrol ping' within ${timeout}s"
    pid_of "$dir/slurmctld.pid" >/dev/null || { sleep 0.5; pid_of "$dir/slurmctld.pid" >/dev/null ||
      fail "slurmctld exited"; }
    sleep 0.2
  done
}

wait_idle() {
  local node=$1 deadline=$((SECONDS + timeout)) state=""
  while :; do
    state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
    # After a controller restart the node reads "unknown" until slurmd re-registers (~5 s).
    [[ $state == idle || $state == mixed || $state == allocated || $state == completing ]] && return 0
    ((SECONDS < deadline)) || fail "node $node not idle within ${timeout}s (state: '${state:-?}')"
    sleep 0.2
  done
}

write_conf() {
  local node=$1 cpus mem hw ctld_port slurmd_port detected
  detected=$(slurmd -C | head -n 1)
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$detected")
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$detected")
  [[ -n $cpus && -n $mem ]] || fail "cannot parse 'slurmd -C': $detected"
  if [[ -n ${SLURM_FIXTURE_CPUS:-} ]]; then
    hw="CPUs=$SLURM_FIXTURE_CPUS"
  elif ((cpus < 8)); then # room for several 1-CPU jobs at once even on a small machine
    hw="CPUs=8"
  else # the detected topology, so that slurmd does not warn that the config differs
    hw=$(grep -o -E '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' <<<"$detected" | tr '\n' ' ')
    hw=${hw% }
  fi
  read -r ctld_port slurmd_port <<<"$(free_ports)"
  cat >"$conf.tmp" <<EOF
# Generated by tests/support/slurm_cluster.sh for a throwaway test cluster.
ClusterName=meanwhile-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
CommunicationParameters=NoInAddrAny
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# Schedule on every submit/end event: the default batch_sched_delay=3 starts jobs only every 3 s.
SchedulerParameters=batch_sched_delay=0
# Reject impossible requests (e.g. --cpus-per-task=999) at submit instead of leaving them pending.
EnforcePartLimits=ALL
# Clients give up on a dead controller after MessageTimeout-1 s (refused) or MessageTimeout s.
MessageTimeout=${SLURM_FIXTURE_MESSAGE_TIMEOUT:-5}
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=${SLURM_FIXTURE_MIN_JOB_AGE:-30}
KillWait=${SLURM_FIXTURE_KILL_WAIT:-5}
ReturnToService=2
MaxJobCount=100000
MaxArraySize=100001
MailProg=/bin/true
${SLURM_FIXTURE_EXTRA_CONF:-}
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node $hw RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
}

print_env() {
  echo "SLURM_CONF=$conf"
  echo "SLURM_FIXTURE_NODE=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$conf")"
  echo "SLURM_FIXTURE_PARTITION=debug"
}

# Processes of this cluster's jobs: slurmstepd and job processes carry SLURM_CONF=DIR/slurm.conf
# in their environment (slurmd and the fixture export it); job processes also carry SLURM_JOB_ID.
# Catches jobs that escaped (setsid, double fork) which proctrack/linuxproc can miss.
job_pids() {
  local p env comm self=$$ anc=" "
  local q=$$
  while [[ $q -gt 1 ]]; do
    anc+="$q "
    q=$(awk '{print $4}' "/proc/$q/stat" 2>/dev/null || echo 1)
  done
  for e in /proc/[0-9]*/environ; do
    p=${e#/proc/}; p=${p%/environ}
    [[ $anc == *" $p "* || $p == "$self" ]] && continue
    env=$({ tr '\0' '\n' <"$e"; } 2>/dev/null) || continue
    grep -qxF "SLURM_CONF=$conf" <<<"$env" || continue
    comm=$({ cat "/proc/$p/comm"; } 2>/dev/null || true)
    if [[ $comm == slurmstepd ]] || grep -q '^SLURM_JOB_ID=' <<<"$env"; then
      [[ $comm == slurmd || $comm == slurmctld ]] || echo "$p"
    fi
  done
}

case $cmd in
start)
  node=$(hostname -s)
  [[ -n $node ]] || die "empty hostname"
  # Another fixture cluster (another DIR) may be running: it uses other ports and files, so the
  # two do not conflict; say so for the logs.
  for f in /proc/[0-9]*/cmdline; do
    c=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
    if [[ $c == slurmctld\ -f\ * || $c == */slurmctld\ -f\ * ]]; then
      other=${c#*-f }; other=${other%% *}
      [[ $other == "$conf" ]] || log "note: another fixture slurmctld is running with $other"
    fi
  done
  if pid_of "$dir/slurmctld.pid" >/dev/null && controller_up; then
    log "cluster in $dir already running"
    print_env
    exit 0
  fi
  t0=$SECONDS
  mkdir -p "$dir"
  chmod 0755 "$dir" # munged runs as the munge user and must reach DIR/munge
  mkdir -p "$dir/state" "$dir/spool"
  [[ -f $conf ]] || write_conf "$node"
  start_munged
  start_slurmctld
  start_slurmd
  wait_controller
  wait_idle "$node"
  log "cluster up in $((SECONDS - t0))s ($dir)"
  print_env
  ;;
stop)
  [[ -d $dir ]] || exit 0
  if [[ -f $conf ]] && pid_of "$dir/slurmctld.pid" >/dev/null; then
    scancel --quiet --full --user=root 2>/dev/null || true
    scancel --quiet --user=root 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [[ -n $(squeue -h -t PD,R,CG,S -o %i 2>/dev/null) ]] && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  stop_pidfiles "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"
  if [[ -f $conf ]]; then
    left=$(job_pids)
    if [[ -n $left ]]; then
      log "killing leftover job processes: $(tr '\n' ' ' <<<"$left")"
      kill -KILL $left 2>/dev/null || true
    fi
  fi
  ;;
restart-controller)
  [[ -f $conf ]] || die "no cluster in $dir"
  stop_pidfiles "$dir/slurmctld.pid"
  start_slurmctld
  wait_controller
  wait_idle "$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$conf")"
  ;;
status)
  [[ -f $conf ]] && controller_up
  ;;
*)
  usage
  ;;
esac
