# Organization mode (var.organization_id set): this deployment, in the organization's security
# account (Inspector's delegated administrator), governs the member accounts. Inspector delivers
# their findings to this account's default bus already; ECR sends its Image Action and Image Scan
# events only to the owning account's bus, so each member (modules/member, or the SAM member.yaml
# as a StackSet: examples/organization) forwards them to the members bus here. The functions assume
# var.member_role_name in the member account an image belongs to (cost-report: its -read role).
# Without var.organization_id none of this exists and the roles keep their names.

locals {
  organization = var.organization_id != ""
  members_bus  = "ecr-gatekeeper-members"
  # Function => the role it assumes in each member account.
  member_roles = {
    on_push     = var.member_role_name
    on_scan     = var.member_role_name
    sweep       = var.member_role_name
    cost_report = "${var.member_role_name}-read"
  }
  # Function => what its role also reads in this account (the delegated administrator's), in
  # organization mode only (infra/permissions.json, organization.reads): sweep and cost-report list
  # the members Inspector scans when governed_accounts names no member. ListMembers has no
  # resource-level permissions (Service Authorization Reference: no resource type), so "*".
  organization_reads = {
    sweep       = ["inspector2:ListMembers"]
    cost_report = ["inspector2:ListMembers"]
  }
  # Rule of the members bus => the function whose intake queue it feeds: the default bus rules of
  # ECR's own events, with the same pattern files (Inspector's findings reach the default bus).
  member_rules = {
    "on-push"       = "on_push"
    "on-scan-basic" = "on_scan"
  }
}

resource "aws_cloudwatch_event_bus" "members" {
  count = local.organization ? 1 : 0
  name  = local.members_bus
  tags  = var.tags
}

resource "aws_cloudwatch_event_bus_policy" "members" {
  count          = local.organization ? 1 : 0
  event_bus_name = aws_cloudwatch_event_bus.members[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "MembersOfTheOrganizationForward"
      Effect    = "Allow"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = aws_cloudwatch_event_bus.members[0].arn
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "members" {
  for_each       = local.organization ? local.member_rules : {}
  name           = "${var.name}-members-${each.key}"
  event_bus_name = aws_cloudwatch_event_bus.members[0].name
  event_pattern  = file("${path.module}/patterns/${each.key}.json")
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "members" {
  for_each       = aws_cloudwatch_event_rule.members
  rule           = each.value.name
  event_bus_name = each.value.event_bus_name
  arn            = aws_sqs_queue.intake[local.member_rules[each.key]].arn
  retry_policy {
    maximum_retry_attempts       = 10
    maximum_event_age_in_seconds = 21600
  }
  dead_letter_config {
    arn = aws_sqs_queue.this["events-dlq"].arn
  }
}

# Never delete an image: the gatekeeper deletes tags only (BatchDeleteImage with imageTag). A
# member role's BatchDeleteImage with an imageDigest deletes the image itself, whatever the code
# meant: the members forward these CloudTrail events (a trail must be logging in the member
# account) and this rule sends them to the alarm topic.
resource "aws_cloudwatch_event_rule" "delete_by_digest" {
  count          = local.organization ? 1 : 0
  name           = "${var.name}-members-delete-by-digest"
  description    = "A member role's BatchDeleteImage by digest (an image deleted, not a tag) to the alarm topic"
  event_bus_name = aws_cloudwatch_event_bus.members[0].name
  event_pattern  = templatefile("${path.module}/patterns/delete-by-digest.json.tftpl", { member_role_name = var.member_role_name })
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "delete_by_digest" {
  count          = local.organization ? 1 : 0
  rule           = aws_cloudwatch_event_rule.delete_by_digest[0].name
  event_bus_name = aws_cloudwatch_event_rule.delete_by_digest[0].event_bus_name
  arn            = aws_sns_topic.alarms.arn
  retry_policy {
    maximum_retry_attempts       = 10
    maximum_event_age_in_seconds = 21600
  }
  dead_letter_config {
    arn = aws_sqs_queue.this["events-dlq"].arn
  }
}

# The alarm topic's policy in organization mode: what the default policy lets the account do,
# CloudWatch's alarms, and the delete-by-digest rule.
resource "aws_sns_topic_policy" "alarms" {
  count = local.organization ? 1 : 0
  arn   = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:AddPermission", "sns:RemovePermission", "sns:DeleteTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish"]
        Resource  = aws_sns_topic.alarms.arn
      },
      {
        Sid       = "AlarmsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarms.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
      },
      {
        Sid       = "DeleteByDigestRule"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarms.arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.delete_by_digest[0].arn } }
      },
    ]
  })
}

# The functions' roles are named ecr-gatekeeper-<function>-<region> in organization mode (lambda.tf),
# so that the member roles can trust them; this policy lets each assume its member role, in accounts
# of the organization only, and each function of local.organization_reads (sweep, cost_report) its reads, in a
# statement of their own (infra/permissions.json, organization).
data "aws_iam_policy_document" "organization" {
  for_each = local.organization ? local.functions : {}
  statement {
    sid       = "AssumeMemberRole"
    actions   = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    resources = ["arn:${local.partition}:iam::*:role/${local.member_roles[each.key]}"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceOrgID"
      values   = [var.organization_id]
    }
  }
  dynamic "statement" {
    for_each = contains(keys(local.organization_reads), each.key) ? [local.organization_reads[each.key]] : []
    content {
      sid       = "OrganizationMembers"
      actions   = statement.value
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "organization" {
  for_each = data.aws_iam_policy_document.organization
  name     = "organization"
  role     = aws_iam_role.function[each.key].id
  policy   = each.value.json
}
