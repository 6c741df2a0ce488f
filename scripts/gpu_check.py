#!/usr/bin/env python3
"""The Python half of scripts/gpu-check.sh (standard library only: the GPU machine has a
Python but no network). Subcommands:

  wide-config SRC OUT          the Grok-2-width one-layer config (hidden 8192, 64 q / 8 KV
                               heads, head_dim 128, 8 experts of the real width) with a small
                               vocabulary, from configs/grok-2.json
  gtest-skips REPORT --gpus N  count test_gpu's tests from its GTEST_OUTPUT json report; a skip
                               is expected only where EXPECTED_SKIPS says so for N devices;
                               exit 1 on a failure, an unexpected skip or no tests at all
  diff-summary DIR             judge and summarise the g2diff --json reports in DIR (one
                               comparison each; reference precision on aggregates, see judge)
  timing LINES                 collect bench_layer_gpu's JSON lines
  report --work W --out O      the summary table (stdout and O/gpu-check.txt) and
                               O/gpu-check.json from W/steps.tsv, W/probe.env, W/figures/

Subcommands that summarise write their figures as JSON to --fig FILE (gpu-check.sh keeps one
per step) and print a one-line detail for the table.
"""
import argparse
import datetime
import glob
import json
import os
import sys

SCHEMA = "g2kit-gpu-check/1"
BUDGET_SECONDS = 480  # the kit is designed to finish within 8 minutes on one H100 (docs/cuda.md)
STEPS = ["driver", "deps", "build", "gpu-tests", "golden", "wide", "dist", "timing"]

# test_gpu tests allowed to skip, and on which machines: name -> fewest devices they need.
# Any other skip (above all "no CUDA device", the whole suite) is a failure of the check.
EXPECTED_SKIPS = {
    "CudaNccl.AllReduceAcrossDevicesInOneProcess": 2,
    "CudaNccl.ForwardOneRankPerDevice": 2,
}


def write_fig(path, fig):
    if path:
        with open(path, "w") as f:
            json.dump(fig, f, indent=2, sort_keys=True)
            f.write("\n")


def cmd_wide_config(a):
    c = json.load(open(a.src))
    c["_comment"] = ("Grok-2 width, one layer, small vocabulary: written by scripts/gpu_check.py from " +
                     os.path.basename(a.src) + " for the GPU check (not a release config)")
    c["num_hidden_layers"] = 1
    c["vocab_size"] = a.vocab
    for k, want in (("hidden_size", 8192), ("num_attention_heads", 64), ("num_key_value_heads", 8),
                    ("head_dim", 128)):
        if c.get(k) != want:
            sys.exit("gpu_check: %s: %s is %s, expected Grok-2's %s" % (a.src, k, c.get(k), want))
    with open(a.out, "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    print("hidden %d, %d q / %d kv heads, head_dim %d, %d experts x %d, dense %d, 1 layer, vocab %d" % (
        c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"],
        c["num_local_experts"], c["moe_intermediate_size"], c.get("intermediate_size", 0), c["vocab_size"]))


def gtest_cases(report):
    for suite in report.get("testsuites", []):
        for t in suite.get("testsuite", []):
            yield suite.get("name", "?") + "." + t.get("name", "?"), t


def cmd_gtest_skips(a):
    fig = {"report": a.report, "gpus": a.gpus, "tests": 0, "passed": 0, "failed": [], "skipped_expected": [],
           "skipped_unexpected": []}
    problems = []
    try:
        report = json.load(open(a.report))
    except (OSError, ValueError) as e:
        report = None
        problems.append("no readable gtest report (%s): test_gpu did not run to the end" % e)
    if report is not None:
        for name, t in gtest_cases(report):
            if t.get("status") == "NOTRUN":
                continue
            fig["tests"] += 1
            if t.get("failures"):
                fig["failed"].append(name)
            elif t.get("result") == "SKIPPED":
                need = EXPECTED_SKIPS.get(name)
                if need is not None and a.gpus < need:
                    fig["skipped_expected"].append("%s (needs %d GPUs)" % (name, need))
                else:
                    fig["skipped_unexpected"].append(name)
            else:
                fig["passed"] += 1
        if fig["tests"] == 0:
            problems.append("the report lists no test that ran")
    if fig["failed"]:
        problems.append("failed: " + ", ".join(fig["failed"]))
    if fig["skipped_unexpected"]:
        problems.append("skipped unexpectedly (counted as failures): " + ", ".join(fig["skipped_unexpected"]))
    fig["pass"] = not problems
    write_fig(a.fig, fig)
    detail = "%d tests: %d passed, %d failed, %d skipped as expected, %d skipped unexpectedly" % (
        fig["tests"], fig["passed"], len(fig["failed"]), len(fig["skipped_expected"]), len(fig["skipped_unexpected"]))
    print(detail)
    for p in problems:
        print("gpu_check: " + p, file=sys.stderr)
    return 0 if not problems else 1


