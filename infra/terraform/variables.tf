variable "name" {
  description = "Prefix of every resource name (functions are <name>-on-push, <name>-on-scan, <name>-sweep)."
  type        = string
  default     = "ecr-gatekeeper"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,39}$", var.name))
    error_message = "name: letters, digits and hyphens, starting with a letter, at most 40 characters."
  }
}

variable "mode" {
  description = "audit computes and notifies everything and changes no tag (start here); enforce acts."
  type        = string
  default     = "audit"
  validation {
    condition     = contains(["audit", "enforce"], var.mode)
    error_message = "mode must be audit or enforce."
  }
}

variable "policy_source" {
  description = "Where the policy comes from: builtin (blocks CRITICAL, warns on HIGH), s3 or ssm."
  type        = string
  default     = "builtin"
  validation {
    condition     = contains(["builtin", "s3", "ssm"], var.policy_source)
    error_message = "policy_source must be builtin, s3 or ssm."
  }
}

variable "policy_location" {
  description = "s3://bucket/key or ssm:/parameter/name, matching policy_source (empty for builtin)."
  type        = string
  default     = ""
  validation {
    condition     = var.policy_location == "" || can(regex("^(s3://[^/]+/.+|ssm:/.+)$", var.policy_location))
    error_message = "policy_location must be s3://bucket/key or ssm:/name."
  }
}

variable "repository_pattern" {
  description = "The repositories the functions may tag: an IAM resource pattern such as team-a/* or *."
  type        = string
  default     = "*"
  validation {
    condition     = can(regex("^[a-z0-9*][a-z0-9._/*-]*$", var.repository_pattern))
    error_message = "repository_pattern: lowercase repository name characters and *."
  }
}

variable "quarantine_prefix" {
  description = "Prefix of quarantine tags."
  type        = string
  default     = "quarantined-"
}

variable "held_prefix" {
  description = "Prefix of held tags (unscanned = \"hold\")."
  type        = string
  default     = "held-"
}

variable "verified_prefix" {
  description = "Reserved prefix of verified tags (rules enable them with verified_prefix in the policy)."
  type        = string
  default     = "verified-"
}

variable "sweep_schedule" {
  description = "How often the sweep runs: an EventBridge Scheduler expression."
  type        = string
  default     = "rate(1 hour)"
  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.sweep_schedule))
    error_message = "sweep_schedule must be rate(...) or cron(...)."
  }
}

variable "sweep_interval" {
  description = "The same interval as sweep_schedule, as a duration (the sweep's window on its first run)."
  type        = string
  default     = "1h"
  validation {
    condition     = can(regex("^[0-9]+[smhd]$", var.sweep_interval))
    error_message = "sweep_interval must be a duration such as 15m or 1h."
  }
}

variable "held_timeout" {
  description = "How long an image may stay held without a scan result before the sweep says so."
  type        = string
  default     = "6h"
  validation {
    condition     = can(regex("^[0-9]+[smhd]$", var.held_timeout))
    error_message = "held_timeout must be a duration such as 6h."
  }
}

variable "history_retention" {
  description = "How long the verdict history (every change of an image's disposition, for the report's time to fix) is kept, in days (such as 400d; at least 1d)."
  type        = string
  default     = "400d"
  validation {
    condition     = can(regex("^[1-9][0-9]*d$", var.history_retention))
    error_message = "history_retention must be a number of days such as 400d."
  }
}

variable "cost_report_schedule" {
  description = "When the cost digest is published: an EventBridge Scheduler expression (weekly by default)."
  type        = string
  default     = "cron(0 8 ? * MON *)"
  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.cost_report_schedule))
    error_message = "cost_report_schedule must be rate(...) or cron(...)."
  }
}

variable "cost_report_days" {
  description = "The period the cost digest covers, days."
  type        = number
  default     = 7
  validation {
    condition     = var.cost_report_days >= 1 && var.cost_report_days <= 365
    error_message = "cost_report_days must be between 1 and 365."
  }
}

variable "report_retention_days" {
  description = "How long the weekly reports (reports/ in the report bucket) are kept, days."
  type        = number
  default     = 90
  validation {
    condition     = var.report_retention_days >= 1 && var.report_retention_days <= 3650 && floor(var.report_retention_days) == var.report_retention_days
    error_message = "report_retention_days must be a whole number from 1 to 3650."
  }
}

variable "report_sla" {
  description = "How long a ticket may stay open in the weekly report, days per severity (SEVERITY=DAYS, comma-separated; a severity not named has 180)."
  type        = string
  default     = "CRITICAL=15,HIGH=30,MEDIUM=90"
  validation {
    condition     = can(regex("^([A-Za-z]+=[0-9]+)(,[A-Za-z]+=[0-9]+)*$", var.report_sla))
    error_message = "report_sla must be SEVERITY=DAYS settings, comma-separated, such as CRITICAL=15,HIGH=30."
  }
}

variable "price_initial_scan" {
  description = "USD per Inspector initial scan of an image (the cost report's estimate)."
  type        = number
  default     = 0.09
}

