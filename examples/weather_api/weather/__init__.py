"""A weather API a creator might sell: deterministic, so its answers are testable."""
