"""The GitHub client against a local recording server: pagination, retries, rate limits."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from controller.webhook.github import GitHub, GitHubError
from tests.webhook.recording import Call, Reply, recording


def test_pull_files_paginates_and_retries_server_errors() -> None:
    state = {"fail": 1}

    def handler(call: Call) -> Reply:
        if state["fail"]:
            state["fail"] -= 1
            return 502, {"message": "bad gateway"}, {}
        page = int(parse_qs(urlsplit(call.path).query)["page"][0])
        files = [{"filename": f"f{page}-{i}"} for i in range(100 if page == 1 else 3)]
        link = '<x>; rel="next"' if page == 1 else ""
        return 200, files, {"Link": link}

    waits: list[float] = []
    with recording(handler) as gh_server:
        gh = GitHub(gh_server.url, token="t0ken", sleep=waits.append)
        paths = gh.pull_files("acme/shop", 5)
    assert len(paths) == 103
    assert [c.path.split("?")[0] for c in gh_server.calls] == ["/repos/acme/shop/pulls/5/files"] * 3
    assert gh_server.calls[0].headers["Authorization"] == "Bearer t0ken"
    assert len(waits) == 1


def test_rate_limit_waits_for_retry_after() -> None:
    state = {"limited": True}

    def handler(call: Call) -> Reply:
        if state["limited"]:
            state["limited"] = False
            return 429, {"message": "slow down"}, {"Retry-After": "7"}
        return 200, [{"filename": "a.py"}], {}

    waits: list[float] = []
    with recording(handler) as gh_server:
        assert GitHub(gh_server.url, sleep=waits.append).pull_files("a/b", 1) == ("a.py",)
    assert waits == [7.0]


def test_client_errors_are_terminal_and_retries_are_bounded() -> None:
    with recording(lambda call: (404, {"message": "Not Found"}, {})) as gh_server:
        with pytest.raises(GitHubError) as err:
            GitHub(gh_server.url, sleep=lambda s: None).pull_files("a/b", 1)
        assert err.value.status == 404
        assert len(gh_server.calls) == 1
    with recording(lambda call: (500, {}, {})) as gh_server:
        with pytest.raises(GitHubError, match="gave up"):
            GitHub(gh_server.url, retries=2, sleep=lambda s: None).pull_files("a/b", 1)
        assert len(gh_server.calls) == 3
