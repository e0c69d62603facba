"""Live odds: every market change this node's catalogue takes, to the players watching it over `GET /ws/odds`.

model.py (frames, client messages, the conflating outbox: pure), channel.py (how one node's committed markets reach
every node) with a file per backend (memory.py, redis.py), service.py (the hub: subscriptions, fan-out, writers,
heartbeats), routes.py (the WebSocket endpoint)."""
