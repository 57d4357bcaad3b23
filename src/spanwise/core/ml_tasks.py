"""The learning tasks a model's quality and concept drift are computed for.

A classifier is judged by predicted label against ground-truth label (accuracy, F1, the
error rate), a regressor by the numeric error |y - y_hat|; config, the API's `task`
parameter and the store's queries all name the task with these words.
"""

from __future__ import annotations

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
