"""The Assistants v2 REST API over HTTP and SSE, on the app's store and runtime.

Headless, and loaded only by ``investor-assistant serve``: the web framework (Starlette,
uvicorn, sse-starlette) is imported by ``app`` and ``serve``, never by the rest of the core,
so the app's start-up does not pay for it. ``keys`` (API keys) imports none of it.

* ``app``        routes, authentication, limits and the error envelope
* ``service``    the endpoints' work on the store and runtime, scoped to a project
* ``params``     request validation (the API's parameters, its 400 messages)
* ``wire``       objects and events in the API's shapes (``openai.types.beta``)
* ``streaming``  a run's events as an SSE response
* ``keys``       API keys: making, hashing, checking
* ``serve``      uvicorn: start-up checks, the start banner, draining on SIGTERM
"""
