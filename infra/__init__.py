"""Infrastructure as code for the AWS side: a CDK app, the IAM policy documents, the cluster add-ons."""
