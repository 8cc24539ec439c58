"""The detail pane and its views of one task: JOB steps and hosts, the pipeline tree, hosts and job
tasks grouped by result, column headers.
"""
