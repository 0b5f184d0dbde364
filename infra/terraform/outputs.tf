output "topic_arn" {
  description = "The JSON topic (subscribe queues, Lambdas, e-mail, ticket systems)."
  value       = aws_sns_topic.verdicts.arn
}

output "chat_topic_arn" {
  description = "The AWS Chatbot topic (connect it to a Slack channel)."
  value       = aws_sns_topic.chat.arn
}

output "alarm_topic_arn" {
  description = "The alarm topic (subscribe the operators)."
  value       = aws_sns_topic.alarms.arn
}

output "state_table_name" {
  description = "The state table (GATEKEEPER_STATE_TABLE for the CLI)."
  value       = aws_dynamodb_table.state.name
}

output "report_bucket" {
  description = "The weekly reports, reports/<YYYY-MM-DD>/report.html and report.json (GATEKEEPER_REPORT_BUCKET)."
  value       = aws_s3_bucket.reports.id
}

output "rejected_queue_url" {
  description = "Events the gatekeeper could not use."
  value       = aws_sqs_queue.this["rejected"].url
}

output "failure_queue_url" {
  description = "Invocations that failed after Lambda's retries."
  value       = aws_sqs_queue.this["failures"].url
}

output "events_dead_letter_queue_url" {
  description = "Events EventBridge or the scheduler could not deliver."
  value       = aws_sqs_queue.this["events-dlq"].url
}

output "key_arn" {
  description = "The KMS key of topics, queues, table, logs and report bucket."
  value       = aws_kms_key.this.arn
}

output "function_names" {
  description = "The functions, by role."
  value       = { for k, f in aws_lambda_function.function : k => f.function_name }
}

output "intake_queue_urls" {
  description = "The intake queues EventBridge feeds, by event function (on_push, on_scan)."
  value       = { for k, q in aws_sqs_queue.intake : k => q.url }
}

output "intake_queue_arns" {
  description = "The intake queues' ARNs, by event function."
  value       = { for k, q in aws_sqs_queue.intake : k => q.arn }
}

output "intake_dead_letter_queue_arns" {
  description = "The intake queues' dead-letter queues, by event function (records received 5 times without success; redrive them with start-message-move-task)."
  value       = { for k in keys(local.intake) : k => aws_sqs_queue.this["${local.functions[k].binary}-intake-dlq"].arn }
}

output "members_bus_arn" {
  description = "Organization mode: the bus the member accounts forward their ECR events to (null otherwise)."
  value       = local.organization ? aws_cloudwatch_event_bus.members[0].arn : null
}

output "function_role_arns" {
  description = "Organization mode: the functions' roles, by role (on_push, on_scan and sweep are trusted by the member role, cost_report by its -read role); empty otherwise."
  value       = local.organization ? { for k, r in aws_iam_role.function : k => r.arn } : {}
}
