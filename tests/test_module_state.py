"""No module of the project keeps mutable state at module level: what a process holds open or
learns while it runs lives in its runtime (`chatsite.plumbing.runtime`), and a module's
tables are constants (tuple, frozenset, `types.MappingProxyType`).

Read from the source (an AST scan of `chatsite`, `chat`, `moderation` and `accounts`, without
migrations), so that a new module-level dict, list, set, deque, weak dictionary, `global` or
cache fails here before it ever holds a value. Each exception is named below with the reason
it is fine."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("chatsite", "chat", "moderation", "accounts")

# Calls that make a mutable container, by their full name.
MUTABLE_CALLS = frozenset({
    "dict", "list", "set", "bytearray", "str.maketrans",
    "collections.defaultdict", "collections.deque", "collections.OrderedDict",
    "collections.Counter", "collections.ChainMap", "threading.local",
    "weakref.WeakKeyDictionary", "weakref.WeakValueDictionary", "weakref.WeakSet",
})
MUTABLE_NODES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
CACHES = frozenset({"functools.cache", "functools.lru_cache"})

# Shapes that frameworks read once, at start-up, in the form their documentation gives.
SETTINGS_MODULE = "chatsite/settings.py"  # Django's settings: read through django.conf
DJANGO_OPTIONS_CLASS = "Meta"  # a model's or form's options, copied by Django into _meta
URLCONF_NAMES = frozenset({"urlpatterns", "websocket_urlpatterns"})  # read by the resolver

ALLOWED = {
    "chatsite/plumbing/runtime.py: RUNTIME": "the one runtime, where per-process state lives",
    # allauth refuses anything but a list here (ImproperlyConfigured: "expected to be a list").
    "moderation/filtering/filters.py: HANDLE_VALIDATORS":
        "allauth's ACCOUNT_USERNAME_VALIDATORS must be a list",
    # Caches of pure functions: the same arguments give the same answer for the life of the
    # process, so a cached answer is never stale.
    "chatsite/plumbing/crypto.py: @derived_key": "a key derived from its argument",
    "chatsite/plumbing/crypto.py: @_cipher_for": "the cipher for the keys it is given",
    "chatsite/plumbing/crypto.py: @_line_ciphers": "the ciphers for the keys it is given",
    "chatsite/plumbing/lua/__init__.py: @source": "a script's text, from files in the code",
    "moderation/filtering/filters.py: @_fold_char": "one character folded, a pure function",
    "moderation/filtering/filters.py: @matcher": "built from the word lists shipped as code",
    "moderation/filtering/filters.py: @single_words": "read from the word lists shipped as code",
    "moderation/filtering/harm.py: @_triggers": "built from the TRIGGERS constant",
    "moderation/analysis.py: @_classifier": "an import on first use (scikit-learn is heavy)",
}


def project_files() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def imported_names(tree: ast.Module) -> dict[str, str]:
    """What each name bound by an import stands for: `deque` -> `collections.deque`."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.partition(".")[0]] = (
                    alias.name if alias.asname else alias.name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def full_name(node: ast.expr, imports: dict[str, str]) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return imports.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return f"{full_name(node.value, imports)}.{node.attr}"
    return ""


def module_level(body: list[ast.stmt], where: str = "") -> Iterator[tuple[str, ast.stmt]]:
    """Statements run once at import: the module's own, those under a module-level `if`,
    `try` or `with`, and the bodies of its classes (a class attribute is shared by all)."""
    for node in body:
        yield where, node
        if isinstance(node, ast.ClassDef):
            yield from module_level(node.body, f"{where}{node.name}.")
        for block in ("body", "orelse", "finalbody"):
            if isinstance(node, ast.If | ast.Try | ast.With) and hasattr(node, block):
                yield from module_level(getattr(node, block), where)
        for handler in getattr(node, "handlers", ()):
            yield from module_level(handler.body, where)


def makes_mutable(value: ast.expr, imports: dict[str, str]) -> bool:
    """A literal, comprehension or call that makes a mutable container, or an operation on
    one (`{...} | {...}`, `[...] + [...]`)."""
    if isinstance(value, ast.BinOp):
        return makes_mutable(value.left, imports) or makes_mutable(value.right, imports)
    return isinstance(value, MUTABLE_NODES) or (
        isinstance(value, ast.Call) and full_name(value, imports) in MUTABLE_CALLS)


