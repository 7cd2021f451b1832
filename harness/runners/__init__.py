"""One runner per tool, each a plain function returning `list[RunRecord]`: `micro`
(pytest-benchmark), `load` (locust), `sweep`, `simulate`, `profiling` (pyinstrument) and
`resilience` (load under faults, then the mock's verdict). What they share is in `support/`."""
