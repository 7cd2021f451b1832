"""The report card of a target: black-box measurements of a gateway over a measured window.

`window` observes a window from outside (the mock's journal, the launch shim's io snapshots, the
target's self-reported metrics); `measures` turns an observation and the load's rows into one
`card` RunRecord; `selfreport` lines up the target's own figures with the measured ones.
Nothing here trusts the target: every figure comes from the mock, the shim or the client.
"""
