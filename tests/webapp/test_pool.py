"""The PostgreSQL connection pool production uses: connections come back clean (no export
lock or transaction left on them), and a forked work horse never shares its parent's."""

from __future__ import annotations

import os

import psycopg

from tests import services
from webapp.db import PooledPostgresDatabase, db, init_database, is_postgres, open_database


def _lock_free(url: str, key: int) -> bool:
    with psycopg.connect(url, autocommit=True) as other:
        got = other.execute("SELECT pg_try_advisory_lock(4711, %s)", (key,)).fetchone()[0]
        if got:
            other.execute("SELECT pg_advisory_unlock(4711, %s)", (key,))
        return got


def test_a_lock_left_on_a_connection_does_not_survive_its_return_to_the_pool():
    with services.postgres_database() as url:
        database = open_database(url, pool=True)
        assert isinstance(database, PooledPostgresDatabase)
        database.connect()
        pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        database.execute_sql("SELECT pg_advisory_lock(4711, 1)")
        assert not _lock_free(url, 1)
        database.close()  # back to the pool: the session lock must go
        assert _lock_free(url, 1)
        database.connect()
        assert database.execute_sql("SELECT pg_backend_pid()").fetchone()[0] == pid  # reused
        database.close()
        database.close_all()


def test_a_connection_comes_back_without_the_transaction_left_open_on_it():
    with services.postgres_database() as url:
        database = open_database(url, pool=True)
        database.connect()
        database.execute_sql("CREATE TABLE note (text TEXT)")
        database.execute_sql("BEGIN")
        database.execute_sql("INSERT INTO note VALUES ('half done')")
        database.close()  # a request that ended mid-transaction
        database.connect()
        conn = database.connection()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert database.execute_sql("SELECT count(*) FROM note").fetchone()[0] == 0
        database.close()
        database.close_all()


def test_a_forked_child_opens_its_own_connection():
    with services.postgres_database() as url:
        previous = db.obj
        database = init_database(url, pool=True)
        try:
            assert is_postgres()
            database.connect()
            parent_pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
            read, write = os.pipe()
            child = os.fork()
            if child == 0:  # the work horse
                code = 1
                try:
                    database.connect(reuse_if_open=True)
                    own = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
                    os.write(write, str(own).encode())
                    code = 0
                finally:
                    os._exit(code)
            os.close(write)
            child_pid = int(os.read(read, 64) or b"0")
            os.waitpid(child, 0)
            assert child_pid and child_pid != parent_pid
            # The parent's connection still works after the child is gone.
            assert database.execute_sql("SELECT pg_backend_pid()").fetchone()[0] == parent_pid
            database.close()
            database.close_all()
        finally:
            db.initialize(previous)
