"""GET /api/reports/summary pages its sources: limit (1-1000, default 200) and offset, with the
totals and the next page's offset in the answer; the keys it always had stay as they were."""

from __future__ import annotations

import httpx

from tests.console.conftest import Console


def test_summary_api_pages_sources(console: Console) -> None:
    headers = {"Authorization": f"Bearer {console.tokens['alice']}"}
    base = f"{console.url}/api/reports/summary?domain=shop.example&since=30d"
    whole = httpx.get(base, headers=headers, timeout=20).json()
    # The keys the API always had are all there; paging only adds keys.
    assert {"domain", "since", "reports", "messages", "dmarc_pass", "policy", "sources", "would_be_hurt", "senders",
            "next_step", "recommendation", "pass_rate", "legitimate_pass_rate", "explanations"} <= set(whole)
    total = whole["sources_total"]
    assert total >= 3 and len(whole["sources"]) == total  # fewer than the default 200: one page
    assert (whole["offset"], whole["limit"], whole["next_offset"]) == (0, 200, None)
    ranked = [s["source_ip"] for s in whole["sources"]]
    assert [s["messages"] for s in whole["sources"]] == sorted((s["messages"] for s in whole["sources"]), reverse=True)

    pages, offset = [], 0
    while offset is not None:
        page = httpx.get(f"{base}&limit=2&offset={offset}", headers=headers, timeout=20).json()
        assert page["sources_total"] == total and len(page["sources"]) <= 2 and page["limit"] == 2
        assert len(page["would_be_hurt"]) <= 2 and page["would_be_hurt_total"] == whole["would_be_hurt_total"]
        assert page["messages"] == whole["messages"]  # totals are over every source, whatever the page
        pages.extend(s["source_ip"] for s in page["sources"])
        offset = page["next_offset"]
    assert pages == ranked

    past = httpx.get(f"{base}&limit=5&offset={total + 10}", headers=headers, timeout=20).json()
    assert past["sources"] == [] and past["next_offset"] is None and past["sources_total"] == total


def test_summary_api_refuses_bad_paging(console: Console) -> None:
    headers = {"Authorization": f"Bearer {console.tokens['alice']}"}
    base = f"{console.url}/api/reports/summary?domain=shop.example"
    for query, word in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
                        ("offset=-1", "offset"), ("limit=%D9%A1", "limit")):
        response = httpx.get(f"{base}&{query}", headers=headers, timeout=20)
        assert response.status_code == 400, query
        assert word in response.json()["error"]
    # Another customer's domain stays a 404, paged or not.
    other = httpx.get(f"{console.url}/api/reports/summary?domain=bakery.example&limit=5", headers=headers, timeout=20)
    assert other.status_code == 404


def test_monitor_history_limit_that_is_not_ascii_digits_is_ignored_not_a_server_error(console: Console) -> None:
    """str.isdigit() says yes to "²" and int() then raised: a 500 for ?limit=² before."""
    headers = {"Authorization": f"Bearer {console.tokens['alice']}"}
    base = f"{console.url}/api/monitor/shop.example"
    plain = httpx.get(base, headers=headers, timeout=20)
    for limit in ("%C2%B2", "%D9%A1", "ten", "9999999999"):
        odd = httpx.get(f"{base}?limit={limit}", headers=headers, timeout=20)
        assert odd.status_code == plain.status_code != 500, limit
        assert odd.json() == plain.json()
