"""Model validation: credential keys per system, flow kind/system/tenant fit."""

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Connection, Flow
from integrations.systems.registry import CREDENTIAL_KEYS, FLOW_KINDS, SYSTEMS
from tests.factories import credentials_for, make_connection, make_flow

SYSTEM_KEYS = [(system, key) for system, keys in CREDENTIAL_KEYS.items() for key in keys]


def test_every_system_has_credential_keys():
    assert set(CREDENTIAL_KEYS) == set(SYSTEMS) == {"expensify", "jde", "ifs", "acumatica", "procurify", "bill"}
    assert CREDENTIAL_KEYS["jde"] == ["username", "password", "environment", "role"]
    assert CREDENTIAL_KEYS["expensify"] == ["partnerUserID", "partnerUserSecret"]


@pytest.mark.parametrize("system", sorted(CREDENTIAL_KEYS))
def test_complete_credentials_are_valid(tenant, system):
    conn = Connection(
        tenant=tenant, system=system, name="c", base_url="https://api.example.com", credentials=credentials_for(system)
    )
    conn.full_clean()


@pytest.mark.parametrize(("system", "key"), SYSTEM_KEYS, ids=[f"{s}-{k}" for s, k in SYSTEM_KEYS])
@pytest.mark.parametrize("how", ["absent", "blank"])
def test_a_missing_credential_key_is_an_error_naming_it(tenant, system, key, how):
    creds = credentials_for(system)
    if how == "absent":
        del creds[key]
    else:
        creds[key] = "   "
    conn = Connection(tenant=tenant, system=system, name="c", base_url="https://api.example.com", credentials=creds)
    with pytest.raises(ValidationError) as exc:
        conn.full_clean()
    message = " ".join(exc.value.message_dict["credentials"])
    assert key in message
    assert SYSTEMS[system] in message
    # and the error never carries a value
    assert not any(v in message for v in creds.values() if v.strip())


@pytest.mark.parametrize(("system", "value", "allowed"), [("bill", 3, True), ("bill", 4, False), ("jde", 16, True),
                                                         ("jde", 0, False), ("ifs", "many", False)])
def test_a_concurrency_beyond_the_vendor_limit_is_refused_and_capped_where_used(tenant, system, value, allowed):
    from integrations.engine.cycle import post_concurrency
    from integrations.systems.bill import BillClient

    conn = Connection(tenant=tenant, system=system, name="c", base_url="https://api.example.com",
                      credentials=credentials_for(system), options={"concurrency": value})
    if allowed:
        conn.full_clean()
    else:
        with pytest.raises(ValidationError) as exc:
            conn.full_clean()
        assert "concurrency" in " ".join(exc.value.message_dict["options"])
    if system == "bill":  # saved past the form (an import, the shell): still never more than BILL's 3 in flight
        conn.save()
        flow = make_flow(tenant, kind="jde_to_bill", target=conn)
        assert post_concurrency(flow) == 3 and BillClient(conn).concurrency == 3


def test_flow_kinds_cover_the_five_integrations_both_ways():
    pairs = {(src, dst) for _, src, dst in FLOW_KINDS.values()}
    assert {
        ("expensify", "jde"),
        ("expensify", "ifs"),
        ("jde", "procurify"),
        ("procurify", "jde"),
        ("expensify", "acumatica"),
        ("acumatica", "expensify"),
        ("jde", "bill"),
        ("bill", "jde"),
    } == pairs


def test_flow_with_fitting_connections_is_valid(tenant):
    make_flow(tenant).full_clean()


@pytest.mark.parametrize("side", ["source", "target"])
def test_flow_connection_of_the_wrong_system_is_an_error(tenant, side):
    flow = make_flow(tenant)
    setattr(flow, side, make_connection(tenant, "ifs"))
    with pytest.raises(ValidationError) as exc:
        flow.full_clean()
    message = " ".join(exc.value.message_dict[side])
    assert "IFS Cloud" in message
    assert (SYSTEMS["expensify"] if side == "source" else SYSTEMS["jde"]) in message


@pytest.mark.parametrize("side", ["source", "target"])
def test_flow_connection_of_another_tenant_is_an_error(tenant, other_tenant, side):
    flow = make_flow(tenant)
    setattr(flow, side, make_connection(other_tenant, "expensify" if side == "source" else "jde"))
    with pytest.raises(ValidationError) as exc:
        flow.full_clean()
    assert "another tenant" in " ".join(exc.value.message_dict[side])


def test_flow_trigger_token_is_stored_only_as_a_hash(tenant):
    flow = make_flow(tenant)
    token = flow.new_trigger_token()
    flow.save()
    flow.refresh_from_db()
    assert token not in flow.trigger_token_hash and len(flow.trigger_token_hash) == 64
    assert flow.check_trigger_token(token)
    assert not flow.check_trigger_token(token + "x")
    assert not Flow(trigger_token_hash="").check_trigger_token(token)
