"""Research scripts, configs and results the shipped models do not need (README.md)."""
