# The gatekeeper for an AWS Organization (README, Organization), applied in the security account:
# Inspector's delegated administrator, and the organization's delegated administrator for
# CloudFormation StackSets (`aws organizations register-delegated-administrator
# --service-principal member.org.stacksets.cloudformation.amazonaws.com`, from the management
# account; or apply the stack set from the management account without call_as).
#   1. the central gatekeeper in organization mode, in each governed region (here one);
#   2. infra/sam/member.yaml as a service-managed StackSet over the OUs, deployed automatically to
#      every account of them, including accounts created later. One instance per OU, so that each
#      account's stacks write its OU path to the SSM parameter /ecr-gatekeeper/ou-path, which the
#      gatekeeper reads (policy rules scoped by OU, ous; an account without it is judged by the
#      strictest rule that could apply, and an alert says why).
# Build the zips first, from the repository root:
#   cargo lambda build --release --arm64 --output-format zip -p on-push -p on-scan -p sweep -p cost-report

# The AWS provider and its version come from the module's own requirements (versions.tf).
terraform {
  required_version = ">= 1.5"
}

provider "aws" {
  region = "eu-west-1"
}

variable "organization_id" {
  description = "The organization (o-xxxxxxxxxx)."
  type        = string
  default     = "o-abcde12345"
}

variable "ous" {
  description = "OU id => its path from the root (the member accounts' OuPath, written to the SSM parameter /ecr-gatekeeper/ou-path)."
  type        = map(string)
  default = {
    "ou-ab12-11111111" = "r-ab12/ou-ab12-11111111"
    "ou-ab12-22222222" = "r-ab12/ou-ab12-11111111/ou-ab12-22222222"
  }
}

data "aws_caller_identity" "security" {}
data "aws_region" "this" {}

locals {
  member_role_name = "ecr-gatekeeper-member"
}

module "gatekeeper" {
  source = "../.."

  name             = "ecr-gatekeeper"
  mode             = "enforce"
  alert_email      = "security-alerts@example.com"
  organization_id  = var.organization_id
  member_role_name = local.member_role_name
  # Leave empty to act in every account whose events arrive; list ids to roll out account by account.
  governed_accounts = []
  # The security account's own OU path, needed only when the policy scopes rules by OU (ous).
  ou_path = ""
  zips = {
    on_push     = "${path.module}/../../../../target/lambda/on-push/bootstrap.zip"
    on_scan     = "${path.module}/../../../../target/lambda/on-scan/bootstrap.zip"
    sweep       = "${path.module}/../../../../target/lambda/sweep/bootstrap.zip"
    cost_report = "${path.module}/../../../../target/lambda/cost-report/bootstrap.zip"
  }
  tags = { team = "security" }
}

resource "aws_cloudformation_stack_set" "member" {
  name             = "ecr-gatekeeper-member"
  description      = "ecr-gatekeeper member accounts: forward ECR events to the security account, the roles the gatekeeper assumes"
  template_body    = file("${path.module}/../../../sam/member.yaml")
  permission_model = "SERVICE_MANAGED"
  call_as          = "DELEGATED_ADMIN"
  capabilities     = ["CAPABILITY_NAMED_IAM"]
  parameters = {
    CentralAccountId  = data.aws_caller_identity.security.account_id
    OrganizationId    = var.organization_id
    MemberRoleName    = local.member_role_name
    RepositoryPattern = "*"
    Mode              = "enforce"
    # The provider wants every parameter set here, defaults too; the instances override OuPath.
    OuPath      = ""
    RolesRegion = ""
    # The operators' roles in this account (ecr-gatekeeper-operator-*, created by you) may run
    # gatekeeper reconcile/release --account in the members; "false": only the functions.
    TrustOperators = "true"
  }
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }
  operation_preferences {
    failure_tolerance_percentage = 10
    max_concurrent_percentage    = 25
  }
  lifecycle {
    # AWS sets it for a service-managed stack set; without this every plan would clear it.
    ignore_changes = [administration_role_arn]
  }
  # The members bus must exist before the members forward to it.
  depends_on = [module.gatekeeper]
}

# One instance per OU and region, its accounts' OU path as OuPath. The security account itself is
# governed by the central stack's default-bus rules: keep it out of these OUs (or filter it out).
resource "aws_cloudformation_stack_set_instance" "member" {
  for_each       = var.ous
  stack_set_name = aws_cloudformation_stack_set.member.name
  call_as        = "DELEGATED_ADMIN"
  region         = data.aws_region.this.name
  parameter_overrides = {
    OuPath = each.value
  }
  deployment_targets {
    organizational_unit_ids = [each.key]
  }
}

output "members_bus_arn" {
  value = module.gatekeeper.members_bus_arn
}

output "function_role_arns" {
  value = module.gatekeeper.function_role_arns
}

# Without StackSets (an account outside the OUs, or member accounts managed with Terraform), the
# module ../../modules/member is the same as member.yaml, applied with the member account's provider:
#
# module "member" {
#   source             = "../../modules/member"
#   providers          = { aws = aws.member }
#   central_account_id = data.aws_caller_identity.security.account_id
#   organization_id    = var.organization_id
#   member_role_name   = local.member_role_name
#   ou_path            = "r-ab12/ou-ab12-11111111"
#   trust_operators    = true
# }
