"""A mock of Salesforce's OAuth token endpoint and Models API, for measuring gateways.

Importable on its own (it imports nothing from the sfperf harness): run it as a server
(`python -m mock_salesforce`), start it in tests (the `sfperf_mock` pytest plugin), or
embed it (`create_app`).
"""
