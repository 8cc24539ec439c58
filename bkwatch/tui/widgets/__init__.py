"""Shared pieces: the line-based list widget, formatting, the footer, throttles, terminal signals,
the trust banner.
"""
