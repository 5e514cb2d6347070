"""Performance benchmarks for zitadel-bff (``make bench`` = ``python -m bench``).

Modules: ``servers`` (provider, app and baseline processes), ``wrk`` (load generation),
``baseline`` (the bare-framework apps we compare against), ``http`` (route throughput, login
round trip, memory), ``stores`` (session stores at 1,000 and 1,000,000 sessions), ``chart``
(the PNG) and ``report`` (table and results.json). See docs/PERFORMANCE.md.
"""
