"""An order call the sandbox carries out but answers badly (an error, too late, or not at all): the
order exists exactly once and is found by its tag; the request log shows every call as sent."""

from __future__ import annotations

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from kite_sandbox.faults import AfterAccept
from kite_sandbox.request_log import MASK
from tests.kite_sandbox.matching.helpers import call, order_row, pin, place
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox

ERRORS: dict[AfterAccept, type[Exception]] = {
    AfterAccept.ERROR: kite_errors.NetworkException,
    AfterAccept.LATE: requests.exceptions.Timeout,
    AfterAccept.DROP: requests.exceptions.ConnectionError,
}


@pytest.mark.parametrize("how", list(AfterAccept))
async def test_a_place_that_fails_after_acceptance_leaves_one_order_found_by_its_tag(
    how: AfterAccept,
) -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        impatient = KiteConnect(
            sandbox.config.api_key, access_token=kite.access_token, root=sandbox.root_url, timeout=0.3
        )
        pin(sandbox, last=1500.0)
        sandbox.faults.fail_after_accept(how=how, status=504, delay_s=1.0)
        with pytest.raises(ERRORS[how]):
            await place(impatient, price=1400.0, quantity=5, tag="sig42")
        orders = await call(kite, "orders")
        again = await place(kite, price=1400.0, quantity=5, tag="sig43")  # the fault was used up
    tagged = [o for o in orders if o["tag"] == "sig42"]
    assert len(tagged) == 1
    assert tagged[0]["status"] == "OPEN"
    assert order_row(sandbox, again)["status"] == "OPEN"
    placed = [e for e in sandbox.requests.order_calls() if e.method == "POST"]
    assert [e.form["tag"] for e in placed] == ["sig42", "sig43"]  # the client sent it once


async def test_a_refused_order_does_not_use_up_the_fault() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        sandbox.faults.fail_after_accept(status=502)
        with pytest.raises(kite_errors.InputException):
            await place(kite, price=1400.03, quantity=1)
        with pytest.raises(kite_errors.NetworkException, match="after the order was accepted"):
            await place(kite, price=1400.0, quantity=1, tag="t2")
        orders = await call(kite, "orders")
    assert [o["tag"] for o in orders] == ["t2"]


async def test_modify_and_cancel_can_fail_after_acceptance_too() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, price=1400.0, quantity=1)
        sandbox.faults.fail_after_accept(count=2, status=503)
        with pytest.raises(kite_errors.NetworkException):
            await call(kite, "modify_order", "regular", order_id, price=1401.0)
        with pytest.raises(kite_errors.NetworkException):
            await call(kite, "cancel_order", "regular", order_id)
        row = order_row(sandbox, order_id)
    assert row["price"] == 1401.0
    assert row["status"] == "CANCELLED"


async def test_fail_after_accept_wants_an_ambiguous_failure() -> None:
    async with running_sandbox() as sandbox:
        faults = sandbox.faults
        with pytest.raises(ValueError, match="5xx"):
            faults.fail_after_accept(status=400)
        with pytest.raises(ValueError, match="how must be one of"):
            faults.fail_after_accept(how="sometimes")
        faults.fail_after_accept(count=2)
        faults.clear()
        assert faults.take_after_accept() is None


async def test_the_request_log_holds_every_call_with_its_form_and_no_credentials() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        await call(kite, "orders")
        order_id = await place(kite, price=1400.0, quantity=3, tag="logme")
        await call(kite, "cancel_order", "regular", order_id)
        await call(kite, "invalidate_access_token")
    entries = sandbox.requests.entries
    assert [e.route for e in entries] == [
        "POST /session/token",
        "GET /orders",
        "POST /orders/{variety}",
        "DELETE /orders/{variety}/{order_id}",
        "DELETE /session/token",
    ]
    assert entries[0].form["request_token"] == entries[0].form["checksum"] == MASK
    assert entries[-1].query["access_token"] == MASK
    assert entries[2].form["tag"] == "logme"
    assert entries[2].form["quantity"] == "3"
    assert entries[3].path == f"/orders/regular/{order_id}"
    assert [e.method for e in sandbox.requests.order_calls()] == ["POST", "DELETE"]
    assert kite.access_token not in repr(entries)