# Reference precision is judged like the self-check's reference tolerance, on aggregates only
# (libmodel/cuda/host/self_check.h): its bf16 rounding points turn a 1-ulp summation-order
# difference into a whole bf16 step, which near a cancellation can exceed any element bound
# (libmodel/README.md, "Summation order matters at these rounding points").
REFERENCE_BOUND = {"max_rel_rms": 1e-2, "min_cosine": 0.9999, "min_router": 0.9, "min_top1": 0.9}


def judge(r):
    """(pass, how) of one g2diff --json report."""
    if r.get("mode") != "reference":
        return bool(r.get("pass")), "g2diff %s preset" % r.get("tolerance", {}).get("name")
    b = REFERENCE_BOUND
    ok = True
    for layer in r.get("layers", []):
        for v in layer.values():
            if isinstance(v, dict) and "rel_rms" in v:
                ok = ok and _num(v["rel_rms"]) <= b["max_rel_rms"] and _num(v["cosine"], 0.0) >= b["min_cosine"]
        ok = ok and layer.get("router_agreement", 0.0) >= b["min_router"]
    logits = r.get("logits")
    if logits:
        ok = ok and _num(logits["rel_rms"]) <= b["max_rel_rms"] and _num(logits["cosine"], 0.0) >= b["min_cosine"]
        ok = ok and logits.get("top1_agreement", 0.0) >= b["min_top1"]
    return ok and bool(r.get("layers")), "aggregate reference bound"


def _num(v, bad=float("inf")):
    return v if isinstance(v, (int, float)) else bad


def worst_rel_rms(r):
    worst = 0.0
    for layer in r.get("layers", []):
        for v in layer.values():
            if isinstance(v, dict) and isinstance(v.get("rel_rms"), (int, float)):
                worst = max(worst, v["rel_rms"])
    return worst


def cmd_diff_summary(a):
    comps = []
    for path in sorted(glob.glob(os.path.join(a.dir, "*.json"))):
        r = json.load(open(path))
        logits = r.get("logits", {})
        ok, how = judge(r)
        comps.append({
            "name": os.path.basename(path)[:-5],
            "pass": ok,
            "judged_by": how,
            "tolerance": r.get("tolerance", {}).get("name"),
            "mode": r.get("mode"),
            "layers_max_rel_rms": worst_rel_rms(r),
            "logits_rel_rms": logits.get("rel_rms"),
            "logits_top1": logits.get("top1_agreement"),
        })
    fig = {"comparisons": comps, "pass": bool(comps) and all(c["pass"] for c in comps)}
    write_fig(a.fig, fig)
    worst = max([c["layers_max_rel_rms"] for c in comps] or [0.0])
    print("%d/%d comparisons pass, worst layer rel_rms %.3g" % (sum(c["pass"] for c in comps), len(comps), worst))
    return 0 if fig["pass"] else 1


def cmd_timing(a):
    rows = [json.loads(line) for line in open(a.lines) if line.strip().startswith("{")]
    fig = {"rows": rows, "pass": bool(rows) and all(r.get("agree") for r in rows)}
    write_fig(a.fig, fig)
    print(", ".join("%d tok: gpu %.1f ms, cpu %.1f ms, %.0fx bound" % (
        r["tokens"], 1e3 * r["gpu_seconds"], 1e3 * r["cpu_seconds"], r["gpu_over_bound"]) for r in rows))
    return 0 if fig["pass"] else 1


