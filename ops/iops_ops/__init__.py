"""The runbook's operations on an iops deployment, one implementation behind the scripts
with the runbook's names (scripts/deploy, scripts/validate, scripts/restore).

Every AWS call goes through boto3, which honours AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_<SERVICE> as the AWS CLI does; so the same commands run against an account or
a local emulator (moto's server) with nothing else set.
"""
