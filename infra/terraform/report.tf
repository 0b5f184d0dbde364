# cost-report's weekly report (reports/<date>/report.html and report.json), private to the account:
# the deployment's key by default (the function sends no encryption headers; the bucket key saves a
# KMS call per object), ACLs off, TLS only. Versioning keeps an overwritten or deleted report for a
# day; a report is kept var.report_retention_days. The same bucket as the SAM template's
# ReportBucket.

# Bucket names are global and lowercase: <name>-reports- and a unique suffix (the prefix at most 37
# characters). Protected from destroy, like the state table.
resource "aws_s3_bucket" "reports" {
  # checkov:skip=CKV_AWS_18:Access logs need a second bucket to receive them; CloudTrail data events, if the account records them, cover who read a report.
  # checkov:skip=CKV_AWS_144:The reports are rebuilt from the state table every week; a replica in another region would protect nothing that is lost.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to a new report: the function publishes its key in the SNS message itself.
  bucket_prefix = "${substr(lower(var.name), 0, 28)}-reports-"
  tags          = var.tags
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "reports" {
  bucket = aws_s3_bucket.reports.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "reports" {
  bucket                  = aws_s3_bucket.reports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "reports" {
  bucket = aws_s3_bucket.reports.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "reports" {
  bucket = aws_s3_bucket.reports.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "reports" {
  bucket = aws_s3_bucket.reports.id
  rule {
    id     = "reports"
    status = "Enabled"
    filter {
      prefix = "reports/"
    }
    expiration {
      days = var.report_retention_days
    }
  }
  # The whole bucket: replaced versions and failed uploads are never read.
  rule {
    id     = "versions-and-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  # Versioning on first, as the provider's documentation advises for noncurrent-version rules.
  depends_on = [aws_s3_bucket_versioning.reports]
}

resource "aws_s3_bucket_policy" "reports" {
  bucket = aws_s3_bucket.reports.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TlsOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.reports.arn, "${aws_s3_bucket.reports.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  # S3 aborts concurrent changes of a bucket's policy and public access block (OperationAborted).
  depends_on = [aws_s3_bucket_public_access_block.reports]
}
