variable "prefix" {
  description = "The repository name prefix the template applies to (ROOT = every repository ECR creates)."
  type        = string
  default     = "ROOT"
  validation {
    condition     = can(regex("^(ROOT|[a-z0-9][a-z0-9._/-]*)$", var.prefix))
    error_message = "prefix: ROOT or a repository name prefix."
  }
}

variable "moving_tags" {
  description = "Tag patterns (wildcards) that stay mutable: verified-* (the gatekeeper moves verified-<tag> to the newest passing image) and the user's moving tags. One to five."
  type        = list(string)
  default     = ["verified-*", "latest"]
  validation {
    condition     = length(var.moving_tags) >= 1 && length(var.moving_tags) <= 5 && alltrue([for t in var.moving_tags : can(regex("^[0-9a-zA-Z._*-]{1,128}$", t))])
    error_message = "moving_tags: one to five patterns of letters, digits and ._*-."
  }
}

variable "kms_key_arn" {
  description = "A KMS key for the repositories' images (empty = AES256); ECR then assumes custom_role_arn to use it."
  type        = string
  default     = ""
}

variable "custom_role_arn" {
  description = "The role ECR assumes to create repositories with a KMS key (required with kms_key_arn)."
  type        = string
  default     = ""
  validation {
    condition     = var.custom_role_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.custom_role_arn))
    error_message = "custom_role_arn: an IAM role ARN."
  }
}

variable "archive_after_days" {
  description = "Days after push at which an image with a quarantined-* tag is archived (pulls fail; never expired)."
  type        = number
  default     = 30
  validation {
    condition     = var.archive_after_days >= 1
    error_message = "archive_after_days: at least 1."
  }
}
