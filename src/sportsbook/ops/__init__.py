"""Operations: metrics, structured logs, health checks and the HTTP error contract."""
