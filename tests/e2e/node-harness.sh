#!/usr/bin/env bash
# The node harness leaves the host as it found it. Boots a node (scripts/node up), checks it from
# inside, powers it off (scripts/node down), boots it again and powers it off again, then compares
# the host with what it was before:
#   - canary files in the host's /tmp, /var/tmp, /etc and /var/log: same content and mtime (a
#     systemd booted over the host's root once emptied /tmp and wrote /var/log and /etc);
#   - the host's /dev listing and mtime (devtmpfs is shared by every mount of it);
#   - the host's mount table (/proc/self/mountinfo): no mount added, none removed;
#   - /sys/fs/cgroup still read-write (a node's systemd once remounted it read-only) and no
#     plinth-nodes directory left in any hierarchy;
#   - every kernel.panic* and vm.* sysctl: the values from before.
# Usage: [PLINTH=/abs/path/to/plinth] tests/e2e/node-harness.sh [--bare]
#   needs root; --bare: no containerd/kubelet; PLINTH: also run `plinth init` on the node (the
#   binary must be inside the repository, which the node sees read-only)
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE=nh-test
IP=10.78.0.250
MODE=${1:-}
[ "$(id -u)" = 0 ] || { echo "node-harness: needs root" >&2; exit 1; }
if [ -z "$MODE" ] && [ ! -f "${PLINTH_NODE_CACHE:-/var/cache/plinth-e2e/current}/.complete" ]; then
  echo "node-harness: no component cache: running --bare"; MODE=--bare
fi

WORK=$(mktemp -d /tmp/plinth-node-harness.XXXXXX)
# shellcheck source=tests/e2e/node-lib.sh
. tests/e2e/node-lib.sh
fail=0
cleanup() {
  scripts/node down "$NODE" >/dev/null 2>&1 || true
  canaries_remove
  rm -rf "$WORK"
}
trap cleanup EXIT
bad() { echo "FAIL: $*" >&2; fail=1; }
ok() { echo "ok: $*"; }


canaries_plant
snapshot "$WORK/before"

t0=$(date +%s.%N)
scripts/node up "$NODE" --ip "$IP" $MODE
t1=$(date +%s.%N)
inside() { scripts/node exec "$NODE" -- "$@"; }
[ "$(inside hostname)" = "$NODE" ] && ok "hostname $NODE (UTS)" || bad "hostname is $(inside hostname)"
inside ip -4 -o addr show eth0 | grep -q " $IP/24 " && ok "eth0 has $IP" || bad "eth0 lacks $IP"
inside systemctl is-active plinth-node.target >/dev/null && ok "plinth-node.target active" || bad "target not active"
state=$(inside systemctl is-system-running || true)
[ "$state" = running ] && ok "systemd: running" || bad "systemd: $state ($(inside systemctl --failed --no-legend | tr '\n' ' '))"
# PID 1 is systemd, and it sits in the node's cgroup subtree in every hierarchy (host view).
pid=$(cat /run/plinth-nodes/$NODE/pid)
[ "$(cat /proc/$pid/comm)" = systemd ] && ok "PID 1 of the node is systemd (host pid $pid)" || bad "node PID 1 is $(cat /proc/$pid/comm)"
if grep -v "/plinth-nodes/$NODE" /proc/$pid/cgroup | grep -q .; then bad "PID 1 outside the node's cgroups: $(cat /proc/$pid/cgroup | tr '\n' ' ')"; else ok "PID 1 in /plinth-nodes/$NODE in every hierarchy"; fi
# The image's own services must not run in a node.
for u in postgresql.service cron.service getty@tty1.service systemd-timesyncd.service systemd-sysctl.service; do
  if inside systemctl is-active "$u" >/dev/null 2>&1; then bad "$u runs in the node"; fi
done
ok "no image services (postgresql, cron, getty, timesyncd, sysctl) active"
inside test ! -e /tmp/.plinth-node-canary.$$ && ok "the node's /tmp is its own" || bad "the node sees the host's /tmp"
if [ "$MODE" != --bare ]; then
  inside systemctl is-active containerd.service kubelet.service >/dev/null || true
  inside systemctl is-active containerd.service >/dev/null && ok "containerd active" || bad "containerd not active"
  inside systemctl is-active plinth-node-images.service >/dev/null && ok "images imported" || bad "image import failed"
  n=$(inside ctr -n k8s.io images ls -q | wc -l)
  [ "$n" -gt 0 ] && ok "$n images in containerd's k8s.io namespace" || bad "no images imported"
  if [ -n "${PLINTH:-}" ]; then
    # A cluster on the node: plinth init with config/node.yaml, renamed for this node.
    sed "s/10\.78\.0\.10/$IP/; s/name: n1/name: $NODE/" config/node.yaml | inside sh -c 'cat > /root/node.yaml'
    if inside "$PLINTH" init --config /root/node.yaml > "$WORK/init.log" 2>&1; then ok "plinth init on the real kubelet"; else bad "plinth init failed: $(tail -5 "$WORK/init.log")"; fi
    for _ in $(seq 60); do
      [ "$(inside crictl ps -q --state running 2>/dev/null | wc -l)" -ge 4 ] && break; sleep 1
    done
    n=$(inside crictl ps -q --state running 2>/dev/null | wc -l)
    [ "$n" -ge 4 ] && ok "$n containers running (static Pods)" || bad "only $n containers running"
    inside kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready "node/$NODE" --timeout=60s >/dev/null \
      && ok "Node $NODE Ready" || bad "Node $NODE not Ready"
  fi
  if scripts/node pulls "$NODE"; then ok "no 'Pulling image' in the kubelet journal"; else bad "the kubelet tried to pull"; fi
fi
t2=$(date +%s.%N)
scripts/node down "$NODE"
t3=$(date +%s.%N)
# A second bring-up right after teardown must work.
scripts/node up "$NODE" --ip "$IP" $MODE >/dev/null && ok "second up" || bad "second up failed"
[ "$(inside systemctl is-system-running || true)" = running ] && ok "second boot: running" || bad "second boot not running"
scripts/node down "$NODE" >/dev/null && ok "second down" || bad "second down failed"

snapshot "$WORK/after"
canaries_compare "$WORK/before" "$WORK/after" || fail=1
[ ! -e /run/plinth-nodes/$NODE ] && [ ! -e /var/lib/plinth-nodes/$NODE ] && ok "state and disk dirs removed" || bad "node dirs left"
python3 -c "import sys; a = [float(x) for x in sys.argv[1:]]; print(f'timing: up {a[1]-a[0]:.1f} s, down {a[3]-a[2]:.1f} s')" "$t0" "$t1" "$t2" "$t3"
[ "$fail" = 0 ] && echo "node-harness: PASS" || { echo "node-harness: FAIL" >&2; exit 1; }
