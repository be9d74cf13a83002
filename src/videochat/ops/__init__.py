"""What an operator watches: logs, health checks, Prometheus metrics."""
