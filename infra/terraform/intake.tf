# The event functions' intake: the EventBridge rules (lambda.tf) send on-push's and on-scan's events
# to an SQS queue per function, which the function reads in batches through an event source mapping,
# so that a burst of finding events for one image costs one evaluation per batch, not one invocation
# per event. After 5 receives a record goes to the function's dead-letter queue (local.queues, alarmed);
# a queue whose oldest record waits too long is alarmed too (alarms.tf, intake_age).

locals {
  # Event function => how its mapping reads its queue (var.intake, its fields defaulted: variables.tf).
  intake = var.intake
}

# Visibility timeout: 6x the function's timeout, AWS's advice for an SQS event source (room for
# Lambda's retries of a throttled batch before the record shows again), and longer than the claim
# lease (GATEKEEPER_CLAIM_LEASE), so a redelivery after a crash finds the claim expired and takes
# it over (infra/check.py verifies both). Retention: 4 days, the DLQs keep 14.
resource "aws_sqs_queue" "intake" {
  for_each                   = local.intake
  name                       = "${var.name}-${local.functions[each.key].binary}-intake"
  message_retention_seconds  = 345600
  visibility_timeout_seconds = 6 * local.functions[each.key].timeout
  kms_master_key_id          = aws_kms_key.this.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.this["${local.functions[each.key].binary}-intake-dlq"].arn
    maxReceiveCount     = 5
  })
  tags = var.tags
}

# Only this function's rules may send to its queue (the key policy lets events.amazonaws.com of the
# account use the key, as for the events DLQ).
resource "aws_sqs_queue_policy" "intake" {
  for_each  = local.intake
  queue_url = aws_sqs_queue.intake[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "RulesOfThisFunction"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.intake[each.key].arn
      Condition = { ArnEquals = { "aws:SourceArn" = concat(
        [for rule, function in local.rules : aws_cloudwatch_event_rule.events[rule].arn if function == each.key],
        # Organization mode: the members bus's rules (organization.tf).
        [for rule, r in aws_cloudwatch_event_rule.members : r.arn if local.member_rules[rule] == each.key],
      ) } }
    }]
  })
}

resource "aws_lambda_event_source_mapping" "intake" {
  for_each                           = local.intake
  event_source_arn                   = aws_sqs_queue.intake[each.key].arn
  function_name                      = aws_lambda_function.function[each.key].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.batching_window
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = each.value.maximum_concurrency
  }
  lifecycle {
    precondition {
      condition     = each.value.batch_size <= 10 || each.value.batching_window >= 1
      error_message = "${local.functions[each.key].binary}: a batch size over 10 needs a batching window of at least 1 second."
    }
  }
}
