"""zegel.milter — the milter service: verify inbound mail, sign outbound mail (see docs/milter.md).

- :mod:`zegel.milter.protocol`: the wire codec (libmilter protocol version 6).
- :mod:`zegel.milter.server`: sessions and the listening server.
- :mod:`zegel.milter.handler`: what happens to one message (verify, strip/add headers, sign, seal).
- :mod:`zegel.milter.config`: the TOML configuration, validated.
- :mod:`zegel.milter.metrics`: Prometheus ``/metrics``.
- :mod:`zegel.milter.service`: wiring, signals, graceful shutdown.
"""
