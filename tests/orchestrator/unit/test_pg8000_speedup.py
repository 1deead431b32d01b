"""The pg8000 placeholder cache gives exactly what pg8000 gives, and its patch point still exists."""

from __future__ import annotations

import inspect

import pg8000.dbapi
import pg8000.legacy

from chalicelib.db.engine import speed_up_pg8000


def test_patch_point_is_where_the_cache_expects_it() -> None:
    # pg8000.legacy must still call a module-level convert_paramstyle(style, query, args) by that name
    source = inspect.getsource(pg8000.legacy.Cursor.execute)
    assert "convert_paramstyle(self.paramstyle, operation, args)" in source
    assert pg8000.__version__ == "1.31.6"
    assert list(inspect.signature(pg8000.dbapi.convert_paramstyle).parameters) == ["style", "query", "args"]


def test_cached_conversion_equals_the_original() -> None:
    # GIVEN statements with placeholders, quoted percent signs and comments
    queries = [
        "SELECT %s, %s",
        "INSERT INTO t (a, b) VALUES (%s, %s) ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE t.b != %s",
        "SELECT '%%s literal', %s -- comment %s\n, %s",
        "SELECT E'it''s', \"col%s\", %s",
    ]
    speed_up_pg8000()
    patched = pg8000.legacy.convert_paramstyle
    original = patched.__wrapped_original__
    for query in queries:
        args = tuple(range(query.count("%s")))
        # WHEN converted twice through the cache
        first = patched("format", query, args)
        second = patched("format", query, args)
        # THEN both equal pg8000's own conversion, values untouched
        assert first == second == original("format", query, args)
    # AND other paramstyles go straight through to pg8000
    assert patched("named", "SELECT :a", {"a": 1}) == original("named", "SELECT :a", {"a": 1})
