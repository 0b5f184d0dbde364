# ecr-gatekeeper member account: the same resources as infra/sam/member.yaml (infra/check.py
# compares them). Forwards this account's ECR events to the central gatekeeper's members bus,
# holds the roles the central functions assume here, and writes this account's OU path (ou_path) to
# the SSM parameter /ecr-gatekeeper/ou-path.

data "aws_caller_identity" "this" {}
data "aws_region" "this" {}
data "aws_partition" "this" {}

locals {
  account   = data.aws_caller_identity.this.account_id
  region    = data.aws_region.this.name
  partition = data.aws_partition.this.partition

  central_bus  = "arn:${local.partition}:events:${local.region}:${var.central_account_id}:event-bus/ecr-gatekeeper-members"
  central_root = "arn:${local.partition}:iam::${var.central_account_id}:root"
  # IAM names are global: the roles exist once per account, in roles_region's module.
  this_region_only = var.roles_region == ""
  creates_roles    = local.this_region_only || var.roles_region == local.region
  repositories     = "arn:${local.partition}:ecr:${local.this_region_only ? local.region : "*"}:${local.account}:repository/${var.repository_pattern}"
  all_repositories = "arn:${local.partition}:ecr:${local.this_region_only ? local.region : "*"}:${local.account}:repository/*"
  ou_path          = "arn:${local.partition}:ssm:${local.this_region_only ? local.region : "*"}:${local.account}:parameter/ecr-gatekeeper/ou-path"

  # Forwarding rule => its pattern: the central rules' files (infra/check.py compares them).
  forwards = {
    "on-push"          = file("${path.module}/../../patterns/on-push.json")
    "on-scan-basic"    = file("${path.module}/../../patterns/on-scan-basic.json")
    "delete-by-digest" = templatefile("${path.module}/../../patterns/delete-by-digest.json.tftpl", { member_role_name = var.member_role_name })
  }

  # The member role's statements: exactly the ECR actions of the central on-push, on-scan and sweep
  # (infra/permissions.json, member.acting); in audit, no PutImage, no BatchDeleteImage and no
  # UpdateImageStorageClass (retag). And the read of the OU path parameter (member.ou_path), in every
  # mode, even without one (the gatekeeper then learns there is none, not that it was refused).
  acting_statements = {
    repositories = { sid = "Repositories", actions = ["ecr:BatchGetImage", "ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImageScanFindings", "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:StartImageScan"], resources = [local.repositories] }
    retag        = { sid = "Retag", actions = ["ecr:BatchDeleteImage", "ecr:PutImage", "ecr:UpdateImageStorageClass"], resources = [local.repositories] }
    registry     = { sid = "Registry", actions = ["ecr:DescribePullThroughCacheRules", "ecr:DescribeRegistry", "ecr:GetRegistryScanningConfiguration"], resources = ["*"] }
    ou_path      = { sid = "OuPath", actions = ["ssm:GetParameter"], resources = [local.ou_path] }
  }
  acting = var.mode == "enforce" ? ["repositories", "retag", "registry", "ou_path"] : ["repositories", "registry", "ou_path"]
  # The -read role's: cost-report's ECR reads (member.read).
  read_statements = {
    repositories = { sid = "Repositories", actions = ["ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImages", "ecr:DescribeRepositories"], resources = [local.all_repositories] }
    registry     = { sid = "Registry", actions = ["ecr:GetRegistryScanningConfiguration"], resources = ["*"] }
  }
  # Central role name prefix => the member role it may assume.
  acting_principals = [for f in ["on-push", "on-scan", "sweep"] : "arn:${local.partition}:iam::${var.central_account_id}:role/ecr-gatekeeper-${f}-*"]
  read_principals   = ["arn:${local.partition}:iam::${var.central_account_id}:role/ecr-gatekeeper-cost-report-*"]
  # With trust_operators, the acting role also trusts the central account's ecr-gatekeeper-operator-*
  # roles, under the same conditions: `gatekeeper reconcile` and `release --account` run from the
  # security account act in the members through it (permissions.json, organization.operators). The
  # user creates the operator role in the security account (this module creates none); it needs what
  # the CLI does: sts:AssumeRole and sts:SetSourceIdentity on the acting role, and the central
  # deployment's table, topic and policy. Not the read role (cost-report only).
  operator_principals = var.trust_operators ? ["arn:${local.partition}:iam::${var.central_account_id}:role/ecr-gatekeeper-operator-*"] : []

  # Member role => its name, what it is for, the central roles it trusts, its trust statements'
  # sids and its policy's statements.
  roles = {
    acting = { name = var.member_role_name, principals = concat(local.acting_principals, local.operator_principals), sid = "CentralFunctions", session_sid = "CentralFunctionsNameTheirSessions", statements = [for name in local.acting : local.acting_statements[name]], description = "The central ecr-gatekeeper's on-push, on-scan and sweep (and its operators' CLI, where trusted) act on this account's repositories" }
    read   = { name = "${var.member_role_name}-read", principals = local.read_principals, sid = "CentralCostReport", session_sid = "CentralCostReportNamesItsSessions", statements = values(local.read_statements), description = "The central ecr-gatekeeper's cost-report reads this account's repositories and scanning configuration" }
  }
}

