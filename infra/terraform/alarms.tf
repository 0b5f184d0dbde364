# Alarms, so that a broken gatekeeper does not fail open in silence: to the alarm topic.

locals {
  # Metric => the log lines it counts (in every function's log group) and the alarm on it.
  log_metrics = {
    ColdStartFailures = { pattern = "\"stopped\"", alarm = "cold-start-failures", description = "A function failed to start (an invalid policy or configuration)" }
    BreakerTrips      = { pattern = "\"circuit breaker tripped\"", alarm = "breaker", description = "The circuit breaker tripped; tag changes are stopped until gatekeeper breaker reset" }
  }
  # Lambda metric => the description of its alarm (on the sum over the functions).
  lambda_alarms = {
    Errors    = "Function errors (each is retried; the failures and intake dead-letter queue alarms say when retries ran out)"
    Throttles = "Function throttles (events wait and are retried)"
  }
  # Event function => what is late when its intake queue backs up (the intake age alarm's description).
  intake_late = {
    on_push = "pushed images are re-tagged late"
    on_scan = "verdicts on scans and findings are late"
  }
  log_filters = {
    for pair in setproduct(keys(local.functions), keys(local.log_metrics)) :
    "${pair[0]}-${pair[1]}" => { function = pair[0], metric = pair[1] }
  }
}

resource "aws_cloudwatch_log_metric_filter" "function" {
  for_each       = local.log_filters
  name           = "${var.name}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.function[each.value.function].name
  pattern        = local.log_metrics[each.value.metric].pattern
  metric_transformation {
    namespace     = var.name
    name          = each.value.metric
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "log_metric" {
  for_each            = local.log_metrics
  alarm_name          = "${var.name}-${each.value.alarm}"
  alarm_description   = each.value.description
  namespace           = var.name
  metric_name         = each.key
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue" {
  for_each            = local.queues
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.this[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# An intake queue backing up (intake.tf): its oldest record has waited longer than the function's
# intake.<function>.max_age_seconds (a mapping disabled, throttles, a function that cannot keep up).
# Maximum over 60 s periods (SQS's resolution), 5 in a row: a backlog's age only grows, so it alarms
# 5 minutes after crossing the threshold, while one record whose batch failed once does not. That
# record waits out the visibility timeout (on-push 360 s, over its 300 s) and its retry takes up to
# the function's 60 s, so its age stays over 300 s for up to 120 s: 3 one-minute datapoints at most,
# and the errors alarm has reported it already. on-scan's 1800 s is above two of its 720 s visibility
# timeouts: a record retried twice stays under it. Missing data (an idle queue publishes no
# datapoints) is not breaching, as for the other alarms.
resource "aws_cloudwatch_metric_alarm" "intake_age" {
  for_each            = local.intake
  alarm_name          = "${var.name}-${local.functions[each.key].binary}-intake-age"
  alarm_description   = "${local.functions[each.key].binary} intake records have waited over ${each.value.max_age_seconds} s (${local.intake_late[each.key]}): check that ${local.functions[each.key].binary}'s event source mapping is Enabled and whether the errors or throttles alarm fired; if it is only slow, raise its maximum concurrency (records are kept 4 days)"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.intake[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = each.value.max_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each            = local.lambda_alarms
  alarm_name          = "${var.name}-${lower(each.key)}"
  alarm_description   = each.value
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "total"
    expression  = join(" + ", keys(local.functions))
    label       = lower(each.key)
    return_data = true
  }
  dynamic "metric_query" {
    for_each = local.functions
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/Lambda"
        metric_name = each.key
        dimensions  = { FunctionName = aws_lambda_function.function[metric_query.key].function_name }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}
