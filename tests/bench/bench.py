#!/usr/bin/env python3
"""Helpers for scripts/bench (standard library only).

  stamp FIFO   copies the FIFO to stdout, prefixing each line with its arrival time
               (CLOCK_REALTIME, seconds); the last line is "<time> EOF" (the writer exited).
  record-pki   one JSON record for a PKI + kubeconfig run (wall time, CPU, peak RSS).
  record-cp    one JSON record for a control-plane run, from the poller's output, the stamped
               tool output, /usr/bin/time -v and the stand-in's status file. Times are seconds
               after t0.
  summary      one line about the record on stdin (progress output).
  report RUNS  the markdown section for docs/benchmarks.md.
  splice DOC SECTION  replaces the generated section of DOC.
"""

import argparse
import json
import os
import re
import statistics
import sys
from datetime import datetime

COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
ALGS = ["RSA-2048", "ECDSA-P256"]
BEGIN, END = "<!-- scripts/bench: begin -->", "<!-- scripts/bench: end -->"


# ---------------------------------------------------------------- recording


def cmd_stamp(a):
    # Ready only once the interpreter is up: the FIFO is opened and read in microseconds, so
    # stamps are not late by Python's start-up.
    open(a.ready_file, "w").close()
    out = sys.stdout
    with open(a.fifo, "rb") as f:
        for line in f:
            now = datetime.now().timestamp()
            out.write(f"{now:.6f} {line.decode('utf-8', 'replace').rstrip()}\n")
            out.flush()
    out.write(f"{datetime.now().timestamp():.6f} EOF\n")