# Forwarding: the central gatekeeper sees this account's ECR events only through its members bus.
data "aws_iam_policy_document" "forward" {
  statement {
    sid       = "MembersBus"
    actions   = ["events:PutEvents"]
    resources = [local.central_bus]
  }
}

resource "aws_iam_role" "forward" {
  name_prefix = "ecr-gatekeeper-forward-"
  description = "EventBridge forwards this account's ECR events to the central gatekeeper's members bus"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sts:AssumeRole", Condition = { StringEquals = { "aws:SourceAccount" = local.account } } }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "forward" {
  name   = "forward"
  role   = aws_iam_role.forward.id
  policy = data.aws_iam_policy_document.forward.json
}

# What EventBridge could not forward within a day (the central bus missing or refusing): kept 14
# days for a redrive once fixed.
resource "aws_sqs_queue" "forward_dlq" {
  # checkov:skip=CKV_AWS_27:Encrypted at rest with SSE-SQS; EventBridge cannot use the AWS-managed aws/sqs key, and a customer key in every member account would cost more than the metadata of ECR events it would protect.
  name_prefix               = "ecr-gatekeeper-forward-dlq-"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "forward_dlq" {
  queue_url = aws_sqs_queue.forward_dlq.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "ForwardingRules", Effect = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sqs:SendMessage", Resource = aws_sqs_queue.forward_dlq.arn, Condition = { ArnEquals = { "aws:SourceArn" = [for r in aws_cloudwatch_event_rule.forward : r.arn] } } }]
  })
}

resource "aws_cloudwatch_event_rule" "forward" {
  for_each      = local.forwards
  name_prefix   = "ecr-gatekeeper-${each.key}-"
  description   = "${each.key} events to the central gatekeeper's members bus"
  event_pattern = each.value
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each = aws_cloudwatch_event_rule.forward
  rule     = each.value.name
  arn      = local.central_bus
  role_arn = aws_iam_role.forward.arn
  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
  dead_letter_config {
    arn = aws_sqs_queue.forward_dlq.arn
  }
}

# The roles the central functions assume here: acting, for on-push, on-scan and sweep
# (ecr-gatekeeper-<function>-<region> of the central account) and, with trust_operators, the
# operators' CLI (ecr-gatekeeper-operator-*), and read, for cost-report; each trusts those principals
# of the organization only, with a session named for the gatekeeper (SourceIdentity ecr-gatekeeper).
data "aws_iam_policy_document" "assume_role" {
  for_each = local.roles
  dynamic "statement" {
    for_each = [
      { sid = each.value.sid, action = "sts:AssumeRole", source_identities = [] },
      { sid = each.value.session_sid, action = "sts:SetSourceIdentity", source_identities = ["ecr-gatekeeper"] },
    ]
    content {
      sid     = statement.value.sid
      actions = [statement.value.action]
      principals {
        type        = "AWS"
        identifiers = [local.central_root]
      }
      dynamic "condition" {
        for_each = concat(
          [["StringEquals", "aws:PrincipalOrgID", [var.organization_id]]],
          [for identity in statement.value.source_identities : ["StringEquals", "sts:SourceIdentity", [identity]]],
          [["ArnLike", "aws:PrincipalArn", each.value.principals]],
        )
        content {
          test     = condition.value[0]
          variable = condition.value[1]
          values   = condition.value[2]
        }
      }
    }
  }
}

data "aws_iam_policy_document" "role" {
  for_each = local.roles
  dynamic "statement" {
    for_each = each.value.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role" "member" {
  for_each           = local.creates_roles ? local.roles : {}
  name               = each.value.name
  description        = each.value.description
  assume_role_policy = data.aws_iam_policy_document.assume_role[each.key].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "member" {
  for_each = aws_iam_role.member
  name     = "gatekeeper"
  role     = each.value.id
  policy   = data.aws_iam_policy_document.role[each.key].json
}

# This account's OU path, which policy rules scoped by OU (ous) match: in every region's module (a
# parameter is regional, and the gatekeeper reads it with the acting role in the image's region).
resource "aws_ssm_parameter" "ou_path" {
  # checkov:skip=CKV2_AWS_34:Not a secret: the account's place in the organization (ids of its root and OUs, no credential). A String, so that the acting role reads it with ssm:GetParameter alone; a SecureString would add a key and kms:Decrypt to protect nothing.
  count       = var.ou_path != "" ? 1 : 0
  name        = "/ecr-gatekeeper/ou-path"
  description = "This account's OU path, read by the central ecr-gatekeeper (policy rules scoped by OU)"
  type        = "String"
  value       = var.ou_path
  tags        = var.tags
}
