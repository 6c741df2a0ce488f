"""Load checkpoint sets with SGLang's own loader, every rank, and judge each against SGLang's
split of an unsharded reference (sglang_verdict.py says what is checked).

    python check_sets.py CASES.json [--json OUT.json]

CASES.json: {"cases": [{"name": ..., "set": DIR, "tp": N, "reference": DIR,
                        "expect": "pass" | "fail" | "refused" | "silent",
                        "fp8_block": [n, k] | null (optional),
                        "why": "..." (optional)}]}
`reference` is the same model unsharded (TP 1, Hugging Face layout, same dtype); it is loaded
at the same (tp, rank) with every load_presharded_* flag off, so SGLang narrows it itself.
`fp8_block`, when the key is present, says the set is serialized FP8 and which
weight_block_size SGLang's Fp8 method must report (null: per-tensor scales).
A case expected to "fail" is a negative control: it must produce at least one finding;
"refused": SGLang itself must raise on every rank (a loud failure); "silent": it must load
every rank without raising, yet with findings (a silent wrong load).
Exit 0 when every case came out as expected, 1 when one did not, 2 on unusable input.
"""
import argparse
import json
import sys
import time

import sglang_host

sglang_host.install()

import sglang_load  # noqa: E402  (after the stubs are installed)
import sglang_verdict  # noqa: E402

PRESHARDED_OFF = {"load_presharded_moe": False, "load_presharded_attn": False,
                  "load_presharded_mlp": False, "load_presharded_embedding": False}


def quant_findings(case, load):
    if load.error:
        return []
    q = load.quant
    if "fp8_block" not in case:
        return [f"SGLang chose quantization {q['config']} for a BF16 set"] if q else []
    want = case["fp8_block"]
    out = []
    if q.get("config") != "Fp8Config" or not q.get("serialized"):
        return [f"SGLang did not read a serialized FP8 checkpoint (quantization: {q or 'none'})"]
    if q.get("weight_block_size") != want:
        out.append(f"SGLang's Fp8 method has weight_block_size {q.get('weight_block_size')}, expected {want}")
    for method in ("Fp8LinearMethod", "Fp8MoEMethod"):
        if not q["methods"].get(method):
            out.append(f"no layer uses SGLang's {method} (methods: {q['methods']})")
    return out


def config_findings(load):
    if load.error:
        return []
    if load.hf_model_type != "git" or load.architecture != "Grok1ForCausalLM":
        return [f"config parsed as model_type {load.hf_model_type!r}, architectures {load.architecture!r}"]
    return []


class References:
    """Reference loads, each made once per (reference, tp, rank)."""

    def __init__(self):
        self._loads = {}

    def get(self, ref_dir, tp, rank):
        key = (ref_dir, tp, rank)
        if key not in self._loads:
            self._loads[key] = sglang_load.load_rank(ref_dir, tp, rank, PRESHARDED_OFF)
        return self._loads[key]


def run_case(case, refs):
    ranks = []
    for rank in range(case["tp"]):
        got = sglang_load.load_rank(case["set"], case["tp"], rank)
        ref = refs.get(case["reference"], case["tp"], rank)
        findings = (config_findings(got) + sglang_verdict.loader_findings(got) + quant_findings(case, got)
                    + [f"reference: {f}" for f in sglang_verdict.loader_findings(ref)]
                    + sglang_verdict.compare_findings(got, ref))
        ranks.append({"rank": rank, "files": len(got.files), "tensors": len(got.tensors),
                      "loader_calls": len(got.calls), "findings": findings})
    return ranks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases")
    ap.add_argument("--json", help="write every case's per-rank findings here")
    args = ap.parse_args()
    try:
        cases = json.load(open(args.cases))["cases"]
    except (OSError, ValueError, KeyError) as e:
        print(f"check_sets.py: {args.cases}: {e}", file=sys.stderr)
        return 2
    refs = References()
    report, unexpected = [], 0
    print(f"{'case':52} {'tp':>3} {'ranks ok':>9}  {'s':>5}  verdict")
    for case in cases:
        t0 = time.time()
        ranks = run_case(case, refs)
        bad = [r for r in ranks if r["findings"]]
        failed = bool(bad)
        raised = [r for r in ranks if r["findings"] and r["findings"][0].startswith("SGLang failed")]
        expect = case["expect"]
        as_expected = {"pass": not failed, "fail": failed, "refused": len(raised) == len(ranks),
                       "silent": failed and not raised}[expect]
        unexpected += not as_expected
        verdict = {"pass": "ok", "fail": "fails, as it must", "refused": "SGLang refuses it, as it must",
                   "silent": "loads wrong without an error, as measured"}[expect] if as_expected else \
            {"pass": "FAIL", "fail": "LOADED CLEANLY BUT MUST FAIL", "refused": "NOT REFUSED BY SGLANG ON EVERY RANK",
             "silent": "NOT A SILENT WRONG LOAD"}[expect]
        print(f"{case['name']:52} {case['tp']:>3} {len(ranks) - len(bad):>4}/{len(ranks):<4}"
              f" {time.time() - t0:6.1f}  {verdict}")
        if bad and (not as_expected or expect != "pass"):
            first = bad[0]
            shown = first["findings"][:3] if not as_expected else first["findings"][:1]
            for f in shown:
                print(f"      rank {first['rank']}: {f}")
            if not as_expected and len(first["findings"]) > 3:
                print(f"      ... {len(first['findings']) - 3} more on rank {first['rank']}, {len(bad) - 1} more ranks")
        report.append({**case, "ranks": ranks, "as_expected": as_expected})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cases": report}, f, indent=1)
    n_neg = sum(c["expect"] != "pass" for c in cases)
    print(f"{len(cases) - n_neg} sets loaded through SGLang 0.5.23 at every rank, {n_neg} negative controls: "
          + ("all as expected" if not unexpected else f"{unexpected} NOT as expected"))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
