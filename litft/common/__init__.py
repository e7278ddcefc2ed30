"""Layer 0, what every layer shares: the user-error class, atomic writes, output ownership, path checks, settings types, rate limiting. No torch."""
