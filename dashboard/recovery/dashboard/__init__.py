"""The Streamlit dashboard. It talks to the service over HTTP only (client.py), so it works
against a remote deployment; it imports nothing from recovery.model or recovery.service."""