variable "price_rescan" {
  description = "USD per rescan (the cost report's estimate)."
  type        = number
  default     = 0.01
}

variable "put_image_tps" {
  description = "ECR PutImage calls per second per function container (GATEKEEPER_PUTIMAGE_TPS; ECR's default quota is 10/s per account and region, shared with your CI pushes)."
  type        = number
  default     = 1
  validation {
    condition     = var.put_image_tps > 0
    error_message = "put_image_tps must be a positive number."
  }
}

variable "inspector_tps" {
  description = "Inspector calls per second per function container (GATEKEEPER_INSPECTOR_TPS)."
  type        = number
  default     = 5
  validation {
    condition     = var.inspector_tps > 0
    error_message = "inspector_tps must be a positive number."
  }
}

variable "alert_email" {
  description = "An e-mail address subscribed to the alarm topic (optional)."
  type        = string
  default     = ""
}

variable "slack_workspace_id" {
  description = "AWS Chatbot Slack workspace id, authorised once in the Chatbot console (optional)."
  type        = string
  default     = ""
}

variable "slack_channel_id" {
  description = "Slack channel id for verdict notifications (optional, with slack_workspace_id)."
  type        = string
  default     = ""
}

variable "manage_registry_scanning" {
  description = "Manage the registry scanning configuration (one per account and region; protected from destroy). Never manage aws_inspector2_enabler next to it."
  type        = bool
  default     = false
}

variable "registry_scan_type" {
  description = "ENHANCED (Inspector) or BASIC."
  type        = string
  default     = "ENHANCED"
  validation {
    condition     = contains(["ENHANCED", "BASIC"], var.registry_scan_type)
    error_message = "registry_scan_type must be ENHANCED or BASIC."
  }
}

variable "registry_scan_frequency" {
  description = "CONTINUOUS_SCAN or SCAN_ON_PUSH."
  type        = string
  default     = "CONTINUOUS_SCAN"
  validation {
    condition     = contains(["CONTINUOUS_SCAN", "SCAN_ON_PUSH"], var.registry_scan_frequency)
    error_message = "registry_scan_frequency must be CONTINUOUS_SCAN or SCAN_ON_PUSH."
  }
}

variable "registry_scan_filter" {
  description = "Repository filter (wildcard) of the scanning rule."
  type        = string
  default     = "*"
}

variable "archive_quarantined_repositories" {
  description = "Repositories given a lifecycle rule that archives (never expires) quarantined images; off by default. Archived images cost a 90-day minimum."
  type        = list(string)
  default     = []
}

