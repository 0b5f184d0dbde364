# The gatekeeper in enforce mode with a policy from SSM, Slack, an alarm e-mail, and the registry
# scanning configuration managed here. Build the zips first, from the repository root:
#   cargo lambda build --release --arm64 --output-format zip -p on-push -p on-scan -p sweep -p cost-report

# The AWS provider and its version come from the module's own requirements (versions.tf).
terraform {
  required_version = ">= 1.5"
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_ssm_parameter" "policy" {
  # checkov:skip=CKV2_AWS_34:The policy is not a secret; it is readable by the functions and reviewers.
  name  = "/ecr-gatekeeper/policy"
  type  = "String"
  tier  = "Advanced"
  value = file("${path.module}/policy.toml")
}

module "gatekeeper" {
  source = "../.."

  name                     = "ecr-gatekeeper"
  mode                     = "enforce"
  policy_source            = "ssm"
  policy_location          = "ssm:${aws_ssm_parameter.policy.name}"
  repository_pattern       = "*"
  alert_email              = "platform-alerts@example.com"
  slack_workspace_id       = "T0123456789"
  slack_channel_id         = "C0123456789"
  manage_registry_scanning = true
  registry_scan_type       = "ENHANCED"
  registry_scan_frequency  = "CONTINUOUS_SCAN"
  zips = {
    on_push     = "${path.module}/../../../../target/lambda/on-push/bootstrap.zip"
    on_scan     = "${path.module}/../../../../target/lambda/on-scan/bootstrap.zip"
    sweep       = "${path.module}/../../../../target/lambda/sweep/bootstrap.zip"
    cost_report = "${path.module}/../../../../target/lambda/cost-report/bootstrap.zip"
  }
  tags = { team = "platform" }
}

output "topic_arn" {
  value = module.gatekeeper.topic_arn
}

output "state_table_name" {
  value = module.gatekeeper.state_table_name
}
