#!/usr/bin/env python3
"""Print bench/run.sh's results JSON against its targets (--text), or write
BENCHMARKS.md's figures (--markdown [NOTES_FILE]): every number comes from the JSON, none typed
by hand. NOTES_FILE (optional, Markdown) is appended verbatim: the analysis of missed targets.
usage: report.py --text RESULTS_JSON | report.py --markdown RESULTS_JSON [NOTES_FILE [OTHER_RUN_JSON...]] > BENCHMARKS.md"""
import json, re, sys

LABELS = {
    "cp": ("`cp -r` + `sync` of the TP8 set (the disk's limit)", "sh -c 'cp -r tp8 cp && sync'"),
    "reshard": ("g2convert TP8 -> TP4 (BF16)", "g2convert tp8 tp4 --tp 4 --threads N"),
    "fp8_block": ("g2convert BF16 -> FP8 block-128 (TP8)", "g2convert tp8 fp8 --tp 8 --dtype fp8 --fp8-scale block"),
    "python_reshard": ("Python safetensors+numpy TP8 -> TP4", "build/bench-release/venv/bin/python bench/python_reshard.py tp8 out 4"),
    "upgrade": ("g2convert Grok-1 JAX int8 -> Grok-2 BF16 TP8 (configs/bench-grok1.json)",
                "g2convert g1 out --to grok2 --tp 8"),
    "reshard_large": ("g2convert TP8 -> TP4, second model size", "g2convert tp8L tp4L --tp 4"),
    # real geometry: one layer of configs/grok-2.json (r2, TP8 release style) and configs/grok-1.json (r1)
    "real_synth_g2": ("g2synth: one Grok-2 layer, TP8", "g2synth --config grok-2-L1.json --format grok2-tp --tp 8 --out r2"),
    "real_cp": ("`cp -r` + `sync` of the Grok-2 layer (the disk's limit)", "sh -c 'cp -r r2 cp && sync'"),
    "real_reshard": ("g2convert TP8 -> TP4 (BF16)", "g2convert r2 out --tp 4 --layout tp --threads N"),
    "real_fp8_block": ("g2convert BF16 -> FP8 block-128 (TP8)",
                       "g2convert r2 out --tp 8 --dtype fp8 --fp8-scale block --fp8-block 128 --threads N"),
    "real_numpy_reshard": ("numpy peer TP8 -> TP4", "python bench/python_reshard.py r2 out 4"),
    "real_torch_reshard": ("torch peer TP8 -> TP4 (load_file, torch.cat, save_file)",
                           "python bench/torch_peer.py reshard r2 out 4"),
    "real_torch_fp8_block": ("torch peer BF16 -> FP8 block-128 (float8_e4m3fn, per-block amax)",
                             "python bench/torch_peer.py fp8 r2 out 128"),
    "real_forward": ("g2diff forward of the layer (1032 tokens), with logits", "g2diff r2 --record acts.safetensors"),
    "real_synth_g1": ("g2synth: one Grok-1 layer, JAX int8", "g2synth --config grok-1-L1.json --format grok1-jax --out r1"),
    "real_g1_cp": ("`cp -r` + `sync` of the Grok-1 layer", "sh -c 'cp -r r1 cp && sync'"),
    "real_g1_out_cp": ("`cp -r` + `sync` of the upgrade's output", "sh -c 'cp -r r1up cp && sync'"),
    "real_upgrade": ("g2convert Grok-1 int8 -> Grok-2 BF16, TP8 rank", "g2convert r1 out --to grok2 --tp 8 --layout rank --threads N"),
}
GROUPS = (("small", "small sets (hidden 4096)"), ("real", "real geometry (one layer of configs/grok-2.json, configs/grok-1.json)"))


def target_key(t):
    """A target's group and name without the run-specific sizes some names carry ("(6.6 vs 2.5 GiB)")."""
    return t.get("group", "small") + ": " + re.sub(r" \([0-9.]+ vs [0-9.]+ GiB\)", "", t["name"])


def fmt(v, nd=2):
    return "-" if v is None else ("%.*f" % (nd, v))


def status(t):
    return "n/a" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")


