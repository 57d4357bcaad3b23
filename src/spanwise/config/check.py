"""Warnings about a valid configuration that probably does not do what its author meant.

`spanwise config validate` prints them; they never stop the server, because each can be
intended (a sender may really set an attribute called `name`).
"""

from __future__ import annotations

from spanwise.config import Config, EnrichmentRuleConfig

#: Span fields that OTLP carries outside the attributes: a rule never sees them.
SPAN_FIELDS = frozenset({
    "name", "span.name", "span_name", "kind", "span.kind", "status", "status.code", "status.message",
    "trace_id", "traceid", "span_id", "spanid", "parent_span_id", "duration", "start_time", "end_time",
    "timestamp", "service", "servicename", "scope.name", "resource",
})

#: How rules read their source, repeated in each warning so it is read where it matters.
SOURCE_RULE = "a rule's source is a span attribute, else the resource attribute of that name"


def config_warnings(config: Config) -> list[str]:
    """Every warning for `config`, as `section: message` lines."""
    warnings = enrichment_warnings(config.enrichment.rules)
    if config.auth.oidc.enabled and not config.auth.enabled:
        warnings.append("auth.oidc: has no effect while auth is off (auth.enabled: true or --auth turns it on)")
    return warnings


def enrichment_warnings(rules: list[EnrichmentRuleConfig]) -> list[str]:
    """Rules whose `source` can never (or only by accident) match an attribute."""
    warnings = []
    for index, rule in enumerate(rules):
        if rule.action == "set":
            continue
        where = f"enrichment.rules[{index}]"
        later = [i for i, other in enumerate(rules) if i > index and other.key == rule.source]
        if rule.source.lower() in SPAN_FIELDS:
            warnings.append(f"{where}: source {rule.source!r} is a span field, not an attribute, so it never "
                            f"matches unless a sender sets an attribute of that name ({SOURCE_RULE})")
        elif later and not any(other.key == rule.source for other in rules[:index]):
            warnings.append(f"{where}: source {rule.source!r} is only written by rule {later[0]}, which runs "
                            f"after this one (rules apply in order; {SOURCE_RULE})")
        elif any(other.action == "rename" and other.source == rule.source for other in rules[:index]):
            warnings.append(f"{where}: source {rule.source!r} was renamed away by an earlier rule; only a resource "
                            f"attribute of that name can still match ({SOURCE_RULE})")
    return warnings
