#!/usr/bin/env bash
# Runs inside the private mount + network + PID namespace created by scripts/bench (PID 1 there).
# Env: PLINTH, STANDIN, POLLER (release binaries), BIN (real Kubernetes + etcd + kubeadm),
# N (repetitions), RUNS (JSON-lines file that receives one record per measured run), PARTS (e.g.
# "pki cp"), ALGS (e.g. "RSA-2048 ECDSA-P256"), PKI_DIR (disk directory for the PKI runs),
# IDLE_MIN and IDLE_WAIT (before each run, wait up to IDLE_WAIT s for IDLE_MIN % idle CPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
mount --make-rprivate /
for d in /etc/kubernetes /var/lib/etcd /var/lib/kubelet /var/log/pods; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
ip link set lo up
# A new network namespace starts with forwarding off and plinth's preflight requires it (per
# namespace, as in tests/e2e/scenarios.sh); this is the bench's namespace, never the host's.
echo 1 > /proc/sys/net/ipv4/ip_forward
ip addr add 10.77.0.10/32 dev lo
PY=(python3 tests/bench/bench.py)
W=$(mktemp -d /tmp/plinth-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
# plinth's one-run-at-a-time lock would be /run/plinth.lock, on the host's /run: keep it here.
export PLINTH_LOCK_FILE=$W/plinth.lock
K=/etc/kubernetes
log() { echo "[bench] $*" >&2; }
# Sleeps $1 seconds and prints how much of the machine's CPU time was idle meanwhile (percent):
# the share other users of this machine left us right before a measured run.
idle_during() {
  local a b
  a=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep "$1"
  b=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2])}'
}
# Measures idleness over $1 seconds, repeating for up to IDLE_WAIT seconds until at least IDLE_MIN
# percent of the CPU was idle; sets IDLE (last measurement) and WAITED (seconds spent).
wait_idle() {
  local start=$EPOCHREALTIME
  while :; do
    IDLE=$(idle_during "$1")
    WAITED=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
    [ "$IDLE" -lt "$IDLE_MIN" ] && awk -v w="$WAITED" -v m="$IDLE_WAIT" 'BEGIN {exit !(w < m)}' || break
  done
}

# One config for both tools: kubeadm needs the version (no network) and an explicit CRI socket
# (nothing is detected); plinth accepts the same file.
for alg in $ALGS; do
  cat >"$W/config-$alg.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.77.0.10
  bindPort: 6443
nodeRegistration:
  name: bench-cp
  criSocket: unix:///run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.37.2
encryptionAlgorithm: $alg
networking:
  podSubnet: 10.244.0.0/16
YAML
done

# Phases after wait-control-plane (they need a working API and do work plinth does not do yet)
# and preflight are skipped for both tools; plinth is only told about the names it knows.
POST_API="preflight upload-config upload-certs mark-control-plane bootstrap-token kubelet-finalize addon show-join-command"
plinth_phases=$("$PLINTH" init --help | sed -n '/^```$/,/^```$/p' | sed -nE 's/^([a-z][a-z-]*) {2,}[A-Z].*/\1/p')
PLINTH_SKIP=(); KUBEADM_SKIP=()
for p in $POST_API; do
  KUBEADM_SKIP+=("$p")
  if grep -qx "$p" <<<"$plinth_phases"; then PLINTH_SKIP+=("$p"); fi
done
KUBEADM_ARGS=(--skip-phases "$(IFS=,; echo "${KUBEADM_SKIP[*]}")")
PLINTH_ARGS=()
[ "${#PLINTH_SKIP[@]}" = 0 ] || PLINTH_ARGS=(--skip-phases "$(IFS=,; echo "${PLINTH_SKIP[*]}")")
# The floor's files: everything up to the manifests, preflight included (it must pass here, as
# in the e2e tier), nothing that needs a running API server.
PRERENDER_SKIP=(wait-control-plane)
for p in "${PLINTH_SKIP[@]}"; do [ "$p" = preflight ] || PRERENDER_SKIP+=("$p"); done
log "plinth phases: $(echo $plinth_phases); plinth skips: ${PLINTH_SKIP[*]:-none}; kubeadm skips: ${KUBEADM_SKIP[*]}"

