"""Reference implementations of the code the seed report talks about, "legacy" and "optimized".

- `extractors`: response-text extraction (`legacy` nine-fallback walk, `priority` direct path)
- `tokens`: token grants, stores and providers (`file`, `memory-ttl`), all counted
- `upstream`, `clients`: Models API clients (`sync-wrapper`, `async`, `async-batching`)
- `gateway`: the OpenAI-compatible gateway built from them (Flask sync, aiohttp async)

This package is the measured code: it imports nothing from the rest of `harness`.
"""