def text(res):
    m = res["machine"]
    print("machine: %s, nproc %s, %s GiB RAM, %s %s, load at end %s" % (
        m["cpu"], m["nproc"], m["mem_gib"], m["disk"]["device"], m["disk"]["fs"], " ".join(m["loadavg_end"])))
    for k, v in res["runs"].items():
        print("  %-16s %8.2f s  (CPU %6.2f s)  %8s MiB/s  peak RSS %7.1f MiB  (%.2f GiB, load %.1f; rounds %s s)" % (
            k, v["seconds"], v.get("cpu_seconds", 0), fmt(v["mib_per_s"], 0), v["peak_rss_mib"], v["bytes"] / 2**30,
            v["load"], " ".join("%.2f" % x for x in v.get("rounds_seconds", [v["seconds"]]))))
    for l in res["layer_forward"]:
        print("  layer forward T=%-4d %9.4f s  bound %8.4f s  ratio %6.2f  read-only ratio %s  (%d experts, %.0f MiB "
              "weights, %s, pages %s)" % (
            l["tokens"], l["seconds"], l["bound_seconds"], l["ratio"], fmt(l.get("read_ratio"), 2), l["experts_touched"],
            l["weight_bytes"] / 2**20, l.get("path", "dequantized"), "kept" if l.get("keep_mapped") else "dropped"))
    f = res.get("real_forward")
    if f and f.get("gflop_per_s"):
        print("  real forward T=%d: layer %.2f s, %.0f GFLOP, %.1f GFLOP/s; OpenBLAS sgemm %.1f GFLOP/s" % (
            f["tokens"], f["layer_seconds"], f["layer_gflop"], f["gflop_per_s"], f["sgemm"]["gflop_per_s"]))
    for c in res["codecs"]:
        print("  %-28s %7.2f GB/s" % (c["name"], c["gb_per_s"]))
    print("targets:")
    for t in res["targets"]:
        print("  [%s] %s: %s: %s %s (target %s %s)" % (status(t), t.get("group", "small"), t["name"], fmt(t["value"], 3),
                                                    t["unit"], t["op"], t["limit"]))


