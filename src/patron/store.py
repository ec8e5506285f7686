"""The operational store: small transactional state beside the warehouse.

Campaign sends, consent and suppression, experiment assignments and API keys need unique
constraints and row-level transactions, which an analytical warehouse does not promise. They
live here: a SQLite file in the workspace by default, PostgreSQL by URL. This module owns the
schema; later features add their tables to :data:`METADATA`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from patron.errors import WorkspaceError
from patron.warehouse import without_password

METADATA = sa.MetaData()

WORKSPACE_META = sa.Table(
    "workspace_meta",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

SCHEMA_VERSION = "1"


class Store:
    """An open operational store; ``sqlite:///NAME`` with a relative NAME lives in ``folder``;
    ``postgres://`` or ``postgresql://`` (as the warehouse is written) means SQLAlchemy's
    ``postgresql+psycopg://``, the driver patron installs."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = _resolve(url, folder)
        try:
            self.engine = sa.create_engine(self.url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            shown = without_password(url)
            raise WorkspaceError(f"cannot open the operational store {shown!r}: {exc}") from exc

    def create(self) -> None:
        """Create the schema and stamp its version."""
        METADATA.create_all(self.engine)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(WORKSPACE_META).where(WORKSPACE_META.c.key == "schema"))
            conn.execute(sa.insert(WORKSPACE_META).values(key="schema", value=SCHEMA_VERSION))

    def schema_version(self) -> str | None:
        query = sa.select(WORKSPACE_META.c.value).where(WORKSPACE_META.c.key == "schema")
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def close(self) -> None:
        self.engine.dispose()


def _resolve(url: str, folder: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str(folder / url[len(prefix) :])
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url
