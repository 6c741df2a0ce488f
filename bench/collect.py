#!/usr/bin/env python3
"""Gather bench/run.sh's raw measurements into one results JSON (stdout): the machine, every
timed command (seconds, peak RSS, bytes, load average when it started), the layer forward
figures, the codec microbenchmarks, the real-geometry figures, and each target with its
measured value (group "small": the hidden-4096 sets; group "real": one layer of the real
configs).
usage: collect.py RESULTS_TSV LAYER_JSONL CODECS_JSON UPGRADE_OUT_BYTES THREADS WORKDIR [REAL_JSON [REF_DIGESTS]]"""
import datetime, json, os, platform, subprocess, sys

tsv, layer_jsonl, codecs_json, g1out, threads, workdir = sys.argv[1:7]
real = json.load(open(sys.argv[7])) if len(sys.argv) > 7 and os.path.exists(sys.argv[7]) else {}
ref_digests = json.load(open(sys.argv[8])) if len(sys.argv) > 8 and os.path.exists(sys.argv[8]) else {}


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

# a synth row's bytes are those of the set it made (its cp row copies the same set)
for synth, cp_label in (("real_synth_g2", "real_cp"), ("real_synth_g1", "real_g1_cp")):
    if synth in runs and cp_label in runs:
        runs[synth]["bytes"] = runs[cp_label]["bytes"]
        runs[synth]["mib_per_s"] = round(runs[synth]["bytes"] / 2**20 / runs[synth]["seconds"], 1)

targets = []
group = "small"


def target(name, value, op, limit, unit, how):
    ok = None if value is None else (value <= limit if op == "<=" else value >= limit)
    targets.append({"name": name, "value": None if value is None else round(value, 3), "op": op, "limit": limit,
                    "unit": unit, "pass": ok, "how": how, "group": group})


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

# --- real geometry: one layer of configs/grok-2.json (TP8) and of configs/grok-1.json
group = "real"


def ratio(a, b, key="seconds"):
    return r(a, key) / r(b, key) if a in runs and b in runs and r(b, key) else None


if "real_cp" in runs:
    if "real_reshard" in runs:
        target("reshard TP8->TP4 time / cp -r time", ratio("real_reshard", "real_cp"), "<=", 1.05, "x", "same bytes")
    if "real_fp8_block" in runs:
        target("BF16->FP8 block-128 time / cp -r time", ratio("real_fp8_block", "real_cp"), "<=", 1.3, "x",
               "cp of the source bytes")
if "real_upgrade" in runs and "real_g1_cp" in runs and real.get("upgrade_out_bytes"):
    # cp of the Grok-1 source, scaled to the bytes the upgrade writes (int8 in, BF16 out)
    runs["real_upgrade"]["out_bytes"] = real["upgrade_out_bytes"]
    cp_equiv = r("real_g1_cp", "seconds") * real["upgrade_out_bytes"] / runs["real_g1_cp"]["bytes"]
    target("Grok-1 int8->Grok-2 BF16 upgrade time / cp time (scaled to output bytes)",
           r("real_upgrade", "seconds") / cp_equiv, "<=", 1.5, "x", "cp throughput x output bytes")
if "real_upgrade" in runs and "real_g1_out_cp" in runs:
    # the same limit against a measured cp of the upgrade's own output (same bytes written)
    target("Grok-1 int8->Grok-2 BF16 upgrade time / cp -r time of its output", ratio("real_upgrade", "real_g1_out_cp"),
           "<=", 1.5, "x", "cp of the output bytes")
for label in ("real_reshard", "real_fp8_block", "real_upgrade"):
    if label in runs:
        target("peak RSS " + label[5:], r(label, "peak_rss_mib"), "<=", 64, "MiB", "/usr/bin/time -v")
for peer, ours, what in (("real_torch_reshard", "real_reshard", "reshard"), ("real_torch_fp8_block", "real_fp8_block", "FP8 block-128")):
    if peer in runs and ours in runs:
        target("torch peer %s time / g2convert" % what, ratio(peer, ours), ">=", 1.3, "x", "bench/torch_peer.py")
        target("torch peer %s peak RSS / g2convert" % what, ratio(peer, ours, "peak_rss_mib"), ">=", 50.0, "x",
               "bench/torch_peer.py")
digests = {k[len("digests_"):]: v for k, v in real.items() if k.startswith("digests_")}
if digests:
    same = all(ref_digests.get(label) == d for label, d in digests.items())
    target("output digests equal the recorded ones (%s)" % ", ".join(sorted(l[5:] for l in digests)),
           1.0 if same else 0.0, ">=", 1.0, "", "bench/results/real-digests.json")
forward = real.get("forward")
if forward and forward.get("layer_seconds"):
    c, T = forward["config"], forward["tokens"]
    H, hd, heads, kv = c["hidden_size"], c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]
    # useful FLOPs of the layer: q, k, v, o projections, causal attention (QK and PV), the router,
    # the dense FFN (residual_moe), and top-k experts per token; the logits are timed apart
    flops = 2.0 * T * H * (heads * hd + 2 * kv * hd) + 2.0 * T * heads * hd * H
    flops += 2.0 * heads * hd * T * (T + 1)
    flops += 2.0 * T * H * c["num_local_experts"]
    if c.get("residual_moe") and c.get("intermediate_size"):
        flops += 3 * 2.0 * T * H * c["intermediate_size"]
    flops += 3 * 2.0 * T * H * c["moe_intermediate_size"] * c["num_experts_per_tok"]
    forward["layer_gflop"] = round(flops / 1e9, 1)
    forward["gflop_per_s"] = round(flops / forward["layer_seconds"] / 1e9, 1)
    target("layer forward %d tokens GFLOP/s / OpenBLAS sgemm GFLOP/s" % T,
           forward["gflop_per_s"] / forward["sgemm"]["gflop_per_s"], ">=", 0.5, "x", "g2diff SET --record")
    del forward["config"]

json.dump({"machine": machine(), "runs": runs, "layer_forward": layer, "codecs": codecs, "targets": targets,
           "real_forward": forward}, sys.stdout, indent=2)
print()
