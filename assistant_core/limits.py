"""The defaults of every limit that keeps a run finite, in one place: the settings
declaration (``settings_spec``) offers them to the user, and the runtime and the backends
use them when built without settings (tests, the API server's own defaults)."""

from __future__ import annotations

#: Model turns a run may take (a tool-calling loop ends ``incomplete`` after them).
MAX_TURNS = 10
#: Tool calls one model turn may make; past them the stream is stopped with a note
#: (weak local models can list calls without end).
MAX_TOOL_CALLS_PER_STEP = 16
#: Completion tokens asked for per model request (a runaway reply stops there).
MAX_TURN_TOKENS = 4096
#: Working seconds of a run (time waiting for the user or a client not counted).
MAX_RUN_SECONDS = 600.0
#: Retries of a failed model request (429, 5xx, timeouts, dropped connections).
MAX_RETRIES = 3
#: Seconds a model turn may wait for its first event, every attempt and wait included.
GIVE_UP_AFTER_S = 120.0
#: Seconds to open a connection to the model server.
CONNECT_TIMEOUT_S = 5.0
#: Seconds from sending a request to the stream's first event.
FIRST_BYTE_TIMEOUT_S = 60.0
#: Seconds of silence allowed between two events of a stream (a reasoning model may think).
READ_TIMEOUT_S = 60.0
