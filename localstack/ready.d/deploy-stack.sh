#!/bin/bash
# LocalStack ready hook: deploy the packaged stack (`make package` output mounted at /opt/package) the way
# an operator deploys it on AWS: secrets first, the code uploaded, then `cloudformation deploy`.
# Runs inside the LocalStack container (awslocal is there). Not run in CI here (no Docker engine).
set -euo pipefail

STACK=${STACK_NAME:-bakery-orchestrator}
PACKAGE=/opt/package
REGION=${AWS_DEFAULT_REGION:-eu-west-1}

if [ ! -f "$PACKAGE/sam.json" ] || [ ! -f "$PACKAGE/deployment.zip" ]; then
  echo "deploy-stack: $PACKAGE has no sam.json/deployment.zip: run 'make package' on the host first" >&2
  exit 1
fi

secret() {  # name value -> ARN (created once; the value never appears in the template)
  awslocal secretsmanager describe-secret --secret-id "$STACK/$1" --query ARN --output text 2>/dev/null \
    || awslocal secretsmanager create-secret --name "$STACK/$1" --secret-string "$2" --query ARN --output text
}
DB=$(secret database-url "postgresql+pg8000://postgres@postgres:5432/orchestrator")
REDIS=$(secret redis-url "redis://redis:6379/0")
RABBIT=$(secret rabbitmq-url "amqp://guest:guest@rabbitmq:5672/%2F")
JWT=$(secret jwt-secret "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')")

BUCKET="$STACK-code"
awslocal s3api head-bucket --bucket "$BUCKET" 2>/dev/null \
  || awslocal s3api create-bucket --bucket "$BUCKET" --create-bucket-configuration LocationConstraint="$REGION"
awslocal cloudformation package --template-file "$PACKAGE/sam.json" --s3-bucket "$BUCKET" \
  --output-template-file /tmp/packaged.yaml
awslocal cloudformation deploy --template-file /tmp/packaged.yaml --stack-name "$STACK" \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --parameter-overrides PlatformBaseUrl=http://platform:8019 DatabaseUrlSecretArn="$DB" \
    RedisUrlSecretArn="$REDIS" RabbitmqUrlSecretArn="$RABBIT" JwtSecretArn="$JWT"
awslocal cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs" --output table
echo "deploy-stack: $STACK deployed; the schedule rules are bakery-orchestrator-prod-sched-*"
