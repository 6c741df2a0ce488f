#!/usr/bin/env python3
"""Gather bench/run.sh's raw measurements into one results JSON (stdout): the machine, every
timed command (seconds, peak RSS, bytes, load average when it started), the layer forward
figures, the codec microbenchmarks, and each target (the list below, `target(...)`) with its measured value.
usage: collect.py RESULTS_TSV LAYER_JSONL CODECS_JSON UPGRADE_OUT_BYTES THREADS WORKDIR"""
import datetime, json, os, platform, subprocess, sys

tsv, layer_jsonl, codecs_json, g1out, threads, workdir = sys.argv[1:7]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
    df = sh("df -PT '%s' | awk 'NR==2 {print $1\" \"$2\" \"$3}'" % workdir).split()
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kib / 2**20, 1),
            "disk": {"device": df[0] if df else "", "fs": df[1] if len(df) > 1 else "",
                     "size_gib": round(int(df[2]) / 2**20) if len(df) > 2 else 0},
            "kernel": platform.release(), "loadavg_end": open("/proc/loadavg").read().split()[:3],
            "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), "threads": int(threads)}


rounds = {}  # label -> every round's row, in order
for line in open(tsv):
    label, secs, rss, nbytes, load, cpu = line.rstrip("\n").split("\t")
    rounds.setdefault(label, []).append({"seconds": float(secs), "peak_rss_mib": round(int(rss) / 1024, 1),
                                         "bytes": int(nbytes), "load": float(load), "cpu_seconds": float(cpu)})
runs = {}
for label, rs in rounds.items():
    # the median round by wall time (the lower middle one for an even count); every round's
    # seconds are kept so the spread is visible
    med = sorted(rs, key=lambda x: x["seconds"])[(len(rs) - 1) // 2]
    runs[label] = dict(med, mib_per_s=round(med["bytes"] / 2**20 / med["seconds"], 1) if med["seconds"] > 0 else None,
                       peak_rss_mib=max(x["peak_rss_mib"] for x in rs), rounds_seconds=[x["seconds"] for x in rs])

layer = [json.loads(l) for l in open(layer_jsonl) if l.strip()] if os.path.exists(layer_jsonl) else []
codecs = []
for path in codecs_json.split(","):
    if not (os.path.exists(path) and os.path.getsize(path)):
        continue
    for b in json.load(open(path)).get("benchmarks", []):
        codecs.append({"name": b["name"], "gb_per_s": round(b.get("bytes_per_second", 0) / 1e9, 2)})

targets = []


def target(name, value, op, limit, unit, how):
    ok = None if value is None else (value <= limit if op == "<=" else value >= limit)
    targets.append({"name": name, "value": None if value is None else round(value, 3), "op": op, "limit": limit,
                    "unit": unit, "pass": ok, "how": how})


def r(label, key):
    return runs.get(label, {}).get(key)


cp = r("cp", "seconds")
if cp and "reshard" in runs:
    target("reshard TP8->TP4 time / cp -r time", r("reshard", "seconds") / cp, "<=", 1.25, "x", "same bytes")
if cp and "fp8_block" in runs:
    target("BF16->FP8 block-128 time / cp -r time", r("fp8_block", "seconds") / cp, "<=", 2.0, "x",
           "cp of the source bytes")
if cp and "upgrade" in runs:
    # cp time scaled to the bytes the upgrade writes (int8 in, BF16 out: the output is larger)
    cp_equiv = cp * int(g1out) / runs["cp"]["bytes"]
    runs["upgrade"]["out_bytes"] = int(g1out)
    target("Grok-1 int8->Grok-2 BF16 upgrade time / cp time (scaled to output bytes)",
           r("upgrade", "seconds") / cp_equiv, "<=", 2.0, "x", "cp throughput x output bytes")
for label in ("reshard", "fp8_block", "upgrade", "reshard_large"):
    if label in runs:
        target("peak RSS " + label, r(label, "peak_rss_mib"), "<=", 1024, "MiB", "/usr/bin/time -v")
if "reshard" in runs and "reshard_large" in runs:
    target("peak RSS reshard large/small - 1 (%.1f vs %.1f GiB)" % (runs["reshard_large"]["bytes"] / 2**30,
                                                                    runs["reshard"]["bytes"] / 2**30),
           abs(r("reshard_large", "peak_rss_mib") / r("reshard", "peak_rss_mib") - 1), "<=", 0.10, "", "")
if "python_reshard" in runs and "reshard" in runs:
    target("Python safetensors+numpy reshard time / g2convert", r("python_reshard", "seconds") / r("reshard", "seconds"),
           ">=", 3.0, "x", "bench/python_reshard.py")
    target("Python reshard peak RSS / g2convert", r("python_reshard", "peak_rss_mib") / r("reshard", "peak_rss_mib"),
           ">=", 10.0, "x", "bench/python_reshard.py")
for l in layer:
    if l["tokens"] <= 8:
        mapped = " (pages kept mapped)" if l.get("keep_mapped") else ""
        target("layer forward %d token(s) / memory-bandwidth bound%s" % (l["tokens"], mapped), l["ratio"], "<=", 2.0,
               "x", "bench_layer" + (" --keep-mapped" if mapped else ""))

json.dump({"machine": machine(), "runs": runs, "layer_forward": layer, "codecs": codecs, "targets": targets},
          sys.stdout, indent=2)
print()
