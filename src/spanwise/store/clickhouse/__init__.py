"""The ClickHouse store: its DDL and SQL, written once for every transport (`session.py`), and
the embedded transport, chDB (`chdb.py`)."""
