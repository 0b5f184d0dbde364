#!/usr/bin/env python3
"""One image scan's whole event burst served to one warm on-scan, delivered both ways, side by side:
one EventBridge event per invocation (a rule that targets the function, as before the intake queues)
and SQS batches (the intake queue's event source mapping), with the harness handed out beside the
project (`../shared/perf/burst.py`) and this project's world (`benches/lambda_perf.py`).

    cargo build --release -p on-scan
    python3 benches/burst.py [--findings 250] [--critical 5] [--batch-size 100] [--delivery both|sqs|eventbridge]

Prints, per delivery: invocations, AWS calls (the function's own, counted at the harness's proxy),
billed Lambda time (handler durations rounded up to 1 ms), the time spent waiting on moto, and the
harness's check (the image's tags, exactly one SNS message). Exits non-zero when a check fails.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "GATEKEEPER_MODE": "enforce",
    # The harness's events name its account: the deployment's own, as the templates say.
    "GATEKEEPER_ACCOUNT_ID": "123456789012",
    "GATEKEEPER_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:gatekeeper-verdicts",
    "GATEKEEPER_STATE_TABLE": "gatekeeper-state",
    "GATEKEEPER_REJECTED_QUEUE_URL": "http://127.0.0.1/123456789012/gatekeeper-rejected",
}


def burst(harness, binary, findings, critical, delivery, batch_size, extra_env=()):
    label = "gk-burst-%s-%d" % (delivery, findings)
    out = Path("/tmp/perf-run/%s.json" % label)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(harness), "--label", label, "--findings", str(findings), "--critical", str(critical),
           "--delivery", delivery, "--batch-size", str(batch_size), "--out", str(out),
           "--world", "%s:gatekeeper_world" % (ROOT / "benches" / "lambda_perf.py")]
    for k, v in ENV.items():
        cmd += ["--env", "%s=%s" % (k, v)]
    for kv in extra_env:
        cmd += ["--env", kv]
    subprocess.run(cmd + ["--", str(binary)], check=False, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--findings", type=int, default=250)
    p.add_argument("--critical", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--delivery", choices=["both", "sqs", "eventbridge"], default="both")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="another setting for the function")
    p.add_argument("--harness", default=str(ROOT.parent / "shared" / "perf" / "burst.py"))
    p.add_argument("--binary", default=str(ROOT / "target" / "release" / "on-scan"))
    a = p.parse_args(argv)
    rows = []
    if a.delivery in ("both", "eventbridge"):
        rows.append(("eventbridge", burst(a.harness, a.binary, a.findings, a.critical, "eventbridge", 1, a.env)))
    if a.delivery in ("both", "sqs"):
        rows.append(("sqs, batch %d" % a.batch_size,
                     burst(a.harness, a.binary, a.findings, a.critical, "sqs", a.batch_size, a.env)))
    print("%d findings (%d events) of one image, one warm on-scan" % (a.findings, rows[0][1]["events"]))
    print("%-16s %12s %10s %10s %12s  %s" % ("delivery", "invocations", "AWS calls", "billed ms", "moto wait ms", "check"))
    for name, r in rows:
        print("%-16s %12d %10d %10d %12.0f  %s" % (name, r["invocations"], r["aws_calls"], r["billed_ms"],
                                                     r["aws_wait_ms"], "ok" if r["check"].get("ok") else r["check"]))
    for name, r in rows:
        print("%s calls by operation: %s" % (name, json.dumps(r["aws_calls_by_operation"])))
    return 0 if all(r["check"].get("ok") for _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
