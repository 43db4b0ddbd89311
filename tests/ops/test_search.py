"""The batch search finds a batch from any id a person has in hand, within their own tenant only."""

import pytest

from tests.factories import make_batch

BATCHES = "/integrations/batch/"


@pytest.fixture
def batches(tenant, other_tenant):
    mine = make_batch(tenant, source_id="88123", external_ref="EXP-88123", target_document_id="JE 4711")
    mine.posting = {**mine.posting, "target": {"batch_number": "90210", "document_number": "4711"}}
    mine.save()
    theirs = make_batch(other_tenant, source_id="77001", external_ref="EXP-77001", target_document_id="JE 5000")
    theirs.posting = {**theirs.posting, "target": {"batch_number": "90299"}}
    theirs.save()
    return mine, theirs


def found(client, term):
    response = client.get(BATCHES, {"q": term})
    return {b.pk for b in response.context["cl"].result_list}


@pytest.mark.parametrize("term", ["88123", "EXP-88123", "JE 4711", "4711", "90210"])
def test_any_id_finds_the_batch(support_client, batches, term):
    mine, _ = batches
    assert found(support_client, term) == {mine.pk}


def test_customer_search_never_reaches_another_tenant(customer_client, batches):
    mine, _ = batches
    assert found(customer_client, "90299") == set() and found(customer_client, "77001") == set()
    assert found(customer_client, "902") == {mine.pk}
