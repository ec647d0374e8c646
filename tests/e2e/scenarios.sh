#!/usr/bin/env bash
# Runs inside the private namespaces created by scripts/e2e (PID 1 of a new PID namespace).
# Env: PLINTH, STANDIN (binaries), BIN (real Kubernetes + etcd binaries).
set -uo pipefail
cd "$(dirname "$0")/../.."
mount --make-rprivate /
for d in /etc/kubernetes /var/lib/etcd /var/lib/kubelet /var/log/pods; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
ip link set lo up
# A new network namespace starts with forwarding off; preflight requires it (per namespace).
echo 1 > /proc/sys/net/ipv4/ip_forward
ip addr add 10.77.0.10/32 dev lo
CFG=tests/e2e/config.yaml
# Scratch files live in one directory that is removed at the end: nothing is left on the host.
W=$(mktemp -d /tmp/plinth-e2e.XXXXXX)
trap 'rm -rf "$W"' EXIT
# The checks' tools on PATH, and only those: the component cache also holds a real kubelet, and
# plinth's preflight would rightly check a kubelet it finds (version skew, cgroup v1) although the
# stand-in plays the kubelet here.
mkdir "$W/tools"
for t in kubectl kubeadm etcdctl; do ln -s "$BIN/$t" "$W/tools/$t"; done
export PATH="$W/tools:$PATH"
# The host lock of every plinth run here lives in the scratch directory, not the host's /run.
export PLINTH_LOCK_FILE=$W/plinth.lock
K=/etc/kubernetes
passed=0; failed=0
ok()   { echo "PASS: $*"; passed=$((passed+1)); }
fail() { echo "FAIL: $*"; failed=$((failed+1)); }
check() { local name=$1; shift; if "$@" >$W/check.out 2>&1; then ok "$name"; else fail "$name"; sed 's/^/    /' $W/check.out | tail -20; fi; }
# wait_for SECONDS CMD...: retry until success.
wait_for() { local t=$1; shift; local end=$((SECONDS+t)); until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.5; done; }
finish() {
  kill "$STANDIN_PID" 2>/dev/null; wait "$STANDIN_PID" 2>/dev/null
  echo "== stand-in log (tail)"; tail -30 $W/standin.log 2>/dev/null
  echo "e2e: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

render() {
  "$PLINTH" init phase certs all --config "$CFG" &&
  "$PLINTH" init phase kubeconfig all --config "$CFG" &&
  "$PLINTH" init phase etcd local --config "$CFG" &&
  "$PLINTH" init phase control-plane all --config "$CFG" "$@"
}
snapshot() { find $K /var/lib/kubelet -type f -printf '%p %T@ %m\n' 2>/dev/null | sort; find $K -type f -exec sha256sum {} + | sort; }

echo "== scenario 1: plinth init boots real components under the stand-in"
# The stand-in plays the kubelet: it watches the manifest directory before plinth writes it.
"$STANDIN" --manifests-dir $K/manifests --bin-dir "$BIN" --kubeconfig $K/kubelet.conf --node-name e2e-cp --mirror-pods \
  --status-file $W/standin.json >$W/standin.log 2>&1 &
STANDIN_PID=$!
start=$SECONDS
check "plinth init (certs → wait-control-plane) succeeds" bash -c "'$PLINTH' init --config $CFG >$W/init.log 2>&1 || { cat $W/init.log; exit 1; }"
echo "    plinth init took $((SECONDS-start))s"; grep -E "healthy after" $W/init.log | sed 's/^/    /'
check "four manifests written" test "$(ls $K/manifests | wc -l)" = 4
check "wait-control-plane saw every component healthy" test "$(grep -c 'is healthy after' $W/init.log)" = 5
ETCDCTL=(etcdctl --endpoints=https://127.0.0.1:2379 --cacert=$K/pki/etcd/ca.crt --cert=$K/pki/etcd/healthcheck-client.crt --key=$K/pki/etcd/healthcheck-client.key)
check "etcd answers endpoint health over mTLS" wait_for 120 "${ETCDCTL[@]}" endpoint health
check "kube-apiserver answers /readyz" wait_for 180 kubectl --kubeconfig $K/admin.conf get --raw /readyz
KC="kubectl --kubeconfig $K/admin.conf"
check "plinth created the cluster-admins binding (via super-admin.conf)" $KC get clusterrolebinding kubeadm:cluster-admins
check "upload-config: kubeadm-config holds the ClusterConfiguration" bash -c \
  "$KC -n kube-system get cm kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' | grep -q 'podSubnet: 10.244.0.0/16'"
check "upload-config: kubelet-config is signed with its hash" bash -c \
  "$KC -n kube-system get cm kubelet-config -o yaml | grep -q 'component-config.hash: sha256:'"
check "mark-control-plane: Node labelled and tainted" bash -c \
  "$KC get node e2e-cp -o json | python3 -c 'import json,sys; n=json.load(sys.stdin); l=n[\"metadata\"][\"labels\"]; t=n[\"spec\"].get(\"taints\",[]); sys.exit(0 if \"node-role.kubernetes.io/control-plane\" in l and \"node.kubernetes.io/exclude-from-external-load-balancers\" in l and any(x[\"key\"]==\"node-role.kubernetes.io/control-plane\" and x[\"effect\"]==\"NoSchedule\" for x in t) else 1)'"
TOKEN=$(grep -oE -- '--token [a-z0-9]{6}\.[a-z0-9]{16}' $W/init.log | awk '{print $2}')
HASH=$(grep -oE 'sha256:[0-9a-f]{64}' $W/init.log | head -1)
check "show-join-command printed a kubeadm join line" test -n "$TOKEN"
check "the join hash pins the cluster CA's public key" test "$HASH" = "sha256:$(openssl x509 -pubkey -in $K/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"
check "real kubeadm lists the bootstrap token" bash -c "kubeadm token list --kubeconfig $K/admin.conf | grep -q '^${TOKEN%%.*}'"
check "the bootstrap token authenticates and may get nodes" \
  kubectl --server https://10.77.0.10:6443 --certificate-authority $K/pki/ca.crt --token "$TOKEN" get node e2e-cp
check "the bootstrap signer signed cluster-info with the token" wait_for 60 bash -c \
  "$KC -n kube-public get cm cluster-info -o yaml | grep -q 'jws-kubeconfig-${TOKEN%%.*}'"
check "cluster-info is readable anonymously" \
  curl -sf --cacert $K/pki/ca.crt https://10.77.0.10:6443/api/v1/namespaces/kube-public/configmaps/cluster-info
check "addons: CoreDNS Deployment, kube-dns Service at 10.96.0.10, kube-proxy DaemonSet" bash -c \
  "$KC -n kube-system get deploy coredns && $KC -n kube-system get ds kube-proxy && test \"\$($KC -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}')\" = 10.96.0.10"
check "real kubeadm reads the uploaded configuration (upgrade diff)" bash -c \
  "kubeadm upgrade diff v1.37.2 --kubeconfig $K/admin.conf > $W/diff.log 2>&1 || { cat $W/diff.log; exit 1; }"
check "admin.conf creates a namespace" wait_for 30 kubectl --kubeconfig $K/admin.conf create namespace e2e
check "admin.conf reads it back" kubectl --kubeconfig $K/admin.conf get namespace e2e
check "controller-manager holds its lease" wait_for 120 kubectl --kubeconfig $K/admin.conf -n kube-system get lease kube-controller-manager
check "scheduler holds its lease" wait_for 120 kubectl --kubeconfig $K/admin.conf -n kube-system get lease kube-scheduler
check "the Node registered by the stand-in exists" wait_for 60 kubectl --kubeconfig $K/admin.conf get node e2e-cp

echo "== scenario 2: re-running the phases changes nothing and restarts nothing"
before=$(snapshot)
check "phases re-run" render
after=$(snapshot)
check "no file changed (content, mtime, mode)" test "$before" = "$after"
sleep 3
check "no component restarted" python3 -c '
import json,sys
s=json.load(open(sys.argv[1]))
pods=s.get("pods", s)
r={k:v.get("restarts",0) for k,v in pods.items()}
print(r); sys.exit(0 if len(r)==4 and all(x==0 for x in r.values()) else 1)' "$W/standin.json"

check "a full plinth init re-run converges: every API object unchanged, no file rewritten" bash -c "
  '$PLINTH' init --config $CFG -o json > $W/rerun.json 2>$W/rerun.err || { cat $W/rerun.json $W/rerun.err; exit 1; }
  python3 - $W/rerun.json <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
objs=r['api_objects']; changed=[o for o in objs if o['outcome']!='unchanged']
print(len(objs),'objects; changed:',changed,'written:',r['written'])
assert r['ok'] and len(objs)>=25 and not changed and not r['written'], 'not converged'
assert r['join']['ca_cert_hash'].startswith('sha256:') and r['join']['token'], r['join']
PY"
after=$(snapshot)
check "still no file changed after the full re-run" test "$before" = "$after"

echo "== scenario 3: an apiserver cert signed by the wrong CA is observed"
tmp=$W/rogue; mkdir -p $tmp
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=rogue-ca -keyout $tmp/ca.key -out $tmp/ca.crt 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=kube-apiserver -keyout $tmp/a.key -out $tmp/a.csr 2>/dev/null
printf 'subjectAltName=IP:10.77.0.10,IP:10.96.0.1,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' > $tmp/ext
openssl x509 -req -in $tmp/a.csr -CA $tmp/ca.crt -CAkey $tmp/ca.key -CAcreateserial -days 1 -extfile $tmp/ext -out $tmp/a.crt 2>/dev/null
cp $tmp/a.crt $K/pki/apiserver.crt; cp $tmp/a.key $K/pki/apiserver.key
pkill -f "$BIN/kube-apiserver" || true
check "clients reject the apiserver (unknown authority)" wait_for 120 bash -c \
  "kubectl --kubeconfig $K/admin.conf get --raw /readyz 2>&1 | grep -qiE 'unknown authority|certificate'"
check "plinth refuses to reuse the foreign cert" bash -c "! $PLINTH init phase certs apiserver --config $CFG"
sed 's/^  name: e2e-cp$/  name: e2e-cp\ntimeouts:\n  controlPlaneComponentHealthCheck: 20s/' $CFG > $W/short.yaml
check "wait-control-plane diagnoses the unknown CA" bash -c \
  "! '$PLINTH' init phase wait-control-plane --config $W/short.yaml >$W/wait.log 2>&1; cat $W/wait.log; grep -q 'kube-apiserver is not healthy: TLS: the serving certificate is not signed by the cluster CA' $W/wait.log"

echo "== scenario 4: plinth reset gives the host back, twice; init works again"
echo mine > $K/notes.txt
check "reset --force succeeds" bash -c "'$PLINTH' reset --force --config $CFG > $W/reset.log 2>&1 || { cat $W/reset.log; exit 1; }"
check "remove-etcd-member found this node's member and kept it (the only one)" \
  grep -q 'The etcd member "e2e-cp" is the only member of its cluster: not removing it' $W/reset.log
check "cleanup-node reports the missing CRI socket instead of failing" \
  grep -q 'No container runtime socket at /var/lib/kubelet/no-cri.sock' $W/reset.log
check "manifest, PKI, kubelet and etcd directories are kept and empty" bash -c \
  "for d in $K/manifests $K/pki /var/lib/kubelet /var/lib/etcd; do [ -d \$d ] && [ -z \"\$(ls -A \$d)\" ] || { ls -la \$d; exit 1; }; done"
check "kubeconfig files are gone" bash -c "! ls $K/*.conf 2>/dev/null | grep -q ."
check "a user file next to them survives" test -f $K/notes.txt
check "component ports are free" bash -c \
  "for a in 127.0.0.1/2379 127.0.0.1/2380 127.0.0.1/10257 127.0.0.1/10259 10.77.0.10/6443; do ! (exec 3<>/dev/tcp/\$a) 2>/dev/null || { echo \$a busy; exit 1; }; done"
check "a second reset succeeds" "$PLINTH" reset --force --config $CFG
check "a fresh plinth init succeeds again" bash -c "'$PLINTH' init --config $CFG > $W/init2.log 2>&1 || { cat $W/init2.log; exit 1; }"
check "and kubectl reaches the new API server" wait_for 60 kubectl --kubeconfig $K/super-admin.conf get --raw /readyz
echo "== scenario 5: broken components get their specific diagnosis within the configured timeout"
# Each case: reset, break one thing, render + kubelet-start + wait-control-plane with a 20 s budget.
wait_broken() {  # $1 = log file, extra args = init flags
  local log=$1; shift
  "$PLINTH" reset --force --config $CFG >/dev/null 2>&1
  render "$@" >/dev/null 2>&1 && "$PLINTH" init phase kubelet-start --config $W/short.yaml >/dev/null 2>&1
  local t0=$SECONDS
  ! "$PLINTH" init phase wait-control-plane --config $W/short.yaml >$log 2>&1
  local rc=$?; echo "    wait-control-plane gave up after $((SECONDS-t0))s"; return $rc
}
# The squatter must own the port: take the control plane of scenario 4 down first (its scheduler
# holds 10259), and check that the squatter process itself is the one listening.
"$PLINTH" reset --force --config $CFG >/dev/null 2>&1
python3 -m http.server --bind 127.0.0.1 10259 >/dev/null 2>&1 &
SQUAT=$!
wait_for 10 bash -c "kill -0 $SQUAT && exec 3<>/dev/tcp/127.0.0.1/10259"
check "port taken: wait-control-plane fails within the budget" wait_broken $W/squat.log
check "port taken: the scheduler's diagnosis names the bind failure from its log" bash -c \
  "cat $W/squat.log; grep -q 'kube-scheduler is not healthy' $W/squat.log && grep -qi 'address already in use' $W/squat.log"
kill $SQUAT; wait $SQUAT 2>/dev/null
mkdir -p $W/patches
printf -- '- op: add\n  path: /spec/containers/0/command/-\n  value: --no-such-flag=1\n' > $W/patches/kube-controller-manager+json.yaml
check "bad flag via a patch: wait-control-plane fails within the budget" wait_broken $W/flag.log --patches $W/patches
check "bad flag via a patch: the diagnosis shows the component's own error" bash -c \
  "cat $W/flag.log; grep -q 'kube-controller-manager is not healthy' $W/flag.log && grep -q 'unknown flag: --no-such-flag' $W/flag.log"
check "after the broken cases, reset and a full init succeed again" bash -c \
  "'$PLINTH' reset --force --config $CFG >/dev/null 2>&1 && '$PLINTH' init --config $CFG > $W/init3.log 2>&1 || { cat $W/init3.log; exit 1; }"

echo "== scenario 6: preflight recognises plinth's control plane; a foreign listener stops init before any write"
restarts() { python3 -c '
import json,sys
s=json.load(open(sys.argv[1])); pods=s.get("pods", s)
print(sorted((k, v.get("restarts", 0)) for k, v in pods.items()))' "$W/standin.json"; }
before=$(snapshot); restarts_before=$(restarts)
check "plinth init re-run on the healthy host passes preflight" bash -c \
  "'$PLINTH' init --config $CFG > $W/init3.log 2>&1 || { cat $W/init3.log; exit 1; }"
check "preflight says the ports, manifests and etcd data are plinth's own" bash -c \
  "grep -q \"Port 6443 is held by this host's plinth control plane (kube-apiserver)\" $W/init3.log &&
   grep -q \"Port 2379 is held by this host's plinth control plane (etcd)\" $W/init3.log &&
   grep -q \"kube-scheduler.yaml is this host's plinth manifest\" $W/init3.log &&
   grep -q \"/var/lib/etcd holds the data of this host's plinth etcd\" $W/init3.log || { cat $W/init3.log; exit 1; }"
check "the re-run rewrote no file (content, mtime, mode)" test "$before" = "$(snapshot)"
check "and restarted no component" test "$restarts_before" = "$(restarts)"
check "reset before the foreign-listener check" bash -c \
  "'$PLINTH' reset --force --config $CFG > $W/reset3.log 2>&1 || { cat $W/reset3.log; exit 1; }"
python3 -m http.server --bind 127.0.0.1 10259 >/dev/null 2>&1 &
HTTP_PID=$!
check "a foreign listener holds 127.0.0.1:10259" wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/10259"
before=$(snapshot)
check "plinth init fails preflight with exit 1 naming Port-10259" bash -c \
  "'$PLINTH' init --config $CFG > $W/init4.log 2>&1; rc=\$?; cat $W/init4.log; [ \$rc = 1 ] && grep -q '\[ERROR Port-10259\]: Port 10259 is in use' $W/init4.log"
check "and wrote nothing" test "$before" = "$(snapshot)"
check "no manifest, certificate, kubelet file or kubeconfig exists" bash -c \
  "! find $K/manifests $K/pki /var/lib/kubelet -mindepth 1 | grep . && ! ls $K/*.conf 2>/dev/null | grep ."
kill $HTTP_PID 2>/dev/null; wait $HTTP_PID 2>/dev/null
echo "== scenario 7: reset removes this node's etcd member when another member exists"
# etcd checks a peer's source address against its certificate, and on one loopback either
# member may connect from 10.77.0.11: this member's peer certificate names that address too.
CFG7=$W/two-members.yaml
{ cat $CFG; printf 'etcd:\n  local:\n    peerCertSANs:\n    - 10.77.0.11\n'; } > $CFG7
check "a fresh plinth init for the two-member case" bash -c \
  "'$PLINTH' init --config $CFG7 > $W/init7.log 2>&1 || { cat $W/init7.log; exit 1; }"
# A second etcd member on 10.77.0.11 (this namespace only), with certificates from the cluster's etcd CA.
ip addr add 10.77.0.11/32 dev lo
E2=$W/etcd2; mkdir -p $E2
for kind in server peer; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=e2e-2 -keyout $E2/$kind.key -out $E2/$kind.csr 2>/dev/null
  printf 'subjectAltName=IP:10.77.0.11,IP:10.77.0.10,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > $E2/ext
  openssl x509 -req -in $E2/$kind.csr -CA $K/pki/etcd/ca.crt -CAkey $K/pki/etcd/ca.key -CAcreateserial -days 1 -extfile $E2/ext -out $E2/$kind.crt 2>/dev/null
done
check "etcdctl member add e2e-2" "${ETCDCTL[@]}" member add e2e-2 --peer-urls=https://10.77.0.11:2380
"$BIN/etcd" --name e2e-2 --data-dir $E2/data --initial-cluster-state existing \
  --initial-cluster e2e-cp=https://10.77.0.10:2380,e2e-2=https://10.77.0.11:2380 \
  --listen-peer-urls https://10.77.0.11:2380 --initial-advertise-peer-urls https://10.77.0.11:2380 \
  --listen-client-urls https://10.77.0.11:2379 --advertise-client-urls https://10.77.0.11:2379 \
  --cert-file $E2/server.crt --key-file $E2/server.key --client-cert-auth --trusted-ca-file $K/pki/etcd/ca.crt \
  --peer-cert-file $E2/peer.crt --peer-key-file $E2/peer.key --peer-client-cert-auth --peer-trusted-ca-file $K/pki/etcd/ca.crt \
  > $W/etcd2.log 2>&1 &
ETCD2=$!
ETCDCTL2=(etcdctl --endpoints=https://10.77.0.11:2379 --cacert=$K/pki/etcd/ca.crt --cert=$E2/server.crt --key=$E2/server.key)
check "the second member joins and is healthy" wait_for 60 "${ETCDCTL2[@]}" endpoint health
cp $K/pki/etcd/ca.crt $E2/ca.crt
check "reset removes this node's member" bash -c \
  "'$PLINTH' reset --force --config $CFG7 > $W/reset7.log 2>&1; cat $W/reset7.log; grep -q 'Removed etcd member \"e2e-cp\" (https://10.77.0.10:2380); 1 members remain' $W/reset7.log"
ETCDCTL2=(etcdctl --endpoints=https://10.77.0.11:2379 --cacert=$E2/ca.crt --cert=$E2/server.crt --key=$E2/server.key)
check "the remaining member lists only itself and stays healthy" bash -c \
  "${ETCDCTL2[*]} member list | tee /dev/stderr | grep -q e2e-2 && ! ${ETCDCTL2[*]} member list | grep -q e2e-cp && ${ETCDCTL2[*]} endpoint health"
kill $ETCD2 2>/dev/null; wait $ETCD2 2>/dev/null
finish
