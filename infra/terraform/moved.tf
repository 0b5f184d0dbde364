# Addresses this module has renamed: with these, `terraform plan` on a state applied with an earlier
# version moves the resources instead of destroying and re-creating them (queues with their
# messages, alarms, schedules). Keep them; dropping one turns that upgrade into a replacement.

moved {
  from = aws_sqs_queue.rejected
  to   = aws_sqs_queue.this["rejected"]
}

moved {
  from = aws_sqs_queue.failures
  to   = aws_sqs_queue.this["failures"]
}

moved {
  from = aws_sqs_queue.events_dlq
  to   = aws_sqs_queue.this["events-dlq"]
}

moved {
  from = aws_cloudwatch_metric_alarm.cold_start_failures
  to   = aws_cloudwatch_metric_alarm.log_metric["ColdStartFailures"]
}

moved {
  from = aws_cloudwatch_metric_alarm.breaker
  to   = aws_cloudwatch_metric_alarm.log_metric["BreakerTrips"]
}

moved {
  from = aws_scheduler_schedule.sweep
  to   = aws_scheduler_schedule.function["sweep"]
}

moved {
  from = aws_scheduler_schedule.cost_report
  to   = aws_scheduler_schedule.function["cost_report"]
}
