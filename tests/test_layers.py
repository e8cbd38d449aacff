"""What import-linter's contracts (``make lint``) cannot say in one line: a domain does not
reach into another domain's pages or HTTP routes. Domains share services (``service``,
``models``, ``schemas``); a page or route another domain needs belongs in the kernel
(``seva.templating``, ``seva.bodies``) instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import seva

SRC = Path(seva.__file__).resolve().parent
DOMAINS = (
    "applications", "citizens", "dashboard", "directory", "flows", "locker", "messaging",
    "rtc", "tenancy", "voice",
)  # fmt: skip
FACES = ("pages", "router", "api", "msdg_router")
"""Module names that hold a domain's pages and HTTP routes."""


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_no_domain_imports_another_domains_pages_or_routes() -> None:
    crossing = []
    for domain in DOMAINS:
        for path in (SRC / domain).rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if (
                    len(parts) >= 3
                    and parts[0] == "seva"
                    and parts[1] in DOMAINS
                    and parts[1] != domain
                    and parts[2] in FACES
                ):
                    crossing.append(f"{path.relative_to(SRC)} imports {name}")
    assert not crossing
