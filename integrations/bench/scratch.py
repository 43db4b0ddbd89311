"""Scratch databases: migrated once into a template, cloned for every run, dropped at the end.

Every measured run gets a database of its own, so the second size does not pay for the rows
of the first. SQLite clones are file copies; PostgreSQL clones are ``CREATE DATABASE ...
TEMPLATE``. The benchmark never touches the database the portal itself is configured with:
only the server location (host, port, user) of a PostgreSQL URL is reused, under fresh names.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


def is_postgres(url):
    return bool(url) and urlsplit(url).scheme in ("postgres", "postgresql", "pgsql", "postgis")


def choose_server(force_postgres=False, force_sqlite=False, environ=os.environ):
    """The PostgreSQL server URL to make scratch databases on, or None for SQLite files."""
    if force_sqlite:
        return None
    for name in ("BENCH_DATABASE_URL", "DATABASE_URL"):
        if is_postgres(environ.get(name)):
            return environ[name]
    return DEFAULT_POSTGRES if force_postgres else None


def with_database(url, name):
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def migrate(url, root, progress):
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"migrate into the scratch database failed:\n{done.stdout}{done.stderr}")
    progress("scratch database migrated")


class SqliteScratch:
    vendor = "sqlite"

    def __init__(self, root, progress):
        self.dir = Path(tempfile.mkdtemp(prefix="mlc-bench-"))
        self.template = self.dir / "template.sqlite3"
        self.count = 0
        try:
            migrate(f"sqlite:///{self.template}", root, progress)
        except Exception:
            self.close()
            raise

    def clone(self):
        self.count += 1
        path = self.dir / f"run{self.count}.sqlite3"
        shutil.copyfile(self.template, path)
        wal = self.template.with_name(self.template.name + "-wal")
        if wal.exists():  # normally folded in when migrate closed its connection; if not, it holds part of the schema
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
        return f"sqlite:///{path}"

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresScratch:
    vendor = "postgresql"

    def __init__(self, server_url, root, progress, prefix="mlc_bench"):
        import psycopg

        self.server_url = server_url
        self.prefix = f"{prefix}_{os.getpid()}"
        self.names = []
        # The maintenance database, not the one in the URL: that one may be somebody's real data.
        self.admin = psycopg.connect(with_database(server_url, "postgres"), autocommit=True)
        try:
            self.template = self._create(f"{self.prefix}_template")
            migrate(with_database(server_url, self.template), root, progress)
        except Exception:
            self.close()
            raise

    def _create(self, name, template=None):
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        self.admin.execute(statement)
        self.names.append(name)
        return name

    def clone(self):
        name = self._create(f"{self.prefix}_run{len(self.names)}", template=self.template)
        return with_database(self.server_url, name)

    def close(self):
        from psycopg import sql

        for name in reversed(self.names):
            self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self.admin.close()


def open_scratch(server_url, root, progress):
    if server_url:
        progress(f"scratch PostgreSQL databases on {urlsplit(server_url).hostname}:{urlsplit(server_url).port or 5432}")
        return PostgresScratch(server_url, root, progress)
    progress("scratch SQLite databases in a temporary directory")
    return SqliteScratch(root, progress)
