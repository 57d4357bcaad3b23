"""What the platform asks of a store, and the values it answers: one import point for every
Protocol and value type (`from spanwise.store.protocols import ...`). `Store` is all of it; the
narrow Protocols are what each service depends on."""

from __future__ import annotations

from typing import Protocol

from spanwise.store.protocols.telemetry import (  # noqa: F401 - re-exported
    TraceQuery,
    Operation,
    DependencyLink,
    LatencyPoint,
    RedSummary,
    LogQuery,
    ModelUse,
    TraceSummary,
    StoreStats,
    Histogram,
    SpanMetrics,
    ModelMetrics,
    CustomMetricSeries,
    MetricTotals,
    TraceWriter,
    TraceReader,
    MetricsReader,
    TraceStore,
    TailSamplingStore,
    LogStore,
    OtlpMetricStore,
)
from spanwise.store.protocols.models import (  # noqa: F401 - re-exported
    ModelVersionInfo,
    FeatureInfo,
    PredictionPoint,
    SpanLink,
    Prediction,
    LinkedPrediction,
    QualityQuery,
    QualityCounts,
    ModelReader,
    FeedbackWriter,
    DriftReader,
    BaselineStore,
    ModelSignalStore,
    ScoreQuery,
    ScoreBucket,
    ScoreReader,
    PendingFeedbackStats,
    PendingFeedbackStore,
)
from spanwise.store.protocols.model_analytics import (  # noqa: F401 - re-exported
    WindowQuery,
    ModelAnalyticsReader,
    FeaturePresence,
    FeatureRange,
    FeatureCategories,
    FeatureQualityCounts,
    AttributionStats,
    VersionTotals,
    PredictedLabelCount,
    VERSION_SAMPLES_SCHEMA,
    VersionComparisonInputs,
    ConceptWindows,
    ErrorShiftCounts,
    ConceptDriftReader,
    PredictionExporter,
)
from spanwise.store.protocols.platform import (  # noqa: F401 - re-exported
    AlertStateChange,
    AlertStore,
    SpanWindowReader,
    SubjectEraser,
    RetentionStore,
    TokenStore,
    ApiToken,
    Project,
    AuditEntry,
)


class Store(
    TraceStore, MetricsReader, TailSamplingStore, ModelReader, FeedbackWriter, PendingFeedbackStore, DriftReader,
    BaselineStore, ModelSignalStore, LogStore, OtlpMetricStore, ModelAnalyticsReader, ConceptDriftReader,
    PredictionExporter, ScoreReader, AlertStore, SpanWindowReader, SubjectEraser, RetentionStore, TokenStore, Protocol,
):
    """Everything the platform asks of a store. Every backend answers all of it (the SQL is
    shared, `store.clickhouse.store`), so the composition root needs no capability checks; the
    narrow Protocols stay what each service depends on."""

    def data_projects(self) -> list[str]:
        """Every project that has sent spans (the platform's jobs run per project)."""
        ...