def markdown(res, notes, others=()):
    m = res["machine"]
    out = ["# g2kit benchmarks", "",
           "Generated by `python3 bench/report.py --markdown bench/results/results.json bench/NOTES.md%s` "
           "from the results of one `make bench` run (`bench/run.sh`, results JSON committed in bench/results/; "
           "further results files, when given, add a run-to-run spread table); no figure is typed by hand." % (
               "".join(" " + o.get("_path", "") for o in others)), "",
           "## Machine", "",
           "| nproc | CPU | memory | disk | threads | load average at end | date (UTC) |",
           "|---|---|---|---|---|---|---|",
           "| %s | %s | %s GiB | %s (%s, %s GiB) | %s | %s | %s |" % (
               m["nproc"], m["cpu"], m["mem_gib"], m["disk"]["device"], m["disk"]["fs"], m["disk"]["size_gib"],
               m["threads"], " ".join(m["loadavg_end"]), m["date_utc"]), "",
           "The load column of each row is the 1-minute load average when that command started (2 cores; "
           "the bench itself adds about 1-2): figures taken under other load are pessimistic for CPU-bound steps.", "",
           "## Conversion", "",
           "Seconds, CPU seconds, MiB/s and load are the median round's (by wall time); every round's wall "
           "seconds are listed; peak RSS is the largest of all rounds.", "",
           "| what | GiB | seconds | rounds (s) | CPU seconds (user+sys) | MiB/s | peak RSS MiB | load | reproduce |",
           "|---|---|---|---|---|---|---|---|---|"]
    def run_rows(real):
        rows = []
        for k, v in res["runs"].items():
            if k.startswith("real_") != real:
                continue
            name, how = LABELS.get(k, (k, ""))
            rows.append("| %s | %.2f | %.2f | %s | %s | %s | %.1f | %.1f | `%s` |" % (
                name, v["bytes"] / 2**30, v["seconds"], ", ".join("%.2f" % x for x in v.get("rounds_seconds", [v["seconds"]])),
                fmt(v.get("cpu_seconds"), 2), fmt(v["mib_per_s"], 0) if v["bytes"] else "-", v["peak_rss_mib"], v["load"], how))
        return rows
    out += run_rows(False)
    if any(k.startswith("real_") for k in res["runs"]):
        out += ["", "## Real geometry", "",
                "One layer of configs/grok-2.json (TP8, release-style files) and of configs/grok-1.json (JAX int8), "
                "made by g2synth in the run; each command timed in rounds interleaved with `cp -r` + `sync` of the "
                "same set, as above (seconds: the median round). GiB is the source set's size. The peers read "
                "every file whole and fsync nothing; torch comes from the SGLang loader venv "
                "(scripts/setup-sglang-venv.sh).", "",
                "| what | GiB | seconds | rounds (s) | CPU seconds (user+sys) | MiB/s | peak RSS MiB | load | reproduce |",
                "|---|---|---|---|---|---|---|---|---|"]
        out += run_rows(True)
        f = res.get("real_forward")
        if f and f.get("gflop_per_s"):
            out += ["", "Forward of the Grok-2 layer (CPU backend) at g2diff's default prompt: the layer's time as g2diff "
                    "prints it (embedding + the layer; the logits after it are in the row's total), its useful FLOPs "
                    "(projections, causal attention, router, dense FFN, the top-k experts of every token), and OpenBLAS "
                    "sgemm measured in the same run at the layer's shapes (`build/bench-release/bin/bench_sgemm`, %d threads)." % (
                        f["sgemm"].get("threads", 0)), "",
                    "| tokens | layer seconds | GFLOP | GFLOP/s | sgemm GFLOP/s | ratio |", "|---|---|---|---|---|---|",
                    "| %d | %.2f | %.0f | %.1f | %.1f | %.2f |" % (f["tokens"], f["layer_seconds"], f["layer_gflop"],
                                                                f["gflop_per_s"], f["sgemm"]["gflop_per_s"],
                                                                f["gflop_per_s"] / f["sgemm"]["gflop_per_s"])]
    if res["layer_forward"]:
        out += ["", "## Layer forward (CPU backend, one Grok-2-shaped decoder layer, hidden 4096)", "",
                "Bound = bytes of stored weights the layer touches (attention, dense FFN, router, norms, the "
                "routed experts, embedding rows; the output projection when the set has one layer) / measured memcpy "
                "bandwidth. `build/bench-release/bin/bench_layer [--keep-mapped] TP8_DIR`; pages: dropped after each weight "
                "(the runtime's default) or kept mapped between reps. memcpy bandwidth counts bytes copied (each read "
                "once and written once), so a kernel that only reads its weights can beat this bound (ratio < 1); the "
                "stricter read-only bound (same bytes / the streaming-read bandwidth of as many threads as the CPU "
                "backend's pool) is listed next to it.", "",
                "| tokens | path | pages | seconds | experts touched | weight MiB | memcpy GB/s | bound seconds | ratio "
                "| read GB/s (threads) | read-only bound s | read-only ratio | load |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for l in res["layer_forward"]:
            rb = l.get("read_bytes_per_s")
            out.append("| %d | %s | %s | %.4f | %d | %.0f | %.2f | %.4f | %.2f | %s | %s | %s | %s |" % (
                l["tokens"], l.get("path", "dequantized"), "kept" if l.get("keep_mapped") else "dropped", l["seconds"],
                l["experts_touched"], l["weight_bytes"] / 2**20, l["memcpy_bytes_per_s"] / 1e9, l["bound_seconds"],
                l["ratio"], "-" if rb is None else "%.2f (%d)" % (rb / 1e9, l.get("read_threads", 0)),
                fmt(l.get("read_bound_seconds"), 4), fmt(l.get("read_ratio"), 2), fmt(l.get("loadavg1"), 1)))
    if res["codecs"]:
        out += ["", "## Codec microbenchmarks (Google Benchmark, GB/s of input bytes)", "",
                "`build/bench-release/bin/bench_codecs` (bench/micro/bench_codecs.cc).", "", "| benchmark | GB/s |", "|---|---|"]
        out += ["| %s | %.2f |" % (c["name"], c["gb_per_s"]) for c in res["codecs"]]
    for g, title in GROUPS:
        ts = [t for t in res["targets"] if t.get("group", "small") == g]
        if not ts:
            continue
        out += ["", "## Targets: " + title, "", "| target | measured | limit | status |", "|---|---|---|---|"]
        for t in ts:
            out.append("| %s | %s %s | %s %s | %s |" % (t["name"], fmt(t["value"], 3), t["unit"], t["op"], t["limit"],
                                                      status(t)))
    if others:
        runs = [(res["machine"]["date_utc"], res)] + [(o["machine"]["date_utc"], o) for o in others]
        out += ["", "## The same targets in the other runs of the day (run-to-run spread)", "",
                "| target | " + " | ".join(d for d, _ in runs) + " |", "|---|" + "---|" * len(runs)]
        for i, t in enumerate(res["targets"]):
            vals = []
            for _, r in runs:
                # the same target: equal names once the run-specific model sizes are left out
                m = [x for x in r["targets"] if target_key(x) == target_key(t)]
                vals.append(fmt(m[0]["value"], 3) if m else "-")
            out.append("| %s | %s |" % (target_key(t), " | ".join(vals)))
    out += ["", "## Reproduce", "",
            "`make bench` (= `bash bench/run.sh`): Release build with `-DG2_BENCH=ON` in build/bench-release, a Python venv "
            "(numpy, safetensors, ml_dtypes) in build/bench-release/venv, synthetic sets in build/bench-release/work (removed as it "
            "goes). `BENCH_GB=2 BENCH_GB_LARGE=6 BENCH_THREADS=$(nproc)` are the defaults; the results JSON is "
            "build/bench-release/results.json. The real geometry (on by default; `BENCH_REAL=0` skips it, `BENCH_SMALL=0` "
            "runs it alone, `BENCH_REAL_G2=0` / `BENCH_REAL_G1=0` / `BENCH_SKIP_TORCH=1` / `BENCH_SKIP_FORWARD=1` "
            "drop parts, `BENCH_REAL_REPS` rounds) needs ~36 GiB free in build/bench-release/work and ~6 GiB for the torch "
            "venv.", ""]
    if notes:
        out += [open(notes).read().rstrip(), ""]
    print("\n".join(out))


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    res = json.load(open(path))
    if mode == "--text":
        text(res)
    else:
        others = [dict(json.load(open(p)), _path=p) for p in sys.argv[4:]]
        markdown(res, sys.argv[3] if len(sys.argv) > 3 else None, others)
