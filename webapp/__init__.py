"""Ledgerlink web application."""
