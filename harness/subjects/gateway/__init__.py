"""The reference OpenAI-compatible gateway, in the variants the seed report compares.

`variants.VARIANTS` names them; `serve.run_in_thread(GatewayOptions(...))` serves one for tests
and tools; `python -m harness.subjects.gateway --variant NAME --upstream URL` serves one from a
shell. This package file imports nothing, so `sfperf --help` stays fast.
"""
