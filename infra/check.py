"""Checks that the SAM template and the Terraform module declare the same gatekeeper, and that both
match the code: the same functions (the workspace's Lambda binaries), the same environment
variables (the ones the configuration reads), the same event patterns (the files in
infra/terraform/patterns/, which the tests route sample events through), and exactly the IAM actions
of infra/permissions.json, which in turn must be the AWS operations the adapters call.

Run by `make infra` (part of `make test`) with the infra venv's Python (cfn-lint and python-hcl2).
Exits 1 with one line per difference.
"""

import glob
import json
import os
import re
import sys

import hcl2
from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF = os.path.join(ROOT, "infra", "terraform")
PATTERNS = os.path.join(TF, "patterns")
problems = []
# Actions AWS does not scope to a resource (registry- and account-level reads): the only ones a
# Terraform role statement may grant on "*". checkov reads no dynamic block of a data source, so
# it no longer sees the functions' statements; this keeps its "no * for restrictable actions".
UNSCOPED = {
    "ecr:DescribePullThroughCacheRules",
    "ecr:DescribeRegistry",
    "ecr:GetRegistryScanningConfiguration",
    "inspector2:ListCoverage",
    "inspector2:ListCoverageStatistics",
    "inspector2:ListFindings",
    "inspector2:ListUsageTotals",
}


def check(ok, message):
    if not ok:
        problems.append(message)


def load_sam():
    template, matches = decode(os.path.join(ROOT, "infra", "sam", "template.yaml"))
    if matches:
        sys.exit("template.yaml does not parse: %s" % matches)
    return template


