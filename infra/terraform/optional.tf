# Optional parts: Slack through AWS Chatbot, the registry scanning configuration, and a lifecycle
# rule that archives quarantined images.

resource "aws_iam_role" "chatbot" {
  count       = local.has_slack ? 1 : 0
  name        = "${var.name}-chatbot"
  description = "AWS Chatbot channel role for the gatekeeper's Slack channel (no permissions of its own)"
  tags        = var.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "chatbot.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_chatbot_slack_channel_configuration" "this" {
  count                 = local.has_slack ? 1 : 0
  configuration_name    = "${var.name}-slack"
  iam_role_arn          = aws_iam_role.chatbot[0].arn
  slack_team_id         = var.slack_workspace_id
  slack_channel_id      = var.slack_channel_id
  sns_topic_arns        = [aws_sns_topic.chat.arn]
  guardrail_policy_arns = ["arn:${local.partition}:iam::aws:policy/AWSDenyAll"]
  logging_level         = "ERROR"
  tags                  = var.tags
}

# One per account and region. Destroying it would turn scanning off for the whole registry, so it is
# protected; to stop managing it, `terraform state rm` it. Never add aws_inspector2_enabler next to
# it: with both, every apply flips Inspector and ECR against each other.
resource "aws_ecr_registry_scanning_configuration" "this" {
  count     = var.manage_registry_scanning ? 1 : 0
  scan_type = var.registry_scan_type
  rule {
    scan_frequency = var.registry_scan_frequency
    repository_filter {
      filter      = var.registry_scan_filter
      filter_type = "WILDCARD"
    }
  }
  lifecycle {
    prevent_destroy = true
  }
}

# Archives (never expires) quarantined images: pulls of an archived image fail, Inspector stops
# scanning it, and archive storage is billed for at least 90 days.
resource "aws_ecr_lifecycle_policy" "archive_quarantined" {
  for_each   = toset(var.archive_quarantined_repositories)
  repository = each.value
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Archive images quarantined by ecr-gatekeeper"
      selection = {
        tagStatus      = "tagged"
        tagPatternList = ["${var.quarantine_prefix}*"]
        countType      = "sinceImagePushed"
        countUnit      = "days"
        countNumber    = var.archive_after_days
      }
      action = {
        type               = "transition"
        targetStorageClass = "archive"
      }
    }]
  })
}
