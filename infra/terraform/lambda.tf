# The four functions, their roles (only the actions each one calls: infra/permissions.json), their
# log groups, and what invokes them: the rules feed on-push's and on-scan's intake queues
# (intake.tf), the scheduler invokes sweep and cost-report.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

locals {
  # Every statement of the functions' role policies, written once; each function's policy holds the
  # ones named for it in role_statements: exactly the actions it calls (infra/permissions.json,
  # compared by infra/check.py). The sid is what the policy shows.
  statements = {
    tag_pushed          = { sid = "Repositories", actions = ["ecr:BatchDeleteImage", "ecr:BatchGetImage", "ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImages", "ecr:GetLifecyclePolicy", "ecr:PutImage", "ecr:StartImageScan", "ecr:UpdateImageStorageClass"], resources = [local.repositories] }
    tag_scanned         = { sid = "Repositories", actions = ["ecr:BatchDeleteImage", "ecr:BatchGetImage", "ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImageScanFindings", "ecr:DescribeImages", "ecr:GetLifecyclePolicy", "ecr:PutImage", "ecr:StartImageScan", "ecr:UpdateImageStorageClass"], resources = [local.repositories] }
    tag_swept           = { sid = "Repositories", actions = ["ecr:BatchDeleteImage", "ecr:BatchGetImage", "ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImageScanFindings", "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:PutImage", "ecr:StartImageScan", "ecr:UpdateImageStorageClass"], resources = [local.repositories] }
    read_repositories   = { sid = "Repositories", actions = ["ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImages", "ecr:DescribeRepositories"], resources = ["arn:${local.partition}:ecr:${local.region}:${local.account}:repository/*"] }
    registry            = { sid = "Registry", actions = ["ecr:DescribePullThroughCacheRules", "ecr:DescribeRegistry", "ecr:GetRegistryScanningConfiguration"], resources = ["*"] }
    read_registry       = { sid = "Registry", actions = ["ecr:GetRegistryScanningConfiguration"], resources = ["*"] }
    findings            = { sid = "Findings", actions = ["inspector2:BatchGetFindingDetails", "inspector2:ListFindings"], resources = ["*"] }
    coverage            = { sid = "CoverageAndUsage", actions = ["inspector2:ListCoverage", "inspector2:ListUsageTotals"], resources = ["*"] }
    state               = { sid = "State", actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources = [aws_dynamodb_table.state.arn] }
    state_scanned       = { sid = "State", actions = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources = [aws_dynamodb_table.state.arn] }
    state_due           = { sid = "State", actions = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"], resources = [aws_dynamodb_table.state.arn, "${aws_dynamodb_table.state.arn}/index/due"] }
    notify              = { sid = "Notify", actions = ["sns:Publish"], resources = [aws_sns_topic.verdicts.arn, aws_sns_topic.chat.arn] }
    rejected_and_failed = { sid = "QueuesRejectedAndFailed", actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.this["rejected"].arn, aws_sqs_queue.this["failures"].arn] }
    failed              = { sid = "QueuesFailed", actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.this["failures"].arn] }
    key                 = { sid = "Key", actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [aws_kms_key.this.arn] }
    # cost-report's weekly report: the verdict history by day, the image records now, and the
    # report's objects (encrypted by the bucket's default with the key of the Key statement).
    history = { sid = "History", actions = ["dynamodb:Query"], resources = ["${aws_dynamodb_table.state.arn}/index/history"] }
    images  = { sid = "State", actions = ["dynamodb:Scan"], resources = [aws_dynamodb_table.state.arn] }
    report  = { sid = "Report", actions = ["s3:PutObject"], resources = ["${aws_s3_bucket.reports.arn}/reports/*"] }
    # What the Lambda service does for the function's event source mapping, on its own queue only.
    intake_pushed  = { sid = "Intake", actions = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], resources = [aws_sqs_queue.intake["on_push"].arn] }
    intake_scanned = { sid = "Intake", actions = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], resources = [aws_sqs_queue.intake["on_scan"].arn] }
  }

  # Function => the statements of its role policy, in the policy's order.
  role_statements = {
    on_push     = ["tag_pushed", "registry", "state", "notify", "rejected_and_failed", "key", "intake_pushed"]
    on_scan     = ["tag_scanned", "registry", "findings", "state_scanned", "notify", "rejected_and_failed", "key", "intake_scanned"]
    sweep       = ["tag_swept", "registry", "findings", "state_due", "notify", "failed", "key"]
    cost_report = ["read_repositories", "read_registry", "coverage", "history", "images", "notify", "report", "failed", "key"]
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions
  dynamic "statement" {
    for_each = [for name in local.role_statements[each.key] : local.statements[name]]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

data "aws_iam_policy_document" "policy_source" {
  count = var.policy_source == "builtin" ? 0 : 1
  statement {
    sid       = "PolicyDocument"
    actions   = var.policy_source == "s3" ? ["s3:GetObject"] : ["ssm:GetParameter"]
    resources = [var.policy_source == "s3" ? local.policy_object : local.policy_param]
  }
}

# Organization mode: ecr-gatekeeper-<function>-<region>, the names the member roles trust (IAM names
# are global; one deployment per region), at most 41 characters.
resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = local.organization ? "ecr-gatekeeper-${each.value.binary}-${local.region}" : "${var.name}-${each.value.binary}"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
  lifecycle {
    precondition {
      condition     = (var.organization_id == "") == (var.member_role_name == "")
      error_message = "organization_id and member_role_name are set together (organization mode) or both left empty (this account only)."
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "gatekeeper"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_iam_role_policy" "policy_source" {
  for_each = var.policy_source == "builtin" ? {} : local.functions
  name     = "policy-source"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.policy_source[0].json
}

resource "aws_iam_role_policy_attachment" "logs" {
  for_each   = local.functions
  role       = aws_iam_role.function[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.value.binary}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_lambda_function" "function" {
  # checkov:skip=CKV_AWS_116:Asynchronous failures go to the on-failure destination (failures queue), which supersedes a DLQ; records of the intake queues go to their own DLQs.
  # checkov:skip=CKV_AWS_117:The functions call only AWS APIs; a VPC would add NAT cost and no isolation.
  # checkov:skip=CKV_AWS_115:Reserved concurrency is a variable, off by default (it fails on accounts with a low quota).
  # checkov:skip=CKV_AWS_50:Structured JSON logs carry every decision; X-Ray adds a cost per event for no decision taken.
  # checkov:skip=CKV_AWS_272:The zips are built from this repository by cargo lambda; code signing is the deployer's choice.
  for_each                       = local.functions
  function_name                  = "${var.name}-${each.value.binary}"
  description                    = each.value.description
  role                           = aws_iam_role.function[each.key].arn
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  handler                        = "bootstrap"
  filename                       = each.value.zip
  source_code_hash               = filebase64sha256(each.value.zip)
  memory_size                    = 256
  timeout                        = each.value.timeout
  kms_key_arn                    = aws_kms_key.this.arn
  reserved_concurrent_executions = var.reserved_concurrency > 0 ? var.reserved_concurrency : -1
  tags                           = var.tags

  environment {
    variables = local.environment
  }
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }
  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.organization, aws_iam_role_policy_attachment.logs]
}

resource "aws_lambda_function_event_invoke_config" "function" {
  for_each                     = local.functions
  function_name                = aws_lambda_function.function[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.this["failures"].arn
    }
  }
}

