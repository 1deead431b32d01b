"""Infrastructure: one description of the functions, state machines and rules, rendered as a
CloudFormation merge template for `chalice package` and deployed with boto3 to any endpoint."""
