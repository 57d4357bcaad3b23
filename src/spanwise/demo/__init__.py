"""`spanwise demo`: a living AI system on the SDK, sending real OTLP traffic.

A frontend, a checkout API, a feature store, a churn classifier and a lifetime-value
regressor (two versions each, split A/B by customer) and a post-processor run as HTTP
services on loopback, each with its own tracer provider; trace context crosses every call.
The models are scikit-learn, trained at start-up on generated data, their training
profiles uploaded as drift baselines. Seven days of history are backfilled first, then
live traffic runs with delayed ground truth and scheduled incidents (see `world.py`).
"""
