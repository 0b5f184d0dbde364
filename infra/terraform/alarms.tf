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

# Errors and throttles of the four functions, summed with SUM([...]): it adds whichever functions
# wrote a datapoint in the period (sweep runs hourly, cost-report weekly), where `a + b` could leave a
# period without a value, and so without an alarm, when one of them did not run.
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
    expression  = "SUM([${join(", ", keys(local.functions))}])"
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

# The alarms on the functions' own metrics (their EMF lines: namespace ECRGatekeeper, dimension
# Function = the binary; README: Metrics), for what fails open without an error, a throttle or a
# queue filling up: the alarms above stay quiet while images go unjudged.
#
# Silence: on-scan has had no event for var.silence_alarm_days days. Scan results, findings and
# coverage changes all reach it, so none at all means that the rules, its intake mapping or the
# scanning stopped. FILL makes a day without a datapoint a 0: left missing, CloudWatch would judge an
# evaluation range that still holds older days' datapoints by those alone, and stay OK. A range with
# no datapoint at all is missing data, breaching too.
resource "aws_cloudwatch_metric_alarm" "silence" {
  count               = var.silence_alarm_days > 0 ? 1 : 0
  alarm_name          = "${var.name}-silence"
  alarm_description   = "on-scan has received no event for ${var.silence_alarm_days} days (no scan result, finding or coverage change: pushed images are not judged): check that the gatekeeper's EventBridge rules are enabled (in organization mode, the members' forwarding rules too), that on-scan's event source mapping is Enabled, and that Inspector or basic scanning still scans the registry; for a registry quiet for days, raise the alarm's days or set them to 0 (no alarm)"
  evaluation_periods  = var.silence_alarm_days
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "filled"
    expression  = "FILL(on_scan, 0)"
    label       = "on-scan events"
    return_data = true
  }
  metric_query {
    id = "on_scan"
    metric {
      namespace   = "ECRGatekeeper"
      metric_name = "Events"
      dimensions  = { Function = local.functions.on_scan.binary }
      stat        = "Sum"
      period      = 86400
    }
  }
}

locals {
  # Metric => the functions whose sum its alarm watches, over 5-minute periods, 15 minutes in a row
  # above the threshold. RetriedEvents: records on-push and on-scan hand back in batchItemFailures,
  # which SQS delivers again and Lambda's Errors metric does not count (the invocation succeeded); a
  # retry that succeeds is normal, the threshold for 15 minutes means that evaluations keep failing.
  # AwsThrottles: AWS API responses to the functions that were throttling errors; the SDK's retries
  # absorb them, so nothing fails until the retries run out, but verdicts and sweeps slow down.
  metric_alarms = {
    RetriedEvents = {
      alarm       = "retried-events"
      functions   = keys(local.intake)
      threshold   = var.retried_events_alarm_threshold
      label       = "retried events"
      description = "More than ${var.retried_events_alarm_threshold} on-push and on-scan records per 5 minutes handed back for redelivery (batchItemFailures), 15 minutes in a row: evaluations keep failing and their verdicts are not applied, and Lambda's Errors metric does not count them; check the functions' logs for the records' errors and whether the AWS throttles alarm fired (a record received 5 times goes to its intake dead-letter queue, alarmed)"
    }
    AwsThrottles = {
      alarm       = "aws-throttles"
      functions   = keys(local.functions)
      threshold   = var.aws_throttles_alarm_threshold
      label       = "AWS throttles"
      description = "More than ${var.aws_throttles_alarm_threshold} AWS API calls of the functions per 5 minutes throttled, 15 minutes in a row (the SDK's retries absorb them: verdicts are slow, and a call whose retries run out fails its record or run): see which function on the dashboard and which service in its logs; lower GATEKEEPER_PUTIMAGE_TPS or GATEKEEPER_INSPECTOR_TPS or the intake mappings' maximum concurrency, or ask AWS for a higher quota"
    }
  }
}

# The sum over the array adds whichever of the functions wrote a datapoint in the period.
resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each            = local.metric_alarms
  alarm_name          = "${var.name}-${each.value.alarm}"
  alarm_description   = each.value.description
  evaluation_periods  = 3
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "total"
    expression  = "SUM([${join(", ", each.value.functions)}])"
    label       = each.value.label
    return_data = true
  }
  dynamic "metric_query" {
    for_each = toset(each.value.functions)
    content {
      id = metric_query.key
      metric {
        namespace   = "ECRGatekeeper"
        metric_name = each.key
        dimensions  = { Function = local.functions[metric_query.key].binary }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}
