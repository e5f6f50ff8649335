"""The generator's any-spec mode end to end: generate a package, import it, call a server."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from anyio.from_thread import start_blocking_portal

REPO = Path(__file__).resolve().parents[1]

PET = {
    "type": "object",
    "required": ["id", "name", "kind"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "kind": {"$ref": "#/components/schemas/Kind"},
        "bornAt": {"type": "string", "format": "date-time"},
        "owner": {"type": "string", "nullable": True},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Pet Store", "version": "1"},
    "servers": [
        {"url": "https://{region}.pets.example", "variables": {"region": {"default": "eu"}}}
    ],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Kind": {"type": "string", "enum": ["cat", "dog"]},
            "Pet": PET,
            "NewPet": {
                "allOf": [
                    {"$ref": "#/components/schemas/PetBase"},
                    {"required": ["name"], "properties": {"name": {"type": "string"}}},
                ]
            },
            "PetBase": {
                "properties": {"kind": {"$ref": "#/components/schemas/Kind"}},
                "required": ["kind"],
            },
            "Problem": {"properties": {"title": {"type": "string"}}},
            "Cat": {
                "properties": {
                    "type": {"type": "string", "enum": ["cat"]},
                    "meows": {"type": "boolean"},
                }
            },
            "Dog": {
                "properties": {
                    "type": {"type": "string", "enum": ["dog"]},
                    "barks": {"type": "integer"},
                }
            },
            "Animal": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Cat"},
                    {"$ref": "#/components/schemas/Dog"},
                ],
                "discriminator": {"propertyName": "type"},
            },
        },
    },
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "tags": ["pets"],
                "parameters": [
                    {
                        "name": "petId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                    {
                        "name": "fields",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    },
                    "404": {
                        "description": "no",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    },
                },
            }
        },
        "/pets": {
            "post": {
                "operationId": "createPet",
                "tags": ["pets"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    }
                },
            }
        },
        "/animals": {
            "get": {
                "operationId": "listAnimals",
                "tags": ["pets"],
                "deprecated": True,
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Animal"},
                                }
                            }
                        },
                    }
                },
            }
        },
        "/export": {
            "get": {
                "operationId": "export",
                "x-speakeasy-group": "admin.reports",
                "responses": {
                    "200": {
                        "description": "csv",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/photos": {
            "post": {
                "operationId": "uploadPhoto",
                "x-speakeasy-group": "admin.reports",
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "properties": {
                                    "photo": {"type": "string", "format": "binary"},
                                    "caption": {"type": "string"},
                                }
                            }
                        }
                    }
                },
                "responses": {"204": {"description": "stored"}},
            }
        },
        "/feed": {
            "get": {
                "operationId": "feed",
                "tags": ["pets"],
                "responses": {
                    "200": {
                        "description": "events",
                        "content": {
                            "text/event-stream": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    }
                },
            }
        },
    },
}


@pytest.fixture(scope="module")
def petstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("generated")
    spec = out / "petstore.json"
    spec.write_text(json.dumps(SPEC))
    command = [
        sys.executable,
        "-m",
        "shared.codegen",
        "--spec",
        str(spec),
        "--package",
        "petstore",
        "--client",
        "PetStore",
        "--out",
        str(out),
    ]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("petstore")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "petstore" or m.startswith("petstore.")]:
            del sys.modules[name]


SEEN: list[dict[str, Any]] = []


async def get_pet(request: web.Request) -> web.Response:
    SEEN.append(
        {
            "auth": request.headers.get("Authorization"),
            "trace": request.headers.get("X-Trace"),
            "fields": request.query.getall("fields", []),
        }
    )
    if request.match_info["pet_id"] == "404":
        return web.json_response({"title": "no such pet"}, status=404)
    pet = {
        "id": int(request.match_info["pet_id"]),
        "name": "Rex",
        "kind": "lizard",
        "owner": None,
        "bornAt": "2024-05-01T10:00:00Z",
    }
    return web.json_response(pet)


async def create_pet(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"id": 1, **body}, status=201)


async def list_animals(request: web.Request) -> web.Response:
    return web.json_response([{"type": "cat", "meows": True}, {"type": "dog", "barks": 3}])


async def export(request: web.Request) -> web.Response:
    return web.Response(text="id,name\n1,Rex\n", content_type="text/csv")


async def upload(request: web.Request) -> web.Response:
    form = await request.post()
    photo = form["photo"]
    assert isinstance(photo, web.FileField)
    SEEN.append({"photo": photo.file.read(), "caption": form["caption"]})
    return web.Response(status=204)


async def feed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for n in range(3):
        await response.write(f'data: {{"id": {n}, "name": "p{n}", "kind": "dog"}}\n\n'.encode())
    return response


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/pets/{pet_id}", get_pet)
    app.router.add_post("/pets", create_pet)
    app.router.add_get("/animals", list_animals)
    app.router.add_get("/export", export)
    app.router.add_post("/photos", upload)
    app.router.add_get("/feed", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    SEEN.clear()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def test_generated_package_layout(petstore: Any) -> None:
    from petstore import errors, models, sync  # type: ignore[import-not-found]

    assert {"Pet", "NewPet", "Kind", "Animal", "Cat", "Dog"} <= set(models.__all__)
    assert issubclass(errors.ProblemError, errors.APIError)
    assert sync.PetStore.__doc__ and petstore.PetStore.__doc__
    declared = {f.name for f in attrs.fields(models.NewPet)}
    assert declared == {"kind", "name", "additional_properties"}
    assert petstore.PetStore.__module__ == "petstore._generated.client"
    header = (Path(petstore.__file__).parent / "_generated" / "models.py").read_text()
    assert header.startswith("# Generated by shared.codegen")


@pytest.mark.anyio
async def test_generated_async_client_end_to_end(
    petstore: Any, server_url: str, tmp_path: Path
) -> None:
    models, errors = petstore.models, petstore.errors
    async with petstore.PetStore("s3cret", server_url=server_url) as client:
        pet = await client.pets.get_pet(pet_id=7, fields=["name", "kind"], x_trace="t-1")
        assert pet.id == 7 and pet.owner is None and pet.born_at.year == 2024
        assert pet.kind.value == "lizard" and not pet.kind.is_known
        assert SEEN[-1] == {"auth": "Bearer s3cret", "trace": "t-1", "fields": ["name", "kind"]}
        created = await client.pets.create_pet(name="Tom", kind="cat")
        assert created.kind == models.Kind.CAT
        with pytest.raises(errors.ProblemError) as caught:
            await client.pets.get_pet(pet_id=404)
        assert caught.value.data.title == "no such pet" and "s3cret" not in str(caught.value)
        with pytest.warns(DeprecationWarning):
            animals = await client.pets.list_animals()
        assert [type(a) for a in animals] == [models.Cat, models.Dog]
        assert await client.admin.reports.export() == "id,name\n1,Rex\n"
        photo = tmp_path / "cat.jpg"
        photo.write_bytes(b"\xff\xd8 jpeg bytes")
        assert await client.admin.reports.upload_photo(photo=photo, caption="mine") is None
        assert SEEN[-1] == {"photo": b"\xff\xd8 jpeg bytes", "caption": "mine"}
        stream = await client.pets.feed()
        async with stream as events:
            assert [p.name async for p in events] == ["p0", "p1", "p2"]


def test_generated_sync_client_end_to_end(petstore: Any) -> None:
    app_url: dict[str, str] = {}

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/pets/{pet_id}", get_pet)
        app.router.add_get("/feed", feed)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        app_url["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return runner

    with start_blocking_portal() as portal:
        runner = portal.call(start)
        try:
            with petstore.sync.PetStore("tok", server_url=app_url["url"]) as client:
                assert client.pets.get_pet(pet_id=3).name == "Rex"
                with client.pets.feed() as events:
                    assert [p.id for p in events] == [0, 1, 2]
        finally:
            portal.call(runner.cleanup)


def test_server_variables_fill_the_template_and_are_validated(petstore: Any) -> None:
    client = petstore.PetStore("s3cret-value", region="us")
    assert "us.pets.example" in repr(client) and "s3cret" not in repr(client)
    with pytest.raises(ValueError, match="region"):
        petstore.PetStore("tok", region="evil.com/x")


def test_check_mode_detects_drift(tmp_path: Path) -> None:
    spec = tmp_path / "petstore.json"
    spec.write_text(json.dumps(SPEC))
    base = [
        sys.executable,
        "-m",
        "shared.codegen",
        "--spec",
        str(spec),
        "--package",
        "pets",
        "--client",
        "Pets",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(base, check=True, cwd=REPO, capture_output=True)
    assert subprocess.run([*base, "--check"], cwd=REPO, capture_output=True).returncode == 0
    models = tmp_path / "pets" / "_generated" / "models.py"
    models.write_text(models.read_text() + "\n# edited by hand\n")
    result = subprocess.run([*base, "--check"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1 and "models.py" in result.stderr
