from types import SimpleNamespace

from integrations.systems.http import HttpClient


def test_scrub_masks_every_secret_credential_and_keeps_identifiers():
    conn = SimpleNamespace(base_url="http://127.0.0.1:9", options={},
                           credentials={"client_id": "acme-integration", "client_secret": "s3cr3t-value",
                                        "dev_key": "DEVKEY-123", "username": "svc-user"})
    client = HttpClient(conn, system="test")
    text = client.scrub("login svc-user with s3cr3t-value and DEVKEY-123 for acme-integration failed")
    assert "s3cr3t-value" not in text and "DEVKEY-123" not in text
    assert "svc-user" in text and "acme-integration" in text  # identifiers help the reader and are no secret
    assert client.scrub(None) == ""
