"""The catalogue: sports, events, markets and selections with their prices, served from memory."""
