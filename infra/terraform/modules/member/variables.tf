variable "central_account_id" {
  description = "The security account that runs the central gatekeeper (Inspector's delegated administrator)."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}$", var.central_account_id))
    error_message = "central_account_id must be a 12-digit account id."
  }
}

variable "organization_id" {
  description = "The organization (o-xxxxxxxxxx); only its principals may assume the roles."
  type        = string
  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an organization id (o-xxxxxxxxxx)."
  }
}

variable "member_role_name" {
  description = "The role the central on-push, on-scan and sweep assume (the central member_role_name; the CLI's --member-role); cost-report assumes <name>-read."
  type        = string
  default     = "ecr-gatekeeper-member"
  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,59}$", var.member_role_name))
    error_message = "member_role_name: an IAM role name of at most 59 characters (<name>-read must fit in 64)."
  }
}

variable "repository_pattern" {
  description = "The repositories the gatekeeper may tag here: an IAM resource pattern such as team-a/* or *."
  type        = string
  default     = "*"
  validation {
    condition     = can(regex("^[a-z0-9*][a-z0-9._/*-]*$", var.repository_pattern))
    error_message = "repository_pattern: lowercase repository name characters and *."
  }
}

variable "ou_path" {
  description = "This account's OU path (e.g. r-ab12/ou-ab12-11111111/ou-ab12-22222222); the gatekeeper reads it from the SSM parameter /ecr-gatekeeper/ou-path this module writes. Empty = no parameter (then, where the policy scopes rules by OU, this account's images are judged by the strictest rule that could apply, and an alert says why)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(r-[0-9a-z]{4,32}(/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})*)?$", var.ou_path))
    error_message = "ou_path: r-xxxx/ou-xxxx-xxxxxxxx/... or empty."
  }
}

variable "mode" {
  description = "audit leaves the member role without ecr:PutImage, ecr:BatchDeleteImage and ecr:UpdateImageStorageClass (nothing is re-tagged or archived here, whatever the central deployment does); enforce lets it re-tag and archive."
  type        = string
  default     = "enforce"
  validation {
    condition     = contains(["enforce", "audit"], var.mode)
    error_message = "mode must be enforce or audit."
  }
}

variable "roles_region" {
  description = "Empty when the account is governed in this region only (the roles act in this region). Governed in several regions (one module per region): the region whose module creates the roles (they then act in every region); the others forward only."
  type        = string
  default     = ""
}

variable "trust_operators" {
  description = "Lets central-account roles named ecr-gatekeeper-operator-* (the people who run gatekeeper reconcile/release --account from the security account) assume the member role, with the same organization and source-identity conditions; false: only the central functions."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
