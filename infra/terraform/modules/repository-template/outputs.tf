output "prefix" {
  description = "The prefix the template applies to."
  value       = aws_ecr_repository_creation_template.this.prefix
}
