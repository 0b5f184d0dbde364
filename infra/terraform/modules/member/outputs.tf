output "member_role_arn" {
  description = "The role the central on-push, on-scan and sweep (and, with trust_operators, the operators' CLI) assume (null where roles_region is another region)."
  value       = local.creates_roles ? aws_iam_role.member["acting"].arn : null
}

output "read_role_arn" {
  description = "The role the central cost-report assumes (null where roles_region is another region)."
  value       = local.creates_roles ? aws_iam_role.member["read"].arn : null
}

output "forward_dead_letter_queue_url" {
  description = "Events EventBridge could not forward to the central gatekeeper (redrive them once fixed)."
  value       = aws_sqs_queue.forward_dlq.url
}
