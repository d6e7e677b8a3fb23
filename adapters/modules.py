"""Imports every adapter module so each registers itself. Add a new system's module here."""

from adapters import business_central, dataverse, tripletex, xledger  # noqa: F401
