"""Database access: the engine, the shared metadata and the migrations."""
