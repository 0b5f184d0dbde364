# ecr-gatekeeper repository creation template, per account and region (the provider's): the
# repositories ECR creates itself (create on push, pull-through cache, replication) start with
# immutable tags except the moving ones, encryption, and the gatekeeper's lifecycle rule (archive
# quarantined images, never expire them). Repositories created by IaC or CreateRepository are not
# covered: configure those where they are declared. The same as infra/sam/repository-template.yaml.

resource "aws_ecr_repository_creation_template" "this" {
  prefix               = var.prefix
  description          = "ecr-gatekeeper defaults for repositories ECR creates itself"
  applied_for          = ["CREATE_ON_PUSH", "PULL_THROUGH_CACHE", "REPLICATION"]
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  dynamic "image_tag_mutability_exclusion_filter" {
    for_each = var.moving_tags
    content {
      filter      = image_tag_mutability_exclusion_filter.value
      filter_type = "WILDCARD"
    }
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn == "" ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn == "" ? null : var.kms_key_arn
  }
  custom_role_arn = var.kms_key_arn == "" ? null : var.custom_role_arn

  # infra/lifecycle/archive-quarantined.json, with the days as a variable.
  lifecycle_policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Archive images quarantined by ecr-gatekeeper (never expire them)"
      selection = {
        tagStatus      = "tagged"
        tagPatternList = ["quarantined-*"]
        countType      = "sinceImagePushed"
        countUnit      = "days"
        countNumber    = var.archive_after_days
      }
      action = { type = "transition", targetStorageClass = "archive" }
    }]
  })

  lifecycle {
    precondition {
      condition     = var.kms_key_arn == "" || var.custom_role_arn != ""
      error_message = "ECR creates repositories with a KMS key only through custom_role_arn."
    }
  }
}
