"""The doctor app's endpoints, one module per concern (doctor/urls.py lists them)."""
