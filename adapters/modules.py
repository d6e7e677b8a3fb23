"""Imports every adapter module so each registers itself. Add a new system's module here."""
