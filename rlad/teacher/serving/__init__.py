"""A teacher in another process: the HTTP client, the wire protocol and `rlad serve-teacher`'s server."""
