# Shared by the node tiers: plant canaries on the host, snapshot what a node must never change,
# compare two snapshots. Sourced (not run); needs WORK set.
CANARIES=(/tmp/.plinth-node-canary.$$ /var/tmp/.plinth-node-canary.$$ /etc/.plinth-node-canary.$$
  /var/log/.plinth-node-canary.$$)
CANDIR=/tmp/.plinth-node-canary-dir.$$   # a directory too: tmpfiles' cleaning removes whole trees
canaries_plant() {
  mkdir "$CANDIR"; echo dir-canary > "$CANDIR/f"; touch -d '2026-01-02 03:04:05' "$CANDIR/f" "$CANDIR"
  local c
  for c in "${CANARIES[@]}"; do echo "canary $c $RANDOM" > "$c"; touch -d '2026-01-02 03:04:05' "$c"; done
}
canaries_remove() { rm -f "${CANARIES[@]}"; rm -rf "$CANDIR"; }

snapshot() { # $1 = output dir
  mkdir -p "$1"
  local c
  for c in "${CANARIES[@]}" "$CANDIR" "$CANDIR/f"; do stat -c '%n %s %Y %y' "$c"; done > "$1/canaries"
  cat "${CANARIES[@]}" > "$1/canary-content"
  # Mount points, sources, types and options (mount ids change with every mount: left out).
  awk '{ for (i = 7; $i != "-"; i++); print $5, $6, $(i+1), $(i+2), $(i+3) }' /proc/self/mountinfo | sort > "$1/mounts"
  ls -la --time-style=full-iso /dev | grep -v ' \.\.$' > "$1/dev"
  stat -c '%Y' /dev >> "$1/dev"
  for f in /proc/sys/kernel/panic* /proc/sys/vm/*; do
    printf '%s=%s\n' "$f" "$(cat "$f" 2>/dev/null | tr '\t\n' '  ')"
  done > "$1/sysctls"
  find /sys/fs/cgroup -maxdepth 2 -name plinth-nodes > "$1/cgroups"
  grep ' /sys/fs/cgroup ' /proc/self/mountinfo | awk '{print $6}' > "$1/cgroup-ro"
  # Entries untouched for 5 minutes (others' compilers come and go in /tmp meanwhile).
  find /tmp -mindepth 1 -maxdepth 1 -mmin +5 -printf '%f\n' | sort > "$1/tmp-listing"
}

# canaries_compare BEFORE AFTER: prints ok/FAIL lines; returns 1 if anything changed.
canaries_compare() {
  local f rc=0 gone
  # Other processes may add files to /tmp meanwhile; informational only (others remove their
  # own entries too): the canaries (files and a directory) are the proof.
  gone=$(comm -23 "$1/tmp-listing" "$2/tmp-listing")
  [ -z "$gone" ] && echo "ok: nothing removed from the host's /tmp" || echo "note: gone from the host's /tmp meanwhile (check owners): $gone"
  for f in canaries canary-content mounts dev sysctls cgroups cgroup-ro; do
    if diff -u "$1/$f" "$2/$f" > "$WORK/diff"; then
      echo "ok: host $f unchanged"
    else
      echo "FAIL: host $f changed:" >&2; cat "$WORK/diff" >&2; rc=1
    fi
  done
  if grep -q '^rw,' "$2/cgroup-ro"; then echo "ok: /sys/fs/cgroup read-write"; else echo "FAIL: /sys/fs/cgroup is read-only" >&2; rc=1; fi
  return $rc
}
