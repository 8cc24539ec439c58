"""The job list and what it holds: task rows, followed scopes and their headers, the watch list's
add / remove / filter, the transition log.
"""
