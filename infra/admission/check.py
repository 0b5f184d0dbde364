#!/usr/bin/env python3
"""Evaluates the admission policies of infra/admission on sample admission requests, with a CEL
implementation from PyPI (cel-python: core CEL, none of Kubernetes' extension libraries, so an
expression that needs one fails here): the ValidatingAdmissionPolicy and the Kyverno ClusterPolicy
must hold the same variables and expressions, and decide every sample as expected. No cluster and no
Kyverno binary are needed. Exits 1 on any difference.

    .tools/cel/bin/python infra/admission/check.py
"""

import os
import sys

import celpy
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "5b" * 32

# (case, containers, init containers, ephemeral containers, admitted)
CASES = [
    ("a verified tag", [f"{REGISTRY}/team/api:verified-v1"], None, None, True),
    ("a digest", [f"{REGISTRY}/team/api@{DIGEST}"], None, None, True),
    ("a tag and a digest pull by digest", [f"{REGISTRY}/team/api:v1@{DIGEST}"], None, None, True),
    ("a moving tag", [f"{REGISTRY}/team/api:v1"], None, None, False),
    ("no tag (latest)", [f"{REGISTRY}/team/api"], None, None, False),
    ("the quarantine tag", [f"{REGISTRY}/team/api:quarantined-v1--5b5a96370efd"], None, None, False),
    ("verified- in the path, not the tag", [f"{REGISTRY}/verified-team/api:v1"], None, None, False),
    ("the prefix is case-sensitive", [f"{REGISTRY}/team/api:Verified-v1"], None, None, False),
    ("a digest that is not one", [f"{REGISTRY}/team/api@sha256:abc"], None, None, False),
    ("a China-region registry", ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v1"], None, None, False),
    ("a FIPS endpoint", ["123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app:v1"], None, None, False),
    ("a dual-stack endpoint", ["123456789012.dkr-ecr.eu-west-1.on.aws/app:v1"], None, None, False),
    ("an explicit port", ["123456789012.dkr.ecr.eu-west-1.amazonaws.com:443/app:v1"], None, None, False),
    ("an upper-case host", ["123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM/app:v1"], None, None, False),
    ("a dual-stack endpoint, verified", ["123456789012.dkr-ecr.eu-west-1.on.aws/app:verified-v1"], None, None, True),
    ("Docker Hub is not governed", ["docker.io/library/nginx:1.27"], None, None, True),
    ("ECR Public is not governed", ["public.ecr.aws/nginx/nginx:1.27"], None, None, True),
    ("a look-alike host is not governed", ["123456789012.dkr.ecr.eu-west-1.amazonaws.com.example.org/app:v1"], None, None, True),
    ("an init container by tag", [f"{REGISTRY}/team/api:verified-v1"], [f"{REGISTRY}/team/migrate:v3"], None, False),
    ("an init container verified", [f"{REGISTRY}/team/api@{DIGEST}"], [f"{REGISTRY}/team/migrate:verified-v3"], None, True),
    ("an ephemeral debug container by tag", [f"{REGISTRY}/team/api:verified-v1"], None, [f"{REGISTRY}/tools/debug:latest"], False),
    ("one bad container of several", [f"{REGISTRY}/a:verified-1", "docker.io/x:1", f"{REGISTRY}/b:2"], None, None, False),
]


def pod(containers, init, ephemeral):
    spec = {"containers": [{"name": "c%d" % i, "image": image} for i, image in enumerate(containers)]}
    if init is not None:
        spec["initContainers"] = [{"name": "i%d" % i, "image": image} for i, image in enumerate(init)]
    if ephemeral is not None:
        spec["ephemeralContainers"] = [{"name": "e%d" % i, "image": image} for i, image in enumerate(ephemeral)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def vap_rule():
    policy = next(d for d in load("validating-admission-policy.yaml") if d["kind"] == "ValidatingAdmissionPolicy")
    return policy["spec"]["variables"], policy["spec"]["validations"]


def kyverno_rule():
    policy = next(d for d in load("kyverno-cluster-policy.yaml") if d["kind"] == "ClusterPolicy")
    (rule,) = policy["spec"]["rules"]
    cel = rule["validate"]["cel"]
    return cel["variables"], cel["expressions"]


def decide(env, variables, validations, request_object):
    """(admitted, messages) of one policy on one object, as the API server evaluates it: variables
    in order, each seeing those before it, then every validation."""
    values = {}
    for v in variables:
        activation = celpy.json_to_cel({"object": request_object, "variables": values})
        values[v["name"]] = env.program(env.compile(v["expression"])).evaluate(activation)
    activation = {"object": celpy.json_to_cel(request_object), "variables": celpy.celtypes.MapType(
        {celpy.celtypes.StringType(k): v for k, v in values.items()})}
    admitted, messages = True, []
    for check in validations:
        ok = env.program(env.compile(check["expression"])).evaluate(activation)
        if not isinstance(ok, celpy.celtypes.BoolType):
            raise TypeError("%r is not a bool: %r" % (check["expression"], ok))
        if not ok:
            admitted = False
            messages.append(str(env.program(env.compile(check["messageExpression"])).evaluate(activation)))
    return admitted, messages


def main():
    problems = []
    vap, kyverno = vap_rule(), kyverno_rule()
    strip = lambda items: [{k: " ".join(str(v).split()) for k, v in i.items()} for i in items]
    if strip(vap[0]) != strip(kyverno[0]) or strip(vap[1]) != strip(kyverno[1]):
        problems.append("the Kyverno policy's variables or expressions differ from the ValidatingAdmissionPolicy's")
    env = celpy.Environment()
    for case, containers, init, ephemeral, expected in CASES:
        obj = pod(containers, init, ephemeral)
        for name, (variables, validations) in (("ValidatingAdmissionPolicy", vap), ("Kyverno", kyverno)):
            try:
                admitted, messages = decide(env, variables, validations, obj)
            except Exception as e:  # noqa: BLE001 - any CEL error is a problem to report
                problems.append("%s, %s: %s: %s" % (name, case, type(e).__name__, e))
                continue
            if admitted != expected:
                problems.append("%s, %s: %s, expected %s" % (name, case, "admitted" if admitted else "denied",
                                                             "admitted" if expected else "denied"))
            if not admitted and not all("verified-" in m for m in messages):
                problems.append("%s, %s: the message does not say what is allowed: %r" % (name, case, messages))
    for p in problems:
        print("infra/admission/check.py: " + p)
    if problems:
        return 1
    print("infra/admission/check.py: the ValidatingAdmissionPolicy and the Kyverno policy agree, in core CEL, on %d sample pods" % len(CASES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
