"""The documents of the bulk-upload benchmark: generated one at a time, never held in a list.

Each is a wire-spelled ``DocumentDefinition`` dict of about 700 bytes of JSON (a title,
a view URL, a plain-text body of ~450 characters, anonymous-access permissions, an
update time), the same for every client: the official SDK's cell turns each into its
pydantic model as it goes (its users have to build them), the others send the dicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DATASOURCE = "benchbulk"
WORDS = [
    "policy",
    "handbook",
    "release",
    "onboarding",
    "travel",
    "expense",
    "security",
    "laptop",
    "benefits",
    "holiday",
    "payroll",
    "roadmap",
    "incident",
    "review",
    "design",
    "budget",
    "hiring",
    "quarterly",
    "planning",
    "wiki",
]


BODIES = tuple(
    " ".join(WORDS[(variant * 7 + k * 3) % len(WORDS)] for k in range(60)) for variant in range(64)
)


def body_text(number: int) -> str:
    """About 450 characters of text that differ from one document to the next."""
    return f"Document {number}. {BODIES[number % len(BODIES)]}"


def document(number: int, datasource: str = DATASOURCE) -> dict[str, Any]:
    """Document ``number`` as the wire JSON object."""
    topic = WORDS[number % len(WORDS)]
    return {
        "datasource": datasource,
        "objectType": "Article",
        "id": f"doc-{number}",
        "title": f"{topic.title()} notes {number}",
        "viewURL": f"https://wiki.example.com/articles/doc-{number}",
        "body": {"mimeType": "text/plain", "textContent": body_text(number)},
        "permissions": {"allowAnonymousAccess": True},
        "updatedAt": 1_700_000_000 + number,
    }


def documents(count: int, datasource: str = DATASOURCE, start: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` documents, made as they are pulled."""
    for number in range(start, start + count):
        yield document(number, datasource)