def read_env(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def device_info(probe):
    devs = []
    for i in range(int(probe.get("devices", "0") or 0)):
        parts = probe.get("device%d" % i, "").split("|")
        if len(parts) == 3:
            devs.append({"name": parts[0], "compute_capability": parts[1],
                         "memory_gib": round(int(parts[2]) / 2**30, 1)})
    return devs


def table(doc):
    lines = []
    devs = doc["devices"]
    head = "g2kit GPU check: "
    if devs:
        head += "%s (sm_%s, %.1f GiB) x%d" % (devs[0]["name"], devs[0]["compute_capability"].replace(".", ""),
                                               devs[0]["memory_gib"], len(devs))
    else:
        head += "no usable device"
    head += ", driver %s (CUDA %s), runtime %s, nvcc %s" % (doc["driver"]["version"], doc["driver"]["cuda"],
                                                            doc["runtime"], doc["nvcc"])
    lines.append(head)
    lines.append("%-10s %-8s %8s  %s" % ("step", "result", "seconds", "details"))
    for s in doc["steps"]:
        secs = "%8.1f" % s["seconds"] if s["seconds"] is not None else "%8s" % "-"
        lines.append("%-10s %-8s %s  %s" % (s["name"], s["status"], secs, s["detail"]))
    notes = [] if doc["pass"] else ["failed at step " + str(doc["failed_step"])]
    if doc["seconds"] > BUDGET_SECONDS:
        notes.append("over the %d-minute budget" % (BUDGET_SECONDS // 60))
    lines.append("%-10s %-8s %8.1f  %s" % ("total", "PASS" if doc["pass"] else "FAIL", doc["seconds"],
                                           "; ".join(notes)))
    timing = next((s for s in doc["steps"] if s["name"] == "timing" and s.get("figures")), None)
    if timing and timing["figures"].get("rows"):
        lines.append("")
        lines.append("one Grok-2-width layer (bench_layer_gpu; bound = weight bytes / device-to-device copy bandwidth):")
        lines.append("%6s %9s %9s %8s %9s %9s %9s %9s %10s %9s" % (
            "tokens", "gpu_ms", "cpu_ms", "cpu/gpu", "weight_GB", "d2d_GB/s", "bound_ms", "gpu/bound",
            "f32_up_GB", "h2d_GB/s"))
        for r in timing["figures"]["rows"]:
            lines.append("%6d %9.1f %9.1f %8.2f %9.2f %9.0f %9.2f %9.1f %10.2f %9.1f" % (
                r["tokens"], 1e3 * r["gpu_seconds"], 1e3 * r["cpu_seconds"], r["cpu_over_gpu"],
                r["weight_bytes"] / 1e9, r["d2d_bytes_per_s"] / 1e9, 1e3 * r["bound_seconds"], r["gpu_over_bound"],
                r["f32_weight_bytes"] / 1e9, r["h2d_bytes_per_s"] / 1e9))
    return "\n".join(lines) + "\n"


def cmd_report(a):
    probe = read_env(os.path.join(a.work, "probe.env"))
    meta = read_env(os.path.join(a.work, "meta.env"))
    recorded = {}
    tsv = os.path.join(a.work, "steps.tsv")
    if os.path.exists(tsv):
        for line in open(tsv):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 3:
                recorded[f[0]] = {"status": f[1], "seconds": float(f[2]), "detail": f[3] if len(f) > 3 else ""}
    steps = []
    failed = None
    for name in STEPS:
        r = recorded.get(name, {"status": "not-run", "seconds": None, "detail": ""})
        fig_path = os.path.join(a.work, "figures", name + ".json")
        figures = json.load(open(fig_path)) if os.path.exists(fig_path) else None
        if r["status"] == "fail" and failed is None:
            failed = name
        steps.append({"name": name, "status": r["status"], "seconds": r["seconds"], "detail": r["detail"],
                      "figures": figures})
    ok = failed is None and all(s["status"] in ("pass", "skip") for s in steps)
    doc = {
        "schema": SCHEMA,
        "pass": ok,
        "failed_step": failed,
        "exit_code": 0 if ok else int(meta.get("exit_code", "1") or 1),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(sum(s["seconds"] or 0.0 for s in steps), 1),
        "budget_seconds": BUDGET_SECONDS,
        "devices": device_info(probe),
        "driver": {"version": meta.get("driver_version", "?"), "cuda": probe.get("driver_cuda", "?")},
        "runtime": probe.get("runtime", "?"),
        "nvcc": meta.get("nvcc", "?"),
        "host": {"cpus": int(meta.get("cpus", "0") or 0), "glibc": meta.get("glibc", "?")},
        "source": {"commit": meta.get("commit", "?"), "dirty": meta.get("dirty", "?") == "yes"},
        "steps": steps,
    }
    os.makedirs(a.out, exist_ok=True)
    text = table(doc)
    with open(os.path.join(a.out, "gpu-check.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "gpu-check.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    print("gpu-check: wrote %s" % os.path.join(a.out, "gpu-check.json"))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("wide-config")
    s.add_argument("src")
    s.add_argument("out")
    s.add_argument("--vocab", type=int, default=4096)
    s.set_defaults(fn=cmd_wide_config)
    s = sub.add_parser("gtest-skips")
    s.add_argument("report")
    s.add_argument("--gpus", type=int, required=True)
    s.add_argument("--fig")
    s.set_defaults(fn=cmd_gtest_skips)
    s = sub.add_parser("diff-summary")
    s.add_argument("dir")
    s.add_argument("--fig")
    s.set_defaults(fn=cmd_diff_summary)
    s = sub.add_parser("timing")
    s.add_argument("lines")
    s.add_argument("--fig")
    s.set_defaults(fn=cmd_timing)
    s = sub.add_parser("report")
    s.add_argument("--work", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_report)
    a = p.parse_args()
    return a.fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