# ---------------------------------------------------------------- 1. PKI + kubeconfig
# Both tools write to their defaults (/etc/kubernetes/pki, /etc/kubernetes), bind-mounted from a
# directory on disk, emptied and synced before every run.
pki_run() { # tool alg [warmup: not recorded]
  local tool=$1 alg=$2 exe
  [ "$tool" = plinth ] && exe=$PLINTH || exe=$BIN/kubeadm
  rm -rf "${K:?}"/*
  sync
  local t0 t1
  wait_idle 0.5
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S %M' -o "$W/t.certs" "$exe" init phase certs all --config "$W/config-$alg.yaml" >"$W/pki.log" 2>&1 &&
    /usr/bin/time -f '%U %S %M' -o "$W/t.kubeconfig" "$exe" init phase kubeconfig all --config "$W/config-$alg.yaml" >>"$W/pki.log" 2>&1 ||
    { cat "$W/pki.log" >&2; return 1; }
  t1=$EPOCHREALTIME
  # 27 files from both tools; plinth's hidden ownership ledgers (.plinth-owned) are bookkeeping.
  local files; files=$(find $K -type f ! -name .plinth-owned | wc -l)
  [ "$files" = 27 ] || { log "$tool $alg wrote $files files, not 27"; return 1; }
  [ -z "${3:-}" ] || return 0
  "${PY[@]}" record-pki --tool "$tool" --alg "$alg" --t0 "$t0" --t1 "$t1" --idle "$IDLE" \
    --waited "$WAITED" --time "$W/t.certs" --time "$W/t.kubeconfig" >>"$RUNS"
}

if [[ " $PARTS " == *" pki "* ]]; then
  mkdir -p "$PKI_DIR"
  mount --bind "$PKI_DIR" $K
  for alg in $ALGS; do
    pki_run plinth "$alg" warmup; pki_run kubeadm "$alg" warmup # page cache
  done
  for i in $(seq "$N"); do
    for alg in $ALGS; do
      # Alternate which tool goes first, so a drift in machine load hits both alike.
      if ((i % 2)); then order="plinth kubeadm"; else order="kubeadm plinth"; fi
      for tool in $order; do pki_run "$tool" "$alg"; done
      log "pki $i/$N $alg done"
    done
  done
  rm -rf "${K:?}"/*
  umount $K
fi

# ---------------------------------------------------------------- 2-4. control plane
# Endpoints polled by the independent poller: the startup probes of the manifests (what plinth
# polls). kube-apiserver uses admin.conf's CA and client certificate, as plinth and kubeadm do.
ENDPOINTS=(
  kubelet=http://127.0.0.1:10248/healthz
  etcd=http://127.0.0.1:2381/readyz
  kube-apiserver=https://10.77.0.10:6443/livez
  kube-controller-manager=https://127.0.0.1:10257/healthz
  kube-scheduler=https://127.0.0.1:10259/livez
)

wipe() { rm -rf "${K:?}"/* /var/lib/etcd/* /var/lib/kubelet/* /var/log/pods/*; }

wait_port() { # host port seconds
  local end=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.02
  done
}
port_free() { ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Renders what the floor starts from, once per algorithm, with plinth: PKI, kubeconfigs,
# kubelet files, manifests. (kubeadm's start the same commands: same flags, probes and images.)
prerender() { # alg
  local alg=$1 d=$W/pre-$1
  wipe
  "$PLINTH" init --config "$W/config-$alg.yaml" --skip-phases "$(IFS=,; echo "${PRERENDER_SKIP[*]}")" >"$W/pre.log" 2>&1 ||
    { cat "$W/pre.log" >&2; return 1; }
  mkdir -p "$d"
  cp -a $K "$d/etc"
  cp -a /var/lib/kubelet "$d/kubelet"
  wipe
}

STANDIN_PID=
stop_standin() {
  if [ -n "$STANDIN_PID" ]; then
    kill -TERM "$STANDIN_PID" 2>/dev/null || true
    wait "$STANDIN_PID" 2>/dev/null || true
    STANDIN_PID=
  fi
  local a
  for a in "127.0.0.1 2379" "127.0.0.1 2381" "10.77.0.10 6443" "127.0.0.1 10257" "127.0.0.1 10259" "127.0.0.1 10248"; do
    local end=$((SECONDS + 20))
    until port_free $a; do [ $SECONDS -lt $end ] || { log "port $a still busy"; return 1; }; sleep 0.1; done
  done
}

cp_run() { # mode alg
  local mode=$1 alg=$2 cfg=$W/config-$2.yaml
  wipe
  rm -f "$W"/poll.json "$W"/poll.ready "$W"/out.log "$W"/time.txt "$W"/standin.json "$W"/fifo "$W"/stamp.ready
  if [ "$mode" = floor ]; then
    cp -a "$W/pre-$alg/etc/." $K/
    mv $K/manifests $K/.staged-manifests # renamed into place at t0 (one rename(2))
    cp -a "$W/pre-$alg/kubelet/." /var/lib/kubelet/
  fi
  # The kubelet stand-in runs before the tool starts, as a kubelet would (same flags every mode).
  "$STANDIN" --manifests-dir $K/manifests --bin-dir "$BIN" --kubeconfig $K/kubelet.conf \
    --node-name bench-cp --status-file "$W/standin.json" --poll-interval 20ms --max-grace-period 3s \
    >"$W/standin.log" 2>&1 &
  STANDIN_PID=$!
  wait_port 127.0.0.1 10248 10
  "$POLLER" --out "$W/poll.json" --ready-file "$W/poll.ready" --interval-ms 5 --timeout-s 180 \
    --kubeconfig $K/admin.conf "${ENDPOINTS[@]}" &
  local poll_pid=$!
  # The stamper starts before t0 and blocks opening the FIFO, so its start-up is not timed.
  mkfifo "$W/fifo"
  "${PY[@]}" stamp --ready-file "$W/stamp.ready" "$W/fifo" >"$W/out.log" &
  local stamp_pid=$!
  until [ -e "$W/poll.ready" ] && [ -e "$W/stamp.ready" ]; do sleep 0.02; done
  local t0 rc=0
  wait_idle 1 # also lets start-up CPU settle
  t0=$EPOCHREALTIME
  case $mode in
    plinth) /usr/bin/time -v -o "$W/time.txt" "$PLINTH" init --config "$cfg" "${PLINTH_ARGS[@]}" >"$W/fifo" 2>"$W/err.log" || rc=$? ;;
    kubeadm) /usr/bin/time -v -o "$W/time.txt" "$BIN/kubeadm" init --config "$cfg" "${KUBEADM_ARGS[@]}" >"$W/fifo" 2>"$W/err.log" || rc=$? ;;
    floor) mv $K/.staged-manifests $K/manifests; : >"$W/fifo" ;;
  esac
  wait "$stamp_pid"
  wait "$poll_pid" || true
  if [ "$rc" != 0 ]; then
    log "$mode $alg failed (exit $rc)"; sed 's/^/    /' "$W/out.log" "$W/err.log" >&2
  fi
  "${PY[@]}" record-cp --mode "$mode" --alg "$alg" --t0 "$t0" --rc "$rc" --idle "$IDLE" \
    --waited "$WAITED" --poll "$W/poll.json" --stamp "$W/out.log" --time "$W/time.txt" \
    --status "$W/standin.json" >>"$RUNS"
  stop_standin
  [ "$rc" = 0 ]
}

if [[ " $PARTS " == *" cp "* ]]; then
  for alg in $ALGS; do prerender "$alg"; done
  for i in $(seq "$N"); do
    for alg in $ALGS; do
      for mode in floor plinth kubeadm; do
        cp_run "$mode" "$alg"
        log "cp $i/$N $alg $mode: $(tail -1 "$RUNS" | "${PY[@]}" summary)"
      done
    done
  done
fi