def gnu_time(path):
    """CPU seconds and peak RSS from `/usr/bin/time -v` or `-f '%U %S %M'` output."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
        sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
        return {"cpu": user + sys_, "max_rss_kib": int(m.group(1))}
    user, sys_, rss = text.split()[-3:]
    return {"cpu": float(user) + float(sys_), "max_rss_kib": int(rss)}


def loadavg():
    return float(open("/proc/loadavg", encoding="utf-8").read().split()[0])


def cmd_record_pki(a):
    times = [gnu_time(t) for t in a.time]
    print(json.dumps({
        "kind": "pki", "tool": a.tool, "alg": a.alg, "secs": float(a.t1) - float(a.t0),
        "cpu": sum(t["cpu"] for t in times), "max_rss_kib": max(t["max_rss_kib"] for t in times),
        "load1": loadavg(), "idle_pct": float(a.idle), "waited": float(a.waited),
    }))


def rfc3339(ts):
    m = re.match(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", ts)
    frac = (m.group(2) or ".0")[:7]
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + frac + tz).timestamp()


def cmd_record_cp(a):
    t0 = float(a.t0)
    rec = {"kind": "cp", "mode": a.mode, "alg": a.alg, "rc": int(a.rc), "load1": loadavg(),
           "idle_pct": float(a.idle), "waited": float(a.waited)}
    try:
        poll = json.load(open(a.poll, encoding="utf-8"))
    except (OSError, ValueError):
        poll = {"first_ok": {}, "polls": {}}
    rec["ok"] = {k: (v - t0 if v else None) for k, v in poll["first_ok"].items()}
    rec["polls"], rec["poller_cpu"] = poll.get("polls", {}), poll.get("cpu")
    oks = [rec["ok"].get(c) for c in COMPONENTS]
    rec["healthy"] = max(oks) if all(x is not None for x in oks) else None
    # The tool's output: when each [phase] printed its first line, when "X is healthy" arrived.
    rec["phase_first_line"], rec["reported"] = {}, {}
    eof = None
    for line in open(a.stamp, encoding="utf-8"):
        ts, _, text = line.rstrip("\n").partition(" ")
        t = float(ts) - t0
        if text == "EOF":
            eof = t
            continue
        m = re.match(r"\[([a-z-]+)\]", text)
        if m:
            rec["phase_first_line"].setdefault(m.group(1), t)
        m = re.search(r"\b([a-z-]+) is healthy after", text)
        if m:
            rec["reported"].setdefault(m.group(1), t)
    rec["reported_apiserver"] = rec["reported"].get("kube-apiserver")
    if a.mode == "floor":
        rec["done"] = rec["healthy"]
    else:
        rec["done"] = eof if rec["rc"] == 0 else None
        if os.path.exists(a.time):
            rec.update(gnu_time(a.time))
    try:
        pods = json.load(open(a.status, encoding="utf-8")).get("pods", {})
        rec["started"] = {k: rfc3339(v["started_at"]) - t0 for k, v in pods.items() if v.get("started_at")}
        rec["restarts"] = {k: v.get("restarts", 0) for k, v in pods.items()}
    except (OSError, ValueError, KeyError):
        rec["started"], rec["restarts"] = {}, {}
    print(json.dumps(rec))


def cmd_summary(_a):
    r = json.loads(sys.stdin.read())
    f = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    parts = [f"done {f(r.get('done'))}", f"healthy {f(r.get('healthy'))}"]
    parts += [f"{c.replace('kube-', '')} {f(r['ok'].get(c))}" for c in COMPONENTS]
    if r.get("reported_apiserver") is not None and r["ok"].get("kube-apiserver") is not None:
        parts.append(f"detect {1000 * (r['reported_apiserver'] - r['ok']['kube-apiserver']):.0f}ms")
    if r.get("max_rss_kib"):
        parts.append(f"rss {r['max_rss_kib'] / 1024:.1f}MiB")
    parts.append(f"idle before {r['idle_pct']:.0f}%")
    if any(r.get("restarts", {}).values()):
        parts.append(f"RESTARTS {r['restarts']}")
    print(", ".join(parts))


# ---------------------------------------------------------------- report


def stats(xs):
    xs = [x for x in xs if x is not None]
    return (statistics.median(xs), min(xs), max(xs), len(xs)) if xs else None


def cell(st, scale=1.0, unit="s", digits=2):
    """**median** (min–max)."""
    if st is None:
        return "n/a"
    med, lo, hi, _ = (x * scale for x in st)
    return f"**{med:.{digits}f} {unit}** ({lo:.{digits}f}–{hi:.{digits}f})"


def picked(r):
    """When the stand-in started etcd (s after t0): the manifests were picked up."""
    return r.get("started", {}).get("etcd")


def met(ok):
    return "met" if ok else "**missed**"


def cmd_report(a):
    runs = [json.loads(line) for line in open(a.runs, encoding="utf-8") if line.strip()]
    algs = [x for x in ALGS if any(r["alg"] == x for r in runs)]
    loads = [r["load1"] for r in runs]
    idle = [r["idle_pct"] for r in runs if "idle_pct" in r]
    out = []
    p = out.append
    m = re.search(r"runs-(\d{8}T\d{6}Z)", a.runs)  # scripts/bench names the file after the start
    started = (datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%z") if m else datetime.now().astimezone())
    p(f"Generated by `{a.command}`, started {started:%Y-%m-%d %H:%M %Z} "
      f"({a.minutes} min). Machine: {a.machine}. Load average (1, 5, 15 min) at start "
      f"{a.load}, at end {a.load_end}; 1-min load during the runs {min(loads):.2f}–{max(loads):.2f}"
      f" (median {statistics.median(loads):.2f}; it counts the benchmark's own processes)."
      + (f" CPU left idle by other users right before each run (up to {a.idle_wait} s of waiting"
         f" for {a.idle_min} % idle): median {statistics.median(idle):.0f} %, min {min(idle):.0f} %;"
         f" {sum(1 for x in idle if x >= float(a.idle_min or 0))} of {len(idle)} runs started at"
         f" ≥ {a.idle_min} % (100 % = both cores idle)."
         if idle else "")
      + f" Versions: {a.versions}. Release builds. "
      "Median (min–max) of N runs; every cell is run in turn with the others, so drifting"
      " machine load hits all of them alike.")
    p("")
    goals = []

    pki = [r for r in runs if r["kind"] == "pki"]
    if pki:
        sel = lambda t, x: [r for r in pki if r["tool"] == t and r["alg"] == x]  # noqa: E731
        n = max(len(sel(t, x)) for t in ("plinth", "kubeadm") for x in algs)
        p(f"### 1. PKI + kubeconfig phases (N={n})")
        p("")
        p("`init phase certs all` then `init phase kubeconfig all`, two processes per tool, same"
          " config file, into an empty `/etc/kubernetes` on disk (ext4; synced before each run)."
          " Wall time from the first start to the second exit; CPU = user + system of both"
          " processes.")
        p("")
        p("| algorithm | plinth | kubeadm | plinth / kubeadm | plinth CPU | kubeadm CPU |")
        p("|---|---|---|---|---|---|")
        for x in algs:
            pl, ku = stats([r["secs"] for r in sel("plinth", x)]), stats([r["secs"] for r in sel("kubeadm", x)])
            ratio = pl[0] / ku[0] if pl and ku else None
            if x == "RSA-2048" and ratio is not None:
                goals.append(("1. PKI + kubeconfig at RSA-2048: plinth ≤ 1/2 of kubeadm",
                              f"{ratio:.2f} of kubeadm", ratio <= 0.5))
            p(f"| {x} | {cell(pl, 1000, 'ms', 0)} | {cell(ku, 1000, 'ms', 0)} | "
              f"{'n/a' if ratio is None else f'{ratio:.2f}'} | "
              f"{cell(stats([r['cpu'] for r in sel('plinth', x)]), 1000, 'ms', 0)} | "
              f"{cell(stats([r['cpu'] for r in sel('kubeadm', x)]), 1000, 'ms', 0)} |")
        p("")

    cp = [r for r in runs if r["kind"] == "cp"]
    if cp:
        sel = lambda m, x: [r for r in cp if r["mode"] == m and r["alg"] == x]  # noqa: E731
        n = max(len(sel(m, x)) for m in ("floor", "plinth", "kubeadm") for x in algs)
        failed = [r for r in cp if r["mode"] != "floor" and r["rc"] != 0]
        restarts = [r for r in cp if any(r.get("restarts", {}).values())]
        p(f"### 2. Time to a healthy control plane (N={n})")
        p("")
        p("Real etcd, kube-apiserver, controller-manager and scheduler run by the kubelet stand-in"
          " (`--poll-interval 20ms`, started before each run) in a private namespace, tmpfs under"
          " the kubeadm paths. Seconds after t0 = the tool's start (floor: the moment the"
          " pre-rendered manifests directory is renamed into place; PKI, kubeconfigs and kubelet"
          " files are already there). **done**: the tool exited after reporting every component"
          " healthy (floor: = healthy). **healthy**: the independent poller's first HTTP 200 from"
          " the last of the four components (always the API server). **manifests picked up**: the"
          " stand-in started etcd. kubeadm and plinth skip the same phases (preflight and every"
          " phase after wait-control-plane).")
        p("")
        p("| algorithm | run | done | healthy | manifests picked up | done − floor (medians) |")
        p("|---|---|---|---|---|---|")
        names = (("floor", "floor: stand-in + pre-rendered files"), ("plinth", "`plinth init`"),
                 ("kubeadm", "`kubeadm init`"))
        overhead = {}
        for x in algs:
            floor = stats([r["done"] for r in sel("floor", x)])
            for m, name in names:
                rs = sel(m, x)
                if not rs:
                    continue
                d = stats([r["done"] for r in rs])
                gap = f"{d[0] - floor[0]:+.2f} s" if d and floor and m != "floor" else ""
                p(f"| {x} | {name} | {cell(d)} | {cell(stats([r['healthy'] for r in rs]))} | "
                  f"{cell(stats([picked(r) for r in rs]), 1000, 'ms', 0)} | {gap} |")
        p("")
        p("Where the time goes. The components' start-up (from the stand-in starting etcd to the"
          " last component healthy) is the same processes with the same manifests in every row;"
          " it alone varies by seconds from run to run, so differences of the **done** medians"
          " above carry that noise (a few tenths of a second at this N). What the tool adds is"
          " measured per run without it: **tool overhead** = (manifests picked up + healthy →"
          " done) − the floor's pick-up.")
        p("")
        p("| algorithm | run | manifests picked up | components' start-up | healthy → done | tool overhead |")
        p("|---|---|---|---|---|---|")
        for x in algs:
            fp = stats([picked(r) for r in sel("floor", x)])
            for m, name in names:
                rs = [r for r in sel(m, x) if picked(r) is not None and r["done"] is not None]
                if not rs or fp is None:
                    continue
                ov = stats([picked(r) + r["done"] - r["healthy"] - fp[0] for r in rs])
                overhead[(m, x)] = ov[0]
                p(f"| {x} | {name} | {cell(stats([picked(r) for r in rs]), 1000, 'ms', 0)} | "
                  f"{cell(stats([r['healthy'] - picked(r) for r in rs]))} | "
                  f"{cell(stats([r['done'] - r['healthy'] for r in rs]), 1000, 'ms', 0)} | "
                  f"{'' if m == 'floor' else cell(ov, 1000, 'ms', 0)} |")
            dm = {m: stats([r["done"] for r in sel(m, x)]) for m, _ in names}
            if ("plinth", x) in overhead and dm["floor"] and dm["plinth"]:
                ov = overhead[("plinth", x)]
                goals.append((f"2. {x}: plinth within 0.5 s of the floor",
                              f"tool overhead {ov:+.2f} s (done medians {dm['plinth'][0] - dm['floor'][0]:+.2f} s)",
                              ov <= 0.5))
            if ("plinth", x) in overhead and ("kubeadm", x) in overhead and dm["kubeadm"] and dm["plinth"]:
                ahead = overhead[("kubeadm", x)] - overhead[("plinth", x)]
                goals.append((f"2. {x}: plinth faster than kubeadm",
                              f"{ahead:+.2f} s less overhead (done medians"
                              f" {dm['kubeadm'][0] - dm['plinth'][0]:+.2f} s)", ahead > 0))
        p("")
        p("Per component, first HTTP 200 seen by the independent poller (s after t0, median):")
        p("")
        p("| algorithm | run | " + " | ".join(COMPONENTS) + " |")
        p("|---|---|" + "---|" * len(COMPONENTS))
        for x in algs:
            for m in ("floor", "plinth", "kubeadm"):
                rs = sel(m, x)
                if rs:
                    meds = [stats([r["ok"].get(c) for r in rs]) for c in COMPONENTS]
                    p(f"| {x} | {m} | " + " | ".join("n/a" if s is None else f"{s[0]:.2f}" for s in meds) + " |")
        p("")
        if failed or restarts:
            p(f"Anomalies: {len(failed)} failed tool runs, {len(restarts)} runs with component restarts.")
            p("")

        p("### 3. Detection latency (kube-apiserver)")
        p("")
        p("Time the tool's `kube-apiserver is healthy` line reached a reader on its stdout (a pipe)"
          " minus the time the independent poller (Rust, reqwest, 5 ms between polls, kept-alive"
          " connection) got its first HTTP 200 from the same URL (`/livez` at the advertise"
          " address) with the same CA and admin.conf client certificate. Both are CLOCK_REALTIME on"
          " this machine. The poller's own resolution is its poll period (5 ms plus the request),"
          " so values near 0 can come out slightly negative.")
        p("")
        p("| algorithm | tool | detection latency |")
        p("|---|---|---|")
        all_pl = []
        for x in algs:
            for m in ("plinth", "kubeadm"):
                ls = [1000 * (r["reported_apiserver"] - r["ok"]["kube-apiserver"]) for r in sel(m, x)
                      if r.get("reported_apiserver") is not None and r["ok"].get("kube-apiserver") is not None]
                if m == "plinth":
                    all_pl += ls
                p(f"| {x} | {m} | {cell(stats(ls), 1, 'ms', 0)} |")
        if all_pl:
            st = stats(all_pl)
            goals.append(("3. detection latency ≤ 100 ms", f"median {st[0]:.0f} ms, max {st[2]:.0f} ms", st[2] <= 100))
        p("")

        p("### 4. Peak RSS during `init` (`/usr/bin/time -v`, maximum resident set size)")
        p("")
        p("| algorithm | plinth | kubeadm |")
        p("|---|---|---|")
        all_rss = []
        for x in algs:
            pl = [r["max_rss_kib"] / 1024 for r in sel("plinth", x) if r.get("max_rss_kib")]
            all_rss += pl
            ku = [r["max_rss_kib"] / 1024 for r in sel("kubeadm", x) if r.get("max_rss_kib")]
            p(f"| {x} | {cell(stats(pl), 1, 'MiB', 1)} | {cell(stats(ku), 1, 'MiB', 1)} |")
        if all_rss:
            goals.append(("4. peak RSS ≤ 30 MiB", f"max {max(all_rss):.1f} MiB", max(all_rss) <= 30))
        p("")

    if goals:
        p("### Goals")
        p("")
        p("| goal | measured (medians; part 2 as explained above) | |")
        p("|---|---|---|")
        for g, v, ok in goals:
            p(f"| {g} | {v} | {met(ok)} |")
        p("")
    print("\n".join(out).rstrip("\n"))


def cmd_splice(a):
    doc = open(a.doc, encoding="utf-8").read()
    section = open(a.section, encoding="utf-8").read().rstrip("\n")
    i, j = doc.find(BEGIN), doc.find(END)
    if i < 0 or j < i:
        sys.exit(f"{a.doc}: no {BEGIN} ... {END} markers")
    doc = doc[: i + len(BEGIN)] + "\n" + section + "\n" + doc[j:]
    with open(a.doc + ".tmp", "w", encoding="utf-8") as f:
        f.write(doc)
    os.replace(a.doc + ".tmp", a.doc)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("stamp")
    st.add_argument("--ready-file", required=True)
    st.add_argument("fifo")
    r1 = sub.add_parser("record-pki")
    for f in ("--tool", "--alg", "--t0", "--t1", "--idle", "--waited"):
        r1.add_argument(f, required=True)
    r1.add_argument("--time", action="append", required=True)
    r2 = sub.add_parser("record-cp")
    for f in ("--mode", "--alg", "--t0", "--rc", "--idle", "--waited", "--poll", "--stamp", "--time", "--status"):
        r2.add_argument(f, required=True)
    sub.add_parser("summary")
    rp = sub.add_parser("report")
    rp.add_argument("runs")
    for f in ("--machine", "--load", "--load-end", "--minutes", "--versions", "--command",
              "--idle-min", "--idle-wait"):
        rp.add_argument(f, default="")
    sp = sub.add_parser("splice")
    sp.add_argument("doc")
    sp.add_argument("section")
    a = ap.parse_args()
    {"stamp": cmd_stamp, "record-pki": cmd_record_pki, "record-cp": cmd_record_cp,
     "summary": cmd_summary, "report": cmd_report, "splice": cmd_splice}[a.cmd](a)


if __name__ == "__main__":
    main()
