"""Spanwise: AI observability on distributed tracing."""

__version__ = "0.1.0"
