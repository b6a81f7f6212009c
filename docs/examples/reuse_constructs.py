"""Another project composes the four constructs (docs/infrastructure.md quotes this file; a test synthesizes it)."""

from aws_cdk import App, Stack

from platform_constructs import (
    JsonToParquetWorkflow,
    JsonToParquetWorkflowProps,
    PipelineAlarms,
    PipelineAlarmsProps,
    TrackedRawBucket,
    TrackedRawBucketProps,
    TrackingDatabase,
    TrackingDatabaseProps,
)

app = App()
stack = Stack(app, "ClickstreamToParquet")
bucket = TrackedRawBucket(stack, "Lake", TrackedRawBucketProps(
    raw_prefix="landing/clicks/", curated_prefix="lake/clicks/", staging_prefix="lake/_staging/",
    processed_prefix="landing-archive/clicks/", dead_letter_prefix="errors/clicks/", scripts_prefix="jobs/"))
database = TrackingDatabase(stack, "Tracking", TrackingDatabaseProps(vpc=None))   # or your VPC
workflow = JsonToParquetWorkflow(stack, "Pipeline", JsonToParquetWorkflowProps(
    bucket=bucket, database=database, environment_name="prod",
    schedule="cron(0 * * * ? *)", batch_size=500,
    catalog_columns=(("user_id", "string"), ("event_date", "date"), ("source_s3_path", "string")),
    # runtime_dir=Path("path/to/your/runtime"): default, the runtime package installed beside the constructs
))
PipelineAlarms(stack, "Alarms", PipelineAlarmsProps(
    environment_name="prod", lister_job_name=workflow.lister_job_name,
    processor_job_name=workflow.processor_job_name, backfill_job_name=workflow.backfill_job_name,
    database_instance=database.instance, database_instance_class="t4g.micro",   # the database's class
    alarm_emails=("oncall@example.com",)))   # or existing_topic_arn="arn:aws:sns:...:oncall"
app.synth()