locals {
  # Rule name => the function whose intake queue it feeds; the patterns are the files the tests
  # route sample events through.
  rules = {
    "on-push"           = "on_push"
    "on-scan-basic"     = "on_scan"
    "on-scan-inspector" = "on_scan"
  }
  # Function => when the scheduler invokes it.
  schedules = {
    sweep       = var.sweep_schedule
    cost_report = var.cost_report_schedule
  }
}

resource "aws_cloudwatch_event_rule" "events" {
  for_each      = local.rules
  name          = "${var.name}-${each.key}"
  event_pattern = file("${path.module}/patterns/${each.key}.json")
  tags          = var.tags
}

# EventBridge's retries and dead-letter queue cover a failed delivery to the queue (a throttled
# SendMessage, a key it could not use).
resource "aws_cloudwatch_event_target" "events" {
  for_each = local.rules
  rule     = aws_cloudwatch_event_rule.events[each.key].name
  arn      = aws_sqs_queue.intake[each.value].arn
  retry_policy {
    maximum_retry_attempts       = 10
    maximum_event_age_in_seconds = 21600
  }
  dead_letter_config {
    arn = aws_sqs_queue.this["events-dlq"].arn
  }
}

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = var.tags
}

data "aws_iam_policy_document" "invoke_scheduled" {
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [for f in keys(local.schedules) : aws_lambda_function.function[f].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-scheduled"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.invoke_scheduled.json
}

resource "aws_scheduler_schedule" "function" {
  for_each            = local.schedules
  name                = "${var.name}-${local.functions[each.key].binary}"
  schedule_expression = each.value
  kms_key_arn         = aws_kms_key.this.arn
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.function[each.key].arn
    role_arn = aws_iam_role.scheduler.arn
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
    dead_letter_config {
      arn = aws_sqs_queue.this["events-dlq"].arn
    }
  }
}
