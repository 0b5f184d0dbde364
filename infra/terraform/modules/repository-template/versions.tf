terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # CREATE_ON_PUSH and image_tag_mutability_exclusion_filter in repository creation templates.
      version = ">= 6.28"
    }
  }
}
