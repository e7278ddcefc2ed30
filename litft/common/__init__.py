"""Layer 0, what every layer shares. No torch.

The user-error class, atomic writes, output ownership, path checks, settings types, rate limiting.
"""
