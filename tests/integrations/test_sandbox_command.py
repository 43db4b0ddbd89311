"""`manage.py sandbox` serves the vendor fakes over HTTP until stopped."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_command_serves_credentials_and_the_vendor_paths():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "sandbox", "--port", str(port), "--size", "5"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                creds = requests.get(f"{base}/_sandbox/credentials", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("the sandbox did not start")
        assert set(creds) >= {"expensify", "jde"}
        token = requests.post(f"{base}/jde/jderest/v2/tokenrequest", json=creds["jde"], timeout=5)
        assert token.status_code == 200 and token.json()["userInfo"]["token"]
        bad = requests.post(f"{base}/expensify/Integration-Server/ExpensifyIntegrations", timeout=5,
                            data={"requestJobDescription": '{"type":"get","credentials":{"partnerUserID":"x",'
                                                           '"partnerUserSecret":"y"},"inputSettings":{"type":"policyList"}}'})
        assert bad.json()["responseCode"] != 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
