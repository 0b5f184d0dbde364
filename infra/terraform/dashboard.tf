# The gatekeeper at a glance: its alarms, what the functions did (their metrics, every one the code
# writes; README: Metrics), and Lambda's and the intake queues' own metrics. The same widgets as the
# SAM template's Dashboard (infra/check.py compares them).

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = [
    { type = "alarm", x = 0, y = 0, width = 24, height = 4, properties = { title = "Alarms", alarms = concat(
      [for a in aws_cloudwatch_metric_alarm.silence : a.arn],
      [for a in aws_cloudwatch_metric_alarm.metric : a.arn],
      [for a in aws_cloudwatch_metric_alarm.lambda : a.arn],
      [for a in aws_cloudwatch_metric_alarm.intake_age : a.arn],
      [for a in aws_cloudwatch_metric_alarm.queue : a.arn],
      [for a in aws_cloudwatch_metric_alarm.log_metric : a.arn],
    ) } },
    { type = "metric", x = 0, y = 4, width = 8, height = 6, properties = { title = "Events, evaluations, coalesced events", region = local.region, stat = "Sum", period = 300, metrics = [
      ["ECRGatekeeper", "Events", "Function", "on-push", { label = "on-push events" }],
      ["ECRGatekeeper", "Events", "Function", "on-scan", { label = "on-scan events" }],
      ["ECRGatekeeper", "Evaluations", "Function", "on-push", { label = "on-push evaluations" }],
      ["ECRGatekeeper", "Evaluations", "Function", "on-scan", { label = "on-scan evaluations" }],
      ["ECRGatekeeper", "CoalescedEvents", "Function", "on-push", { label = "on-push coalesced" }],
      ["ECRGatekeeper", "CoalescedEvents", "Function", "on-scan", { label = "on-scan coalesced" }],
    ] } },
    { type = "metric", x = 8, y = 4, width = 8, height = 6, properties = { title = "Verdict changes, by decision", region = local.region, stat = "Sum", period = 300, metrics = [
      ["ECRGatekeeper", "VerdictsBlock", "Function", "on-push", { label = "on-push block" }],
      ["ECRGatekeeper", "VerdictsBlock", "Function", "on-scan", { label = "on-scan block" }],
      ["ECRGatekeeper", "VerdictsWarn", "Function", "on-push", { label = "on-push warn" }],
      ["ECRGatekeeper", "VerdictsWarn", "Function", "on-scan", { label = "on-scan warn" }],
      ["ECRGatekeeper", "VerdictsPass", "Function", "on-push", { label = "on-push pass" }],
      ["ECRGatekeeper", "VerdictsPass", "Function", "on-scan", { label = "on-scan pass" }],
      ["ECRGatekeeper", "VerdictsPending", "Function", "on-push", { label = "on-push pending" }],
      ["ECRGatekeeper", "VerdictsPending", "Function", "on-scan", { label = "on-scan pending" }],
    ] } },
    { type = "metric", x = 16, y = 4, width = 8, height = 6, properties = { title = "Tag changes, archives, restores", region = local.region, stat = "Sum", period = 300, metrics = [
      ["ECRGatekeeper", "TagChanges", "Function", "on-push", { label = "on-push tag changes" }],
      ["ECRGatekeeper", "TagChanges", "Function", "on-scan", { label = "on-scan tag changes" }],
      ["ECRGatekeeper", "Archives", "Function", "on-push", { label = "on-push archives" }],
      ["ECRGatekeeper", "Archives", "Function", "on-scan", { label = "on-scan archives" }],
      ["ECRGatekeeper", "Restores", "Function", "on-push", { label = "on-push restores" }],
      ["ECRGatekeeper", "Restores", "Function", "on-scan", { label = "on-scan restores" }],
    ] } },
    { type = "metric", x = 0, y = 10, width = 8, height = 6, properties = { title = "Claim contention, retried and rejected events", region = local.region, stat = "Sum", period = 300, metrics = [
      ["ECRGatekeeper", "ClaimContention", "Function", "on-push", { label = "on-push claim contention" }],
      ["ECRGatekeeper", "ClaimContention", "Function", "on-scan", { label = "on-scan claim contention" }],
      ["ECRGatekeeper", "RetriedEvents", "Function", "on-push", { label = "on-push retried" }],
      ["ECRGatekeeper", "RetriedEvents", "Function", "on-scan", { label = "on-scan retried" }],
      ["ECRGatekeeper", "RejectedEvents", "Function", "on-push", { label = "on-push rejected" }],
      ["ECRGatekeeper", "RejectedEvents", "Function", "on-scan", { label = "on-scan rejected" }],
    ] } },
    { type = "metric", x = 8, y = 10, width = 8, height = 6, properties = { title = "Oldest event's age at invocation (ms)", region = local.region, stat = "Maximum", period = 300, metrics = [
      ["ECRGatekeeper", "OldestEventAgeMs", "Function", "on-push", { label = "on-push" }],
      ["ECRGatekeeper", "OldestEventAgeMs", "Function", "on-scan", { label = "on-scan" }],
    ] } },
    { type = "metric", x = 16, y = 10, width = 8, height = 6, properties = { title = "Intake queues: oldest record's age (s)", region = local.region, stat = "Maximum", period = 300, metrics = [
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.intake["on_push"].name, { label = "on-push" }],
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.intake["on_scan"].name, { label = "on-scan" }],
    ] } },
    { type = "metric", x = 0, y = 16, width = 8, height = 6, properties = { title = "AWS throttles (absorbed by the SDK's retries)", region = local.region, stat = "Sum", period = 300, metrics = [
      ["ECRGatekeeper", "AwsThrottles", "Function", "on-push", { label = "on-push" }],
      ["ECRGatekeeper", "AwsThrottles", "Function", "on-scan", { label = "on-scan" }],
      ["ECRGatekeeper", "AwsThrottles", "Function", "sweep", { label = "sweep" }],
      ["ECRGatekeeper", "AwsThrottles", "Function", "cost-report", { label = "cost-report" }],
    ] } },
    { type = "metric", x = 8, y = 16, width = 8, height = 6, properties = { title = "Lambda errors and throttles", region = local.region, stat = "Sum", period = 300, metrics = [
      ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.function["on_push"].function_name, { label = "on-push errors" }],
      ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.function["on_scan"].function_name, { label = "on-scan errors" }],
      ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.function["sweep"].function_name, { label = "sweep errors" }],
      ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.function["cost_report"].function_name, { label = "cost-report errors" }],
      ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.function["on_push"].function_name, { label = "on-push throttles" }],
      ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.function["on_scan"].function_name, { label = "on-scan throttles" }],
      ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.function["sweep"].function_name, { label = "sweep throttles" }],
      ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.function["cost_report"].function_name, { label = "cost-report throttles" }],
    ] } },
    { type = "metric", x = 16, y = 16, width = 8, height = 6, properties = { title = "Lambda duration p99 (ms)", region = local.region, stat = "p99", period = 300, metrics = [
      ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.function["on_push"].function_name, { label = "on-push" }],
      ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.function["on_scan"].function_name, { label = "on-scan" }],
      ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.function["sweep"].function_name, { label = "sweep" }],
      ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.function["cost_report"].function_name, { label = "cost-report" }],
    ] } },
  ] })
}
