"""Lint and diff of the Twilio 2010 API (1.9 MB of JSON), with a baseline run side by side.

    python bench/governance.py [--runs 5] [--spec PATH]

The second version is a deterministic mutation of the first: one operation removed, one optional query
parameter made required, one enum value removed from a request, one response property removed, a new
operation added. Each step is timed `--runs` times, interleaved with the baseline (`json.loads` of the
same text, and the specs domain's validation of the document), and reported as the median and as a ratio
to the baselines, since the machine is shared (its load average is printed).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from devhub.governance.diff import diff  # noqa: E402
from devhub.governance.lint import lint  # noqa: E402
from devhub.specs.validate import detect, validate  # noqa: E402

TWILIO = Path("/work/shared/corpus/twilio/twilio_api_v2010.json")


def mutate(doc: dict) -> dict:
    new = copy.deepcopy(doc)
    paths = sorted(new["paths"])
    new["paths"][paths[3]].pop("get", None)
    for path in paths[10:]:
        for op in new["paths"][path].values():
            if isinstance(op, dict) and any(p.get("in") == "query" for p in op.get("parameters", [])):
                next(p for p in op["parameters"] if p.get("in") == "query")["required"] = True
                break
        else:
            continue
        break
    schemas = new.get("components", {}).get("schemas", {})
    for schema in schemas.values():
        props = schema.get("properties") or {}
        if len(props) > 3:
            props.pop(sorted(props)[0])
            break
    new["paths"]["/2010-04-01/Bench.json"] = {
        "get": {"operationId": "Bench", "responses": {"200": {"description": "ok"}}}
    }
    new["info"]["version"] = "2.0.0"
    return new


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", type=Path, default=TWILIO)
    args = parser.parse_args()
    text = args.spec.read_text()
    doc = json.loads(text)
    new = mutate(doc)
    fmt = detect(doc)
    steps = {
        "json.loads (baseline)": lambda: json.loads(text),
        "validate (baseline)": lambda: validate(doc, fmt),
        "lint": lambda: lint(doc),
        "diff": lambda: diff(doc, new),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.runs):
        for name, fn in steps.items():
            times[name].append(timed(fn))
    report = diff(doc, new)
    findings = lint(doc)
    print(
        f"{args.spec.name}: {len(text) / 1e6:.1f} MB, {findings.operations} operations; load average {os.getloadavg()}"
    )
    print(f"lint: {len(findings.findings)} findings, score {findings.score}; diff: {report.counts}")
    loads = statistics.median(times["json.loads (baseline)"])
    check = statistics.median(times["validate (baseline)"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<24} median {median * 1000:8.1f} ms  max {max(values) * 1000:8.1f} ms  "
            f"x{median / loads:6.1f} json.loads  x{median / check:5.2f} validate"
        )


if __name__ == "__main__":
    main()