def load_tf():
    merged = {}
    for path in sorted(glob.glob(os.path.join(TF, "*.tf"))):
        with open(path) as f:
            parsed = hcl2.load(f)
        for key, blocks in parsed.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def unquote(v):
    """python-hcl2 keeps the quotes of string literals: strip them."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    if isinstance(v, list):
        return [unquote(x) for x in v]
    if isinstance(v, dict):
        return {unquote(k): unquote(x) for k, x in v.items()}
    return v


def tf_blocks(tf, kind, type_):
    out = {}
    for block in tf.get(kind, []):
        for t, named in block.items():
            if unquote(t) == type_:
                for name, body in named.items():
                    out[unquote(name)] = unquote(body)
    return out


def tf_locals(tf):
    out = {}
    for block in tf.get("locals", []):
        out.update(unquote(block))
    return out


def code_operations():
    ops = set()
    for path in glob.glob(os.path.join(ROOT, "shared", "src", "adapters", "*.rs")):
        with open(path) as f:
            ops |= set(re.findall(r'"((?:ecr|dynamodb|sns|sqs|inspector2):[A-Za-z]+)"', f.read()))
    return ops


def config_variables():
    with open(os.path.join(ROOT, "shared", "src", "bootstrap", "config.rs")) as f:
        return set(re.findall(r'pub const [A-Z_]+: &str = "(GATEKEEPER_[A-Z_]+)"', f.read()))


def workspace_functions():
    return {os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "functions", "*", "Cargo.toml"))}


def actions_of(statements):
    out = set()
    for s in statements:
        a = s.get("Action") or s.get("actions") or []
        out |= set([a] if isinstance(a, str) else a)
    return out


def tf_role_actions(tf):
    """Function key => the actions its Terraform role policy grants. The policy is one
    aws_iam_policy_document "function" per function, whose dynamic statements are those named for
    the function in local.role_statements (each an entry of local.statements), plus any statement
    written out in the block, which every function would hold."""
    doc = tf_blocks(tf, "data", "aws_iam_policy_document").get("function")
    if doc is None:
        check(False, 'Terraform has no data "aws_iam_policy_document" "function" (the functions\' role policies)')
        return {}
    check(doc.get("for_each") == "${local.functions}", "Terraform role policies are not one per local.functions")
    written = actions_of(doc.get("statement", []))
    dynamic = [d["statement"] for d in doc.get("dynamic", []) if "statement" in d]
    if len(dynamic) != 1:
        check(False, "Terraform role policies have %d dynamic statement blocks, check.py reads exactly one" % len(dynamic))
        return {}
    source = dynamic[0].get("for_each", "")
    check("local.role_statements[each.key]" in source and "local.statements[" in source, "Terraform role policy statements come from %s, not local.role_statements and local.statements" % source)
    actions = dynamic[0].get("content", [{}])[0].get("actions")
    check(actions == "${statement.value.actions}", "Terraform role policy statements' actions are %s, not statement.value.actions" % actions)

    statements = {}
    for name, statement in tf_locals(tf).get("statements", {}).items():
        granted = statement.get("actions") if isinstance(statement, dict) else None
        literal = isinstance(granted, list) and all("${" not in a for a in granted)
        check(literal, "local.statements.%s: actions %s are not a list of literal actions (check.py cannot read them)" % (name, granted))
        statements[name] = set(granted) if literal else set()
        unscoped = "*" in statement.get("resources", []) if isinstance(statement, dict) else False
        check(not unscoped or statements[name] <= UNSCOPED, "local.statements.%s grants %s on \"*\" (scope them to their resources)" % (name, sorted(statements[name] - UNSCOPED)))
    out = {}
    for function, names in tf_locals(tf).get("role_statements", {}).items():
        out[function] = set(written)
        for name in names:
            check(name in statements, "local.role_statements.%s names %s, which local.statements does not have" % (function, name))
            out[function] |= statements.get(name, set())
    return out


def main():
    with open(os.path.join(ROOT, "infra", "permissions.json")) as f:
        permissions = json.load(f)
    sam = load_sam()
    tf = load_tf()
    resources = sam["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    binary_of = {v["Metadata"]["BuildProperties"]["Binary"]: k for k, v in functions.items()}
    tf_functions = {v["binary"]: k for k, v in tf_locals(tf)["functions"].items()}

    # Functions.
    expected = workspace_functions()
    check(set(binary_of) == expected, "SAM functions %s != workspace functions %s" % (sorted(binary_of), sorted(expected)))
    check(set(tf_functions) == expected, "Terraform functions %s != workspace functions %s" % (sorted(tf_functions), sorted(expected)))
    check(set(permissions["functions"]) == expected, "permissions.json functions != workspace functions %s" % sorted(expected))

    # Environment variables.
    read = config_variables()
    sam_env = set(sam["Globals"]["Function"]["Environment"]["Variables"])
    tf_env = set(tf_locals(tf)["environment"])
    check(sam_env == read, "SAM environment %s != variables the code reads %s" % (sorted(sam_env ^ read), sorted(read)))
    check(tf_env == read, "Terraform environment %s != variables the code reads %s" % (sorted(tf_env ^ read), sorted(read)))

    # Event patterns: SAM inlines them, Terraform reads the files.
    files = {os.path.splitext(os.path.basename(p))[0]: json.load(open(p)) for p in glob.glob(os.path.join(PATTERNS, "*.json"))}
    sam_patterns = {}
    for name, fn in functions.items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "EventBridgeRule":
                sam_patterns.setdefault(fn["Metadata"]["BuildProperties"]["Binary"], []).append(event["Properties"]["Pattern"])
    tf_rules = tf_locals(tf)["rules"]
    check(set(tf_rules) == set(files), "Terraform rules %s != pattern files %s" % (sorted(tf_rules), sorted(files)))
    for rule, pattern in files.items():
        target = tf_locals(tf)["functions"][tf_rules[rule]]["binary"] if rule in tf_rules else None
        check(pattern in sam_patterns.get(target, []), "pattern %s.json is not the SAM pattern of %s" % (rule, target))
    check(sum(len(v) for v in sam_patterns.values()) == len(files), "SAM declares %d rules, there are %d pattern files" % (sum(len(v) for v in sam_patterns.values()), len(files)))

    # IAM: exactly the actions each function calls, plus KMS for the encrypted topics and queues, and
    # sqs:SendMessage for the on-failure destination.
    runtime = set(permissions["every_function"])
    tf_docs = tf_blocks(tf, "data", "aws_iam_policy_document")
    tf_roles = tf_role_actions(tf)
    for binary, logical in binary_of.items():
        want = set(permissions["functions"][binary]) | runtime
        policies = functions[logical]["Properties"]["Policies"]
        sam_actions = actions_of(policies[0]["Statement"])
        check(sam_actions == want, "SAM %s grants %s, permissions.json says %s" % (binary, sorted(sam_actions ^ want), sorted(want)))
        conditional = set()
        for p in policies[1:]:
            doc = p["Fn::If"][1]
            conditional |= actions_of(doc["Statement"])
        check(conditional == set(permissions["policy_source"]), "SAM %s policy-source actions %s" % (binary, sorted(conditional)))
        key = tf_functions[binary]
        tf_actions = tf_roles.get(key, set())
        check(tf_actions == want, "Terraform %s grants %s, permissions.json says %s" % (binary, sorted(tf_actions ^ want), sorted(want)))
    tf_source = tf_docs["policy_source"]["statement"][0]["actions"]
    check(all(a in str(tf_source) for a in permissions["policy_source"]), "Terraform policy-source actions %s" % tf_source)

    # The module README documents every input and output.
    with open(os.path.join(TF, "README.md")) as f:
        readme = f.read()
    for kind in ("variable", "output"):
        for block in tf.get(kind, []):
            for name in block:
                check("| `%s` |" % unquote(name) in readme, "infra/terraform/README.md does not document %s %s" % (kind, unquote(name)))

    # permissions.json against the code: every operation an adapter calls is granted to some function
    # or to the CLI, and nothing is granted that no adapter calls.
    ops = code_operations()
    granted = set().union(*permissions["functions"].values())
    cli = set(permissions["cli"])
    check(ops <= granted | cli, "operations the adapters call but nobody is granted: %s" % sorted(ops - granted - cli))
    check(granted <= ops, "granted but called by no adapter: %s" % sorted(granted - ops))

    for p in problems:
        print("infra/check.py: " + p)
    if problems:
        return 1
    print("infra/check.py: SAM and Terraform agree: %d functions, %d environment variables, %d event patterns, IAM per permissions.json (%d operations in the adapters)" % (len(binary_of), len(read), len(files), len(ops)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
