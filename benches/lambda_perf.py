#!/usr/bin/env python3
"""Cold start, own work, peak RSS and AWS calls of the gatekeeper's on-scan Lambda, with the perf
harness handed out beside the project (`../shared/perf/measure.py`).

    python3 benches/lambda_perf.py [--harness ../shared/perf/measure.py] -- <measure.py arguments>

The harness seeds moto with one ECR image (tags v1, latest) and N Inspector findings, serves an
"Inspector2 Scan" event through a local Lambda Runtime API, counts AWS calls at a proxy and checks
the result. Two things differ for the gatekeeper, and this driver adapts the harness's world to them
rather than the other way round:

- the gatekeeper keeps its state in a DynamoDB table and copies unusable events to a queue, so every
  reset also creates the table (on-demand, key `pk`) and the rejected-events queue;
- a blocked image's tags become `quarantined-<tag>--<first 12 hex of the digest>`, so the check
  expects those tags (and still: the same digest, exactly one SNS message).

Everything else (the event, the seeding, the measurements, the table it prints) is the harness's.
Example, from the repository root, after `cargo build --release -p on-scan`:

    python3 benches/lambda_perf.py -- --label gatekeeper-on-scan --findings 250 --runs 10 \\
        --artifact target/release/on-scan -- target/release/on-scan
"""

import importlib.util
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_harness(path):
    spec = importlib.util.spec_from_file_location("measure", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure"] = module
    spec.loader.exec_module(module)
    return module


def gatekeeper_world(m):
    class GatekeeperWorld(m.World):
        """The harness's world plus the gatekeeper's state table and rejected-events queue."""

        TABLE = "gatekeeper-state"
        REJECTED = "gatekeeper-rejected"

        def reset_and_seed(self):
            super().reset_and_seed()
            import boto3

            kw = dict(endpoint_url=self.url, region_name=m.REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
            boto3.client("dynamodb", **kw).create_table(
                TableName=self.TABLE,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "due_shard", "AttributeType": "S"},
                    {"AttributeName": "due_at", "AttributeType": "N"},
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "due",
                        "KeySchema": [
                            {"AttributeName": "due_shard", "KeyType": "HASH"},
                            {"AttributeName": "due_at", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
            )
            self.rejected_url = self.sqs.create_queue(QueueName=self.REJECTED)["QueueUrl"]

        def check(self):
            result = super().check()
            hex12 = self.digest.split(":", 1)[1][:12]
            blocked = self.critical > 0
            expected = sorted("%s%s--%s" % (m.QUARANTINE_PREFIX, t, hex12) if blocked else t for t in m.TAGS)
            result["expected_tags"] = expected
            result["ok"] = (
                result["image_tags"] == expected and result["image_digests"] == [self.digest] and result["sns_messages"] == 1
            )
            return result

    return GatekeeperWorld


def main(argv):
    harness = HERE.parent.parent / "shared" / "perf" / "measure.py"
    if argv[:1] == ["--harness"]:
        harness, argv = Path(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not harness.exists():
        sys.exit("perf harness not found at %s (pass --harness PATH)" % harness)
    m = load_harness(harness)
    if not m.in_moto_venv():
        # The harness's venv has moto and boto3; re-run this driver (not the harness) under it.
        m.ensure_venvs()
        py = str(m.venv_python("moto"))
        os.execv(py, [py, str(Path(__file__).resolve()), "--harness", str(harness.resolve()), "--", *argv])
    m.World = gatekeeper_world(m)
    topic = "arn:aws:sns:%s:%s:%s" % (m.REGION, m.ACCOUNT, m.TOPIC)
    queue = "http://127.0.0.1/%s/%s" % (m.ACCOUNT, "gatekeeper-rejected")
    env = [
        "--env", "GATEKEEPER_MODE=enforce",
        # The harness's events name its account: the deployment's own, as the templates say.
        "--env", "GATEKEEPER_ACCOUNT_ID=%s" % m.ACCOUNT,
        "--env", "GATEKEEPER_TOPIC_ARN=%s" % topic,
        "--env", "GATEKEEPER_STATE_TABLE=gatekeeper-state",
        "--env", "GATEKEEPER_REJECTED_QUEUE_URL=%s" % queue,
    ]
    cut = argv.index("--") if "--" in argv else len(argv)
    return m.main(argv[:cut] + env + argv[cut:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
