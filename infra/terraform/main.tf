# ecr-gatekeeper: the same resources as infra/sam/template.yaml (infra/check.py compares them).

data "aws_caller_identity" "this" {}
data "aws_region" "this" {}
data "aws_partition" "this" {}

locals {
  account   = data.aws_caller_identity.this.account_id
  region    = data.aws_region.this.name
  partition = data.aws_partition.this.partition

  functions = {
    on_push     = { binary = "on-push", timeout = 60, zip = var.zips.on_push, description = "ECR Image Action (push, delete, restore)" }
    on_scan     = { binary = "on-scan", timeout = 120, zip = var.zips.on_scan, description = "ECR Image Scan, Inspector2 Scan, Finding and Coverage" }
    sweep       = { binary = "sweep", timeout = 600, zip = var.zips.sweep, description = "Scheduled re-evaluation (deadlines, exception ends, lost events) and reminders" }
    cost_report = { binary = "cost-report", timeout = 600, zip = var.zips.cost_report, description = "Weekly digest of what Inspector's ECR scanning costs and what to change, and the weekly report (changes no image)" }
  }

  environment = {
    GATEKEEPER_MODE               = var.mode
    GATEKEEPER_ACCOUNT_ID         = local.account
    GATEKEEPER_TOPIC_ARN          = aws_sns_topic.verdicts.arn
    GATEKEEPER_CHAT_TOPIC_ARN     = aws_sns_topic.chat.arn
    GATEKEEPER_STATE_TABLE        = aws_dynamodb_table.state.name
    GATEKEEPER_REJECTED_QUEUE_URL = aws_sqs_queue.this["rejected"].url
    GATEKEEPER_POLICY             = var.policy_location
    GATEKEEPER_QUARANTINE_PREFIX  = var.quarantine_prefix
    GATEKEEPER_HELD_PREFIX        = var.held_prefix
    GATEKEEPER_VERIFIED_PREFIX    = var.verified_prefix
    GATEKEEPER_CLAIM_LEASE        = "5m"
    GATEKEEPER_SWEEP_INTERVAL     = var.sweep_interval
    GATEKEEPER_HELD_TIMEOUT       = var.held_timeout
    GATEKEEPER_HISTORY_RETENTION  = var.history_retention
    GATEKEEPER_PRICE_INITIAL_SCAN = tostring(var.price_initial_scan)
    GATEKEEPER_PRICE_RESCAN       = tostring(var.price_rescan)
    GATEKEEPER_COST_DAYS          = tostring(var.cost_report_days)
    GATEKEEPER_PUTIMAGE_TPS       = tostring(var.put_image_tps)
    GATEKEEPER_INSPECTOR_TPS      = tostring(var.inspector_tps)
    GATEKEEPER_MEMBER_ROLE        = var.member_role_name
    GATEKEEPER_GOVERNED_ACCOUNTS  = join(",", var.governed_accounts)
    GATEKEEPER_OU_PATH            = var.ou_path
    GATEKEEPER_REPORT_BUCKET      = aws_s3_bucket.reports.id
    GATEKEEPER_REPORT_SLA         = var.report_sla
  }

  repositories  = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${var.repository_pattern}"
  policy_object = var.policy_source == "s3" ? "arn:${local.partition}:s3:::${trimprefix(var.policy_location, "s3://")}" : ""
  policy_param  = var.policy_source == "ssm" ? "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter${trimprefix(var.policy_location, "ssm:")}" : ""
  has_slack     = var.slack_workspace_id != "" && var.slack_channel_id != ""
}

# Protected from destroy with the state table and the report bucket it encrypts: they must not be
# left unreadable once the key's deletion window ends.
resource "aws_kms_key" "this" {
  description         = "ecr-gatekeeper topics, queues, state table, logs and report bucket"
  enable_key_rotation = true
  tags                = var.tags
  lifecycle {
    prevent_destroy = true
  }
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "ServicesDeliverEncryptedMessages"
        Effect    = "Allow"
        Principal = { Service = ["sns.amazonaws.com", "events.amazonaws.com", "scheduler.amazonaws.com", "cloudwatch.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
      },
      {
        Sid       = "LogsEncryptTheLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = { ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}-*" } }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_dynamodb_table" "state" {
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  tags         = var.tags

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "due_shard"
    type = "S"
  }
  attribute {
    name = "due_at"
    type = "N"
  }
  attribute {
    name = "history_day"
    type = "S"
  }
  attribute {
    name = "history_at"
    type = "N"
  }
  # due: the sweep's schedule. history: the verdict history by day, which `gatekeeper report` reads
  # (its records expire after history_retention, through expires_at).
  global_secondary_index {
    name            = "due"
    hash_key        = "due_shard"
    range_key       = "due_at"
    projection_type = "KEYS_ONLY"
  }
  global_secondary_index {
    name               = "history"
    hash_key           = "history_day"
    range_key          = "history_at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["change"]
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_sns_topic" "verdicts" {
  name              = "${var.name}-verdicts"
  display_name      = "ecr-gatekeeper verdicts"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}

resource "aws_sns_topic" "chat" {
  name              = "${var.name}-chat"
  display_name      = "ecr-gatekeeper for AWS Chatbot"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  display_name      = "ecr-gatekeeper alarms"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  # Queue name suffix => what lands in it (also the description of its alarm, alarms.tf): the
  # queues where something waits for a person, kept 14 days. The intake queues (intake.tf) are not
  # here: messages in them are work, not trouble, until they wait too long (alarms.tf, intake_age).
  queues = {
    rejected           = "Events the gatekeeper could not use (malformed or unexpected shapes)"
    failures           = "Invocations that failed after Lambda's retries (events not acted on)"
    events-dlq         = "Events EventBridge or the scheduler could not deliver (to an intake queue or a scheduled function)"
    on-push-intake-dlq = "on-push intake records received 5 times without success (not acted on; redrive them once the cause is fixed)"
    on-scan-intake-dlq = "on-scan intake records received 5 times without success (not acted on; redrive them once the cause is fixed)"
  }
}

resource "aws_sqs_queue" "this" {
  for_each                  = local.queues
  name                      = "${var.name}-${each.key}"
  message_retention_seconds = 1209600
  kms_master_key_id         = aws_kms_key.this.id
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = aws_sqs_queue.this["events-dlq"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "RulesAndSchedulesOfThisAccount"
      Effect    = "Allow"
      Principal = { Service = ["events.amazonaws.com", "scheduler.amazonaws.com"] }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.this["events-dlq"].arn
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
}
