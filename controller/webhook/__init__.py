"""GitHub webhook intake: verified pull_request events -> PreviewEnvironment objects.

`signature` (HMAC check), `events` (payload -> PullRequest and the pure
ordering rules), `mapping` (repository -> team and blueprint), `github`
(small REST client), `store` (writes through the API server, the durable
queue), `app` (the Starlette service), `cli` (`mayfly webhook serve|send`).
"""
