"""Event bus backends side by side: `memory` (embedded, in-process) and `rabbitmq` (production)."""
