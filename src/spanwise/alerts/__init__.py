"""Alerting: rules evaluated on a schedule against the query and analytics services, one
state machine per label set (inactive -> pending -> firing -> resolved), and notifiers
(Alertmanager v2, webhook, Slack, e-mail) with grouping, repeat, silences and retries."""
