#!/usr/bin/env bash
# The real-node e2e tier: plinth's output on a real kubelet v1.37.2 + containerd 2.3 under systemd
# (scripts/node), one bring-up shared by every check:
#   init → four static Pods as containers (restart count 0, seccomp mode 2), mirror Pods, Node
#   Ready, CoreDNS and kube-proxy Ready, DNS and the kubernetes Service from a test Pod, kubectl
#   logs/exec, a deleted mirror Pod comes back, an edited manifest restarts exactly its container,
#   no image is ever pulled → reset (the runtime left empty) → real kubeadm init on the same node
#   reaches Ready too (the harness is fair) → kubeadm reset → plinth init again: Ready.
# The host is compared before and after (canaries, mounts, /dev, sysctls, cgroups).
# Usage: PLINTH=/abs/path/to/plinth [PLINTH_NODE_CACHE=dir] tests/e2e/node-scenarios.sh   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PLINTH:?set PLINTH to the plinth binary (inside the repository: the node sees it read-only)}"
[ "$(id -u)" = 0 ] || { echo "node-scenarios: needs root" >&2; exit 1; }
NODE=e2e-n1
IP=10.78.0.21
WORK=$(mktemp -d /tmp/plinth-node-e2e.XXXXXX)
# shellcheck source=tests/e2e/node-lib.sh
. tests/e2e/node-lib.sh
cleanup() {
  local rc=$?
  if [ $rc != 0 ] && [ -n "${KEEP_LOGS:-}" ]; then cp -r "$WORK" "$KEEP_LOGS" || true; fi
  scripts/node down "$NODE" >/dev/null 2>&1 || true
  canaries_remove
  rm -rf "$WORK"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
in_node() { scripts/node exec "$NODE" -- "$@"; }
k() { in_node kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
# Seconds since $1 (date +%s.%N).
since() { python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$1"; }

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
# "name id attempt" of each running container.
containers() {
  in_node crictl ps --state running -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["containers"]:
    print(c["metadata"]["name"], c["id"], c["metadata"].get("attempt", 0))'
}
container_id() { containers | awk -v n="$1" '$1 == n { print $2 }'; }

# The cluster is up and whole: static Pods, mirror Pods, Node, addons.
check_cluster() { # $1 = label
  local label=$1 c n
  for _ in $(seq 90); do
    n=$(containers | awk '$1 ~ /^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler)$/' | wc -l)
    [ "$n" = 4 ] && break; sleep 1
  done
  [ "$n" = 4 ] && ok "$label: the four static Pods run as containers" || bad "$label: $n of 4 static Pods run: $(containers | tr '\n' ';')"
  k wait --for=condition=Ready "node/$NODE" --timeout=120s >/dev/null && ok "$label: Node Ready" || bad "$label: Node not Ready: $(k get node "$NODE" -o wide 2>&1 | tail -1)"
  # The kubelet posts mirror Pods once it is registered, one by one: wait for all four.
  local missing
  for _ in $(seq 60); do
    missing=
    for c in "${COMPONENTS[@]}"; do
      [ -n "$(k get pod -n kube-system "$c-$NODE" -o 'jsonpath={.metadata.annotations.kubernetes\.io/config\.mirror}' 2>/dev/null || true)" ] || missing+=" $c-$NODE"
    done
    [ -z "$missing" ] && break; sleep 1
  done
  [ -z "$missing" ] && ok "$label: the four mirror Pods carry kubernetes.io/config.mirror" || bad "$label: no mirror Pod for$missing"
  k -n kube-system wait --for=condition=Available deployment/coredns --timeout=180s >/dev/null \
    && ok "$label: CoreDNS Available" || bad "$label: CoreDNS not Available: $(k -n kube-system get pods -l k8s-app=kube-dns --no-headers 2>&1 | tr '\n' ';')"
  k -n kube-system rollout status daemonset/kube-proxy --timeout=120s >/dev/null \
    && ok "$label: kube-proxy DaemonSet ready" || bad "$label: kube-proxy not ready"
}

canaries_plant
snapshot "$WORK/before"

t=$(date +%s.%N)
scripts/node up "$NODE" --ip "$IP" || die "node up"
ok "node up in $(since "$t") s"
sed "s/10\.78\.0\.10/$IP/; s/name: n1/name: $NODE/" config/node.yaml | in_node sh -c 'cat > /root/node.yaml'

# --- faults first: each is named by preflight, and nothing is written
in_node systemctl stop containerd.service
out=$(in_node "$PLINTH" init phase preflight --config /root/node.yaml 2>&1 || true)
grep -q "containerd.sock" <<<"$out" && ok "runtime stopped: preflight names its socket" || bad "runtime stopped: preflight said: $(tail -3 <<<"$out" | tr '\n' ' ')"
in_node systemctl start containerd.service
for _ in $(seq 30); do in_node crictl info >/dev/null 2>&1 && break; sleep 0.5; done
IMG=registry.k8s.io/kube-scheduler:v1.37.2
in_node ctr -n k8s.io images rm "$IMG" >/dev/null
if out=$(in_node "$PLINTH" init phase preflight --config /root/node.yaml 2>&1); then
  bad "preflight passed with $IMG missing"
else
  grep -q "ImagePull.*$IMG" <<<"$out" && ok "a missing image fails preflight, named: $IMG" || bad "missing image: preflight said: $(tail -3 <<<"$out" | tr '\n' ' ')"
fi
in_node ctr -n k8s.io images import --label io.cri-containerd.pinned=pinned --snapshotter overlayfs \
  /opt/plinth-node/images/kube-scheduler.tar >/dev/null
in_node test ! -e /etc/kubernetes/pki/ca.crt && ok "preflight wrote nothing" || bad "preflight wrote files"

# --- plinth init on the real kubelet
t=$(date +%s.%N)
in_node "$PLINTH" init --config /root/node.yaml > "$WORK/init.log" 2>&1 || { tail -20 "$WORK/init.log" >&2; die "plinth init failed"; }
ok "plinth init in $(since "$t") s"
check_cluster "plinth"

# Restart counts 0 and seccomp filtering (mode 2) on every static Pod's process.
while read -r name id attempt; do
  case " ${COMPONENTS[*]} " in *" $name "*) ;; *) continue ;; esac
  [ "$attempt" = 0 ] || bad "$name restarted ($attempt)"
  pid=$(in_node crictl inspect -o go-template --template '{{.info.pid}}' "$id")
  sc=$(in_node awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
  [ "$sc" = 2 ] || bad "$name (pid $pid in the node) has Seccomp: $sc"
done < <(containers)
ok "static Pods: restart count 0 and Seccomp: 2"

# DNS through the cluster DNS Service, and the kubernetes Service through kube-proxy's rules,
# from a Pod on the Pod network.
k run dns-check --image=plinth.test/busybox:1 --image-pull-policy=Never --restart=Never \
  --overrides='{"spec":{"tolerations":[{"operator":"Exists"}]}}' -- sleep 600 >/dev/null
k wait --for=condition=Ready pod/dns-check --timeout=90s >/dev/null || bad "test Pod not Ready"
svc=$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}')
if k exec dns-check -- nslookup kubernetes.default.svc.cluster.local > "$WORK/nslookup" 2>&1 && grep -q "Address: $svc" "$WORK/nslookup"; then
  ok "kubernetes.default resolves to $svc through the cluster DNS"
else bad "DNS: $(tr '\n' ' ' < "$WORK/nslookup")"; fi
k exec dns-check -- nc -w 5 kubernetes.default.svc.cluster.local 443 </dev/null && ok "the kubernetes Service answers on 443" || bad "no connection to the kubernetes Service on 443"

# apiserver → kubelet (the apiserver's kubelet client certificate): logs and exec.
k -n kube-system logs "etcd-$NODE" --tail=5 | grep -q . && ok "kubectl logs on a control-plane Pod" || bad "kubectl logs"
k -n kube-system exec "etcd-$NODE" -- etcdctl version | grep -q "etcdctl version" && ok "kubectl exec on a control-plane Pod" || bad "kubectl exec"

# A deleted mirror Pod comes back.
k -n kube-system delete pod "kube-scheduler-$NODE" --wait=false >/dev/null
back=
for _ in $(seq 60); do
  uid=$(k -n kube-system get pod "kube-scheduler-$NODE" -o jsonpath='{.metadata.uid}' 2>/dev/null || true)
  [ -n "$uid" ] && { back=1; break; }; sleep 1
done
[ -n "$back" ] && ok "a deleted mirror Pod comes back" || bad "the mirror Pod did not come back"

# Editing one manifest restarts exactly that container.
declare -A before
while read -r name id _; do before[$name]=$id; done < <(containers)
M=/etc/kubernetes/manifests/kube-scheduler.yaml
in_node cp "$M" /root/kube-scheduler.yaml.orig
in_node sed -i 's/^\(\s*\)- "--leader-elect=true"$/&\n\1- "--v=1"/' "$M"
in_node grep -q -- '- "--v=1"' "$M" || bad "could not edit $M"
new=
for _ in $(seq 90); do
  new=$(container_id kube-scheduler)
  [ -n "$new" ] && [ "$new" != "${before[kube-scheduler]}" ] && break; sleep 1
done
[ -n "$new" ] && [ "$new" != "${before[kube-scheduler]}" ] && ok "editing kube-scheduler.yaml restarted the scheduler" || bad "the scheduler was not restarted"
for c in etcd kube-apiserver kube-controller-manager; do
  [ "$(container_id "$c")" = "${before[$c]}" ] || bad "$c was restarted by an edit of the scheduler's manifest"
done
ok "etcd, kube-apiserver and kube-controller-manager untouched"
in_node cp /root/kube-scheduler.yaml.orig "$M"   # plinth's bytes again (reset knows them by digest)

scripts/node pulls "$NODE" && ok "no image pulled" || bad "an image was pulled"

# --- reset: the runtime is left empty
t=$(date +%s.%N)
in_node "$PLINTH" reset --force --config /root/node.yaml > "$WORK/reset.log" 2>&1 || { tail -20 "$WORK/reset.log" >&2; bad "plinth reset failed"; }
ok "plinth reset in $(since "$t") s"
[ -z "$(in_node crictl pods -q)" ] && ok "reset: crictl pods empty" || bad "reset left Pods: $(in_node crictl pods | tr '\n' ';')"
[ -z "$(in_node crictl ps -a -q)" ] && ok "reset: crictl ps -a empty" || bad "reset left containers: $(in_node crictl ps -a | tr '\n' ';')"
in_node test ! -e /etc/kubernetes/manifests/kube-apiserver.yaml && ok "reset removed the manifests" || bad "manifests left"

# --- the same harness runs real kubeadm init (the harness is fair), then kubeadm reset
KUBEADM=${KUBEADM:-$(scripts/build-components 2>/dev/null | tail -1)/kubeadm}  # the node sees the host's files read-only
if [ -x "$KUBEADM" ]; then
  t=$(date +%s.%N)
  # The same config file: its ignorePreflightErrors (SystemVerification on cgroup v1) serves both.
  if in_node "$KUBEADM" init --config /root/node.yaml > "$WORK/kubeadm-init.log" 2>&1; then
    ok "kubeadm init in $(since "$t") s"
    check_cluster "kubeadm"
  else
    bad "kubeadm init failed: $(tail -5 "$WORK/kubeadm-init.log" | tr '\n' ' ')"
  fi
  in_node "$KUBEADM" reset --force --cri-socket unix:///var/run/containerd/containerd.sock > "$WORK/kubeadm-reset.log" 2>&1 || bad "kubeadm reset failed"
else
  bad "no kubeadm at $KUBEADM"
fi

# --- plinth init again on the same node: Ready again
t=$(date +%s.%N)
in_node "$PLINTH" init --config /root/node.yaml > "$WORK/init2.log" 2>&1 || { tail -20 "$WORK/init2.log" >&2; bad "second plinth init failed"; }
ok "plinth init (after reset and kubeadm) in $(since "$t") s"
check_cluster "plinth again"
scripts/node pulls "$NODE" && ok "no image pulled" || bad "an image was pulled"

t=$(date +%s.%N)
scripts/node down "$NODE" || bad "node down"
ok "node down in $(since "$t") s"
snapshot "$WORK/after"
canaries_compare "$WORK/before" "$WORK/after" || fail=1
[ "$fail" = 0 ] && echo "node-scenarios: PASS" || { echo "node-scenarios: FAIL" >&2; exit 1; }
