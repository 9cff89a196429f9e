"""Local infrastructure the project starts itself: embedded PostgreSQL and the tansu broker.

Production never imports this package: there PostgreSQL and Kafka are real clusters and only
addresses (settings) change.
"""
