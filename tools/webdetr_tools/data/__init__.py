"""Readers for the labeled and unlabeled image sets in ../shared/data (never copied into the repo)."""
