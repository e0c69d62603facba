"""Pricing: fair probabilities from models, and prices with a margin on the odds ladder. Pure."""
