"""The import rule holds: plumbing <- accounts <- moderation <- chat, the text filter imports
no models, no cycles inside moderation, accounts, plumbing or chat, at any depth
(pyproject.toml's `[tool.importlinter]` contracts, checked by the real `lint-imports`)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is pinned in requirements.txt"
    return subprocess.run([command, "--no-cache"], cwd=root, capture_output=True, text=True,
                          timeout=120)


def test_imports_run_one_way() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy_of_project(tmp_path: Path) -> Path:
    """The project's packages and contracts in a scratch directory, to break on purpose."""
    for package in ("chat", "moderation", "accounts", "chatsite"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(("module", "wrong_import", "contract"), [
    ("moderation/bans.py", "from chat.notify import notify_user_sync",
     "Apps import one way"),
    ("accounts/deletion.py", "from moderation.models import Decision",
     "Apps import one way"),
    ("chatsite/plumbing/ratelimit.py", "from accounts.models import User",
     "Apps import one way"),
    ("moderation/filtering/harm.py", "from moderation.models import Report",
     "The text filter imports no models"),
    ("moderation/reports.py", "from moderation import analysis",
     "No import cycles inside moderation"),
    # Even for type hints only: the socket names what it needs of its consumer as a Protocol.
    ("chat/live/socket.py", "from chat.consumers import ChatConsumer",
     "No import cycles inside chat"),
    ("chat/live/socket.py", "from chat.live.conversation import Conversation",
     "No import cycles inside chat"),
    # The keeping-in-touch rules never reach into the socket, nor into history (which exports them).
    ("chat/contacts/services.py", "from chat.live.socket import Socket",
     "No import cycles inside chat"),
    ("chat/contacts/services.py", "from chat.history import export",
     "No import cycles inside chat"),
])
def test_an_import_the_wrong_way_fails_the_check(copy_of_project: Path, module: str,
                                                  wrong_import: str, contract: str) -> None:
    path = copy_of_project / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # noqa\n")
    result = lint_imports(copy_of_project)
    assert result.returncode != 0
    broken = result.stdout.partition("Broken contracts")[2]
    assert contract in broken, result.stdout
