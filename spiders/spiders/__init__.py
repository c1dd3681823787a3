"""Spiders of the policywatch project."""
