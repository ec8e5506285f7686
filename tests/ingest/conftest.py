from __future__ import annotations

from pathlib import Path

import pytest

from patron import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh workspace in New York time with US phone numbers."""
    return Workspace.init(tmp_path / "ws", timezone="America/New_York", phone_region="US")