variable "archive_after_days" {
  description = "Days after push before a quarantined image is archived by the lifecycle rule."
  type        = number
  default     = 30
  validation {
    condition     = var.archive_after_days >= 1
    error_message = "archive_after_days must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups: the audit trail of every tag change (a year by default)."
  type        = number
  default     = 365
  validation {
    condition     = contains([30, 60, 90, 180, 365, 731], var.log_retention_days)
    error_message = "log_retention_days must be one of 30, 60, 90, 180, 365, 731."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (0 = none; reserving fails on accounts with a low quota)."
  type        = number
  default     = 0
  validation {
    condition     = var.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be 0 or more."
  }
}

# The event source mappings of on-push and on-scan (intake.tf), one object per event function, and
# the age of its queue's oldest record that sets off its alarm (alarms.tf); a field left out keeps
# its default (the same as the SAM template's parameters, infra/check.py). Lambda's limits: a batch
# of 1 to 10000 records, a batching window of 0 to 300 s (a batch over 10 needs at least 1 s,
# intake.tf's precondition), a maximum concurrency of 2 to 1000 pollers per mapping. The alarm's
# age: at least 60 s (SQS publishes the metric once a minute), at most the queues' retention of 4
# days (345600 s: an older record is gone); keep it above the batching window.
variable "intake" {
  description = "How on-push's and on-scan's mappings read their queues: per function, batch_size (records per invocation), batching_window (seconds to fill a batch) and maximum_concurrency (concurrent invocations); and max_age_seconds, the age of the queue's oldest record that sets off its alarm."
  type = object({
    # A window of 0 and what is already waiting: a pushed image is re-tagged within seconds, so a
    # record 5 minutes old means on-push is not keeping up.
    on_push = optional(object({
      batch_size          = optional(number, 10)
      batching_window     = optional(number, 0)
      maximum_concurrency = optional(number, 2)
      max_age_seconds     = optional(number, 300)
    }), {})
    # 5 s for a scan's finding events to arrive together, and all of them in one batch. A
    # CVE-database update's backlog drains within minutes: half an hour means it is not draining.
    on_scan = optional(object({
      batch_size          = optional(number, 100)
      batching_window     = optional(number, 5)
      maximum_concurrency = optional(number, 4)
      max_age_seconds     = optional(number, 1800)
    }), {})
  })
  default  = {}
  nullable = false
  validation {
    condition     = alltrue([for f in var.intake : f.batch_size >= 1 && f.batch_size <= 10000 && floor(f.batch_size) == f.batch_size])
    error_message = "intake: each function's batch_size must be a whole number from 1 to 10000."
  }
  validation {
    condition     = alltrue([for f in var.intake : f.batching_window >= 0 && f.batching_window <= 300 && floor(f.batching_window) == f.batching_window])
    error_message = "intake: each function's batching_window must be a whole number from 0 to 300."
  }
  validation {
    condition     = alltrue([for f in var.intake : f.maximum_concurrency >= 2 && f.maximum_concurrency <= 1000 && floor(f.maximum_concurrency) == f.maximum_concurrency])
    error_message = "intake: each function's maximum_concurrency must be a whole number from 2 to 1000."
  }
  validation {
    condition     = alltrue([for f in var.intake : f.max_age_seconds >= 60 && f.max_age_seconds <= 345600 && floor(f.max_age_seconds) == f.max_age_seconds])
    error_message = "intake: each function's max_age_seconds must be a whole number from 60 to 345600 (the queues' retention)."
  }
}

# The alarms on the functions' own metrics (alarms.tf; README: Metrics), for when the gatekeeper
# stops judging and nothing else says so; the same defaults and limits as the SAM template's
# SilenceAlarmDays, RetriedEventsAlarmThreshold and AwsThrottlesAlarmThreshold (infra/check.py).
# Days: at most 7, CloudWatch's longest evaluation of daily periods.
variable "silence_alarm_days" {
  description = "Alarm when on-scan has received no event for this many days in a row (0 = no such alarm, for a registry quiet for days)."
  type        = number
  default     = 2
  validation {
    condition     = var.silence_alarm_days >= 0 && var.silence_alarm_days <= 7 && floor(var.silence_alarm_days) == var.silence_alarm_days
    error_message = "silence_alarm_days must be a whole number from 0 (no alarm) to 7."
  }
}

variable "retried_events_alarm_threshold" {
  description = "Alarm when on-push and on-scan hand back more records than this for redelivery per 5 minutes, 15 minutes in a row."
  type        = number
  default     = 25
  validation {
    condition     = var.retried_events_alarm_threshold >= 0 && floor(var.retried_events_alarm_threshold) == var.retried_events_alarm_threshold
    error_message = "retried_events_alarm_threshold must be a whole number, 0 or more."
  }
}

variable "aws_throttles_alarm_threshold" {
  description = "Alarm when AWS throttles more of the functions' calls than this per 5 minutes, 15 minutes in a row."
  type        = number
  default     = 100
  validation {
    condition     = var.aws_throttles_alarm_threshold >= 0 && floor(var.aws_throttles_alarm_threshold) == var.aws_throttles_alarm_threshold
    error_message = "aws_throttles_alarm_threshold must be a whole number, 0 or more."
  }
}

# Organization mode (organization.tf, README: Organization): all three empty, this account only.
variable "organization_id" {
  description = "The AWS Organization whose member accounts this deployment governs (o-xxxxxxxxxx; empty = this account only). Deploy it in the security account, Inspector's delegated administrator."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(o-[a-z0-9]{10,32})?$", var.organization_id))
    error_message = "organization_id must be an organization id (o-xxxxxxxxxx) or empty."
  }
}

variable "member_role_name" {
  description = "The role the functions assume in each member account (the member module's member_role_name; cost-report assumes <name>-read). Set exactly when organization_id is (GATEKEEPER_MEMBER_ROLE)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([A-Za-z0-9+=,.@_-]{1,59})?$", var.member_role_name))
    error_message = "member_role_name: an IAM role name of at most 59 characters (<name>-read must fit in 64), or empty."
  }
}

variable "governed_accounts" {
  description = "The member accounts to act in, 12-digit ids (empty = every account whose events arrive; GATEKEEPER_GOVERNED_ACCOUNTS, comma-separated)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.governed_accounts : can(regex("^[0-9]{12}$", a))])
    error_message = "governed_accounts: 12-digit account ids."
  }
}

# The member accounts' OU paths come from their member module (SSM /ecr-gatekeeper/ou-path); this
# account's own, for its images, from here.
variable "ou_path" {
  description = "This account's own OU path (r-ab12/ou-ab12-11111111), needed only when the policy scopes rules by OU (ous); GATEKEEPER_OU_PATH."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(r-[0-9a-z]{4,32}(/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})*)?$", var.ou_path))
    error_message = "ou_path: r-xxxx/ou-xxxx-xxxxxxxx/... or empty."
  }
}

variable "zips" {
  description = "The deployment zips from `cargo lambda build --release --arm64 --output-format zip` (paths)."
  type = object({
    on_push     = string
    on_scan     = string
    sweep       = string
    cost_report = string
  })
  default = {
    on_push     = "../../target/lambda/on-push/bootstrap.zip"
    on_scan     = "../../target/lambda/on-scan/bootstrap.zip"
    sweep       = "../../target/lambda/sweep/bootstrap.zip"
    cost_report = "../../target/lambda/cost-report/bootstrap.zip"
  }
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
