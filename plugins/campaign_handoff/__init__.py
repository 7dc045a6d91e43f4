"""The A1 to A2 campaign hand-off from OTMM to Box.

Lives under ``plugins/`` so Airflow puts it on ``sys.path`` for the scheduler, the
dag-processor and every worker; ``plugins/.airflowignore`` keeps the plugin loader from
importing its modules a second time under their bare file names.
"""
