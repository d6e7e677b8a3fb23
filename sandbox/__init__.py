"""A local stand-in for Xledger, Entra ID, Dataverse and Business Central.

Run it alone with `python -m sandbox`, or embed it with `sandbox.server.serve()`; tests use
`sandbox.testing.running_sandbox()`. The contract with the adapters is
docs/SANDBOX_CONTRACT.md.
"""