def framework_shape(relative: str, where: str, name: str) -> bool:
    return (relative == SETTINGS_MODULE or f".{DJANGO_OPTIONS_CLASS}." in f".{where}"
            or (not where and name in URLCONF_NAMES))


def project_instance(value: ast.expr, imports: dict[str, str], classes: set[str]) -> bool:
    """An object of one of the project's own classes: it may hold anything (`Tracker()`)."""
    if not isinstance(value, ast.Call):
        return False
    name = full_name(value, imports)
    return name in classes or (name.partition(".")[0] in PACKAGES
                               and name.rpartition(".")[2][:1].isupper())


def findings(path: Path, source: str) -> Iterator[str]:
    """`path: NAME` for each mutable module-level value or object of a project class,
    `path: @function` for each cache, `path: global NAME` for each `global` statement."""
    relative = path.relative_to(ROOT).as_posix()
    tree = ast.parse(source)
    imports = imported_names(tree)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    for where, node in module_level(tree.body):
        if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = ast.unparse(target)
            if framework_shape(relative, where, name):
                continue
            if isinstance(target, ast.Subscript):  # a module's table filled in at import
                yield f"{relative}: {where}{name} (changed at import)"
            elif node.value is not None and (makes_mutable(node.value, imports)
                                             or project_instance(node.value, imports, classes)):
                yield f"{relative}: {where}{name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            yield from (f"{relative}: global {name}" for name in node.names)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if full_name(decorator, imports) in CACHES:
                    yield f"{relative}: @{node.name}"


def test_no_module_keeps_mutable_state() -> None:
    found = [finding for path in project_files()
             for finding in findings(path, path.read_text(encoding="utf-8"))]
    unexplained = [finding for finding in found if finding not in ALLOWED]
    assert not unexplained, (
        "module-level mutable state: make it a constant (tuple, frozenset, MappingProxyType) or "
        "a part of the runtime (chatsite.plumbing.runtime), or name it in ALLOWED with why:\n"
        + "\n".join(unexplained))
    stale = set(ALLOWED) - set(found)
    assert not stale, f"ALLOWED names what no longer exists: {sorted(stale)}"


@pytest.mark.parametrize(("source", "finding"), [
    ("SEEN = {}\n", "SEEN"),
    ("SEEN: dict[str, int] = {}\n", "SEEN"),
    ("_sockets = set()\n", "_sockets"),
    ("from collections import deque\nQUEUE = deque(maxlen=3)\n", "QUEUE"),
    ("import weakref\nPER_LOOP = weakref.WeakKeyDictionary()\n", "PER_LOOP"),
    ("class Registry:\n    handlers = []\n", "Registry.handlers"),
    ("try:\n    CLIENTS = {k: None for k in 'ab'}\nexcept ImportError:\n    pass\n", "CLIENTS"),
    ("TABLE = str.maketrans('a', 'b')\n", "TABLE"),
    ("FRAMES = {'ping': 1} | {k: 2 for k in 'ab'}\n", "FRAMES"),
    ("class Tracked:\n    pass\n\nTRACKED = Tracked()\n", "TRACKED"),
    ("from chat.history import HistoryWriter\nWRITER = HistoryWriter()\n", "WRITER"),
    ("from types import MappingProxyType\nT = MappingProxyType({})\nT2 = {}\nT2['x'] = 1\n",
     "T2['x'] (changed at import)"),
    ("_client = None\ndef client():\n    global _client\n", "global _client"),
    ("from functools import lru_cache\n@lru_cache\ndef alive(user): ...\n", "@alive"),
    ("import functools\n@functools.cache\ndef alive(user): ...\n", "@alive"),
])
def test_the_scan_sees_each_kind_of_module_state(source: str, finding: str) -> None:
    """The scan is not blind: each kind of module-level state, written into a module."""
    path = ROOT / "chat" / "example.py"
    assert f"chat/example.py: {finding}" in list(findings(path, source))


@pytest.mark.parametrize("source", [
    "MODES = ('text', 'video')\n",
    "NAMES = frozenset({'a', 'b'})\n",
    "from types import MappingProxyType\nUNITS = MappingProxyType({'s': 1, 'm': 60})\n",
    "class Meta:\n    indexes = []\n",
    "urlpatterns = []\n",
    "def f():\n    seen = {}\n    return seen\n",
])
def test_constants_and_local_state_pass(source: str) -> None:
    assert list(findings(ROOT / "chat" / "example.py", source)) == []
