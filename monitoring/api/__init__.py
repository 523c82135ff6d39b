"""The monitoring API under `/api/v1/monitoring/`, for staff only."""
