"""Generator unit tests on its intermediate description, from small inline specs."""

from __future__ import annotations

import ast
import copy
from typing import Any

import pytest

from shared.codegen import ir
from shared.codegen.build import build
from shared.codegen.emit_client import emit_operations, emit_resources, namespace_tree
from shared.codegen.emit_models import emit_models
from shared.codegen.loader import SpecError
from shared.naming import constant, identifier, pascal, snake

BASE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Test API", "version": "1"},
    "paths": {},
    "components": {"schemas": {}},
}


def spec_with(schemas: dict[str, Any], paths: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    spec["components"]["schemas"] = schemas
    spec["paths"] = paths or {}
    return spec


def models_source(api: ir.API) -> str:
    """Every generated models module, as one text."""
    return "\n".join(emit_models(api, "# header").values())


def model(api: ir.API, name: str) -> ir.Model:
    decl = api.decls[name]
    assert isinstance(decl, ir.Model)
    return decl


def field(api: ir.API, model_name: str, py_name: str) -> ir.Field:
    return next(f for f in model(api, model_name).fields if f.py_name == py_name)


# ---- naming -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("createAndStreamRun", "create_and_stream_run"),
        ("X-Glean-ActAs", "x_glean_act_as"),
        ("HTTPValidationError", "http_validation_error"),
        ("bulkIndexMemberships", "bulk_index_memberships"),
    ],
)
def test_snake_case(raw: str, expected: str) -> None:
    assert snake(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("type", "type"),
        ("from", "from_"),
        ("import", "import_"),
        ("class", "class_"),
        ("format", "format"),
        ("filter", "filter"),
        ("id", "id"),
        ("list", "list"),
        ("3d", "n3d"),
        ("_private", "private"),
        ("match", "match"),
        ("agentId", "agent_id"),
    ],
)
def test_identifier_escapes_keywords_builtins_and_digits(raw: str, expected: str) -> None:
    assert identifier(raw) == expected


def test_pascal_and_constant() -> None:
    assert pascal("governance_data_policies") == "GovernanceDataPolicies"
    assert constant("in-progress") == "IN_PROGRESS"
    assert constant("") == "EMPTY"
    assert constant("2x") == "V2X"


# ---- models --------------------------------------------------------------------------------


def test_all_of_merges_properties_and_required_across_parts() -> None:
    api = build(
        spec_with(
            {
                "Base": {"properties": {"id": {"type": "string"}}, "required": ["id"]},
                "Named": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Base"},
                        {"properties": {"name": {"type": "string"}}},
                        {"required": ["name"]},
                    ]
                },
            }
        )
    )
    fields = {f.py_name: f.required for f in model(api, "Named").fields}
    assert fields == {"id": True, "name": True}


def test_required_names_not_declared_are_dropped_with_a_warning() -> None:
    api = build(spec_with({"M": {"properties": {"a": {"type": "string"}}, "required": ["a", "b"]}}))
    assert [f.py_name for f in model(api, "M").fields] == ["a"]
    assert any("M" in w and "'b'" in w for w in api.warnings)


def test_nullable_30_and_31_styles_and_optional() -> None:
    api = build(
        spec_with(
            {
                "M": {
                    "required": ["a"],
                    "properties": {
                        "a": {"type": "string", "nullable": True},
                        "b": {"type": ["integer", "null"]},
                        "c": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "d": {"type": "boolean"},
                    },
                }
            }
        )
    )
    assert field(api, "M", "a") == ir.Field("a", "a", ir.Nullable(ir.Prim("str")), True)
    assert field(api, "M", "b").type == ir.Nullable(ir.Prim("int"))
    assert field(api, "M", "c").type == ir.Nullable(ir.Prim("str"))
    assert field(api, "M", "d").type == ir.Prim("bool") and not field(api, "M", "d").required


def test_schema_without_type_but_with_properties_is_a_model() -> None:
    api = build(spec_with({"M": {"properties": {"x": {"type": "number"}}}}))
    assert field(api, "M", "x").type == ir.Prim("float")


def test_enums_named_and_inline() -> None:
    api = build(
        spec_with(
            {
                "Color": {"type": "string", "enum": ["red", "dark-blue"]},
                "M": {"properties": {"mode": {"type": "string", "enum": ["auto", "manual"]}}},
            }
        )
    )
    assert api.decls["Color"] == ir.Enum(
        "Color", ["red", "dark-blue"], "#/components/schemas/Color"
    )
    assert field(api, "M", "mode").type == ir.Named("MMode")
    assert isinstance(api.decls["MMode"], ir.Enum)
    source = models_source(api)
    assert "class Color(OpenEnum):" in source and "DARK_BLUE = 'dark-blue'" in source


def test_discriminated_union_with_mapping_and_implicit_tags() -> None:
    api = build(
        spec_with(
            {
                "Cat": {"properties": {"kind": {"type": "string", "const": "cat"}}},
                "Dog": {"properties": {"kind": {"type": "string", "enum": ["dog"]}}},
                "Pet": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Cat"},
                        {"$ref": "#/components/schemas/Dog"},
                    ],
                    "discriminator": {"propertyName": "kind"},
                },
                "Mapped": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Cat"},
                        {"$ref": "#/components/schemas/Dog"},
                    ],
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {
                            "c": "#/components/schemas/Cat",
                            "d": "#/components/schemas/Dog",
                        },
                    },
                },
            }
        )
    )
    pet = api.decls["Pet"]
    assert isinstance(pet, ir.Union)
    assert pet.discriminator == "kind" and pet.mapping == {"cat": "Cat", "dog": "Dog"}
    mapped = api.decls["Mapped"]
    assert isinstance(mapped, ir.Union) and mapped.mapping == {"c": "Cat", "d": "Dog"}
    source = models_source(api)
    assert "UnionInfo(Pet, 'kind', {'cat': Cat, 'dog': Dog})" in source


def test_plain_union_keeps_branch_order_and_hoists_inline_objects() -> None:
    api = build(
        spec_with(
            {
                "Spec": {
                    "oneOf": [
                        {"type": "object", "properties": {"url": {"type": "string"}}},
                        {"type": "object", "properties": {"id": {"type": "string"}}},
                        {"type": "string"},
                    ]
                }
            }
        )
    )
    union = api.decls["Spec"]
    assert isinstance(union, ir.Union) and union.discriminator is None
    assert union.options == [ir.Named("SpecOption1"), ir.Named("SpecOption2"), ir.Prim("str")]


def test_recursive_models_and_maps() -> None:
    api = build(
        spec_with(
            {
                "Node": {
                    "properties": {
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                        "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "free": {"type": "object"},
                    }
                }
            }
        )
    )
    assert field(api, "Node", "children").type == ir.ListOf(ir.Named("Node"))
    assert field(api, "Node", "attrs").type == ir.MapOf(ir.Prim("int"))
    assert field(api, "Node", "free").type == ir.MapOf(ir.Prim("any"))
    ast.parse(models_source(api))


def test_field_names_are_escaped_and_keep_json_names() -> None:
    api = build(
        spec_with({"M": {"properties": {"type": {"type": "string"}, "from": {"type": "string"}}}})
    )
    assert [(f.py_name, f.json_name) for f in model(api, "M").fields] == [
        ("type", "type"),
        ("from_", "from"),
    ]
    source = models_source(api).replace("'", '"')
    assert "type: str | Unset = attrs.field(default=UNSET)" in source
    assert 'from_: str | Unset = attrs.field(default=UNSET, metadata={"json": "from"})' in source


def test_schema_names_that_shadow_module_imports_are_renamed() -> None:
    api = build(spec_with({"Any": {"properties": {"x": {"type": "string"}}}}))
    assert "Any" not in api.decls and "Any_2" in api.decls


# ---- operations ---------------------------------------------------------------------------


def op_spec(**operation: Any) -> dict[str, Any]:
    paths = {
        "/things/{thing_id}": {"post": {"responses": {"200": {"description": "ok"}}, **operation}}
    }
    return spec_with(
        {
            "Thing": {
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "thing_id": {"type": "string"}},
            }
        },
        paths,
    )


def test_groups_names_fragment_and_shared_parameters() -> None:
    spec = op_spec(
        operationId="doThing",
        **{"x-speakeasy-group": "client.governance.data", "x-speakeasy-name-override": "runStream"},
        parameters=[
            {"$ref": "#/components/parameters/tz"},
            {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
    )
    spec["components"]["parameters"] = {
        "tz": {"name": "timezoneOffset", "in": "query", "schema": {"type": "integer"}}
    }
    spec["paths"]["/things/{thing_id}#stream"] = spec["paths"].pop("/things/{thing_id}")
    op = build(spec).operations[0]
    assert op.group == ("client", "governance", "data") and op.name == "run_stream"
    assert op.path == "/things/{thing_id}"
    assert [(p.py_name, p.location) for p in op.params] == [
        ("timezone_offset", "query"),
        ("thing_id", "path"),
    ]


def test_parameter_clashing_with_body_field_gets_location_suffix() -> None:
    spec = op_spec(
        parameters=[
            {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
        },
    )
    op = build(spec).operations[0]
    assert [p.py_name for p in op.params] == ["thing_id_path"]
    assert op.body is not None and [f.py_name for f in op.body.fields] == ["name", "thing_id"]


def test_response_kinds_and_text_plain_objects_read_as_ndjson() -> None:
    obj = {"schema": {"$ref": "#/components/schemas/Thing"}}
    spec = op_spec(
        responses={
            "200": {"description": "ok", "content": {"text/plain": obj}},
            "422": {"description": "bad", "content": {"application/json": obj}},
            "default": {
                "description": "csv",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
        }
    )
    api = build(spec)
    kinds = [(r.status, r.kind) for r in api.operations[0].responses]
    assert kinds == [("200", "ndjson"), ("422", "json"), ("default", "text")]
    assert any("NDJSON" in w for w in api.warnings)


def test_sse_envelope_detection() -> None:
    spec = op_spec(
        responses={
            "200": {
                "description": "events",
                "content": {
                    "text/event-stream": {
                        "schema": {
                            "properties": {
                                "event": {"type": "string"},
                                "data": {"$ref": "#/components/schemas/Thing"},
                            }
                        }
                    }
                },
            }
        }
    )
    response = build(spec).operations[0].responses[0]
    assert response.kind == "sse" and response.sse_envelope


def test_multipart_file_fields() -> None:
    spec = op_spec(
        requestBody={
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                            "note": {"type": "string"},
                        }
                    }
                }
            }
        }
    )
    body = build(spec).operations[0].body
    assert body is not None and body.kind == "multipart" and body.file_fields == {"files": "files"}


def test_emitted_modules_parse_and_namespaces_nest() -> None:
    spec = op_spec(**{"x-speakeasy-group": "a.b", "operationId": "go", "deprecated": True})
    api = build(spec)
    tree = namespace_tree(api)
    assert list(tree.children) == ["a"] and list(tree.children["a"].children) == ["b"]
    resources = "\n".join(emit_resources(api, "#").values())
    ast.parse(resources)
    for source in emit_operations(api, "#").values():
        ast.parse(source)
    assert "DeprecationWarning" in resources


def test_unsupported_versions_and_bad_refs_fail_clearly(tmp_path: Any) -> None:
    from shared.codegen.loader import load

    path = tmp_path / "spec.json"
    path.write_text('{"openapi": "2.0"}')
    with pytest.raises(SpecError, match="not supported"):
        load(path)
    with pytest.raises(SpecError, match="unresolvable"):
        build(spec_with({"M": {"properties": {"x": {"$ref": "#/components/schemas/Nope"}}}}))


def test_fragment_twin_gives_guessed_stream_items_the_twin_response_type() -> None:
    reply = {"schema": {"$ref": "#/components/schemas/Thing"}}
    request_like = {"schema": {"properties": {"messages": {"type": "array", "items": {}}}}}
    spec = spec_with(
        {"Thing": {"properties": {"text": {"type": "string"}}}},
        {
            "/chat": {
                "post": {
                    "operationId": "chat",
                    "responses": {
                        "200": {"description": "", "content": {"application/json": reply}}
                    },
                }
            },
            "/chat#stream": {
                "post": {
                    "operationId": "chatStream",
                    "responses": {
                        "200": {"description": "", "content": {"text/plain": request_like}}
                    },
                }
            },
        },
    )
    api = build(spec)
    stream = next(op for op in api.operations if op.name == "chat_stream")
    assert stream.path == "/chat"
    assert stream.success[0].kind == "ndjson" and stream.success[0].type == ir.Named("Thing")
    assert any("chat_stream" in w for w in api.warnings)


def test_arguments_accept_strings_for_enums_and_dates_and_dicts_for_models() -> None:
    from shared.codegen.methods import method_spec

    body = {
        "required": ["when"],
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "color": {"$ref": "#/components/schemas/Color"},
            "thing": {"$ref": "#/components/schemas/Thing"},
        },
    }
    spec = spec_with(
        {
            "Color": {"type": "string", "enum": ["red"]},
            "Thing": {"properties": {"a": {"type": "string"}}},
        },
        {
            "/x": {
                "post": {
                    "operationId": "x",
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                    "responses": {"204": {"description": ""}},
                }
            }
        },
    )
    api = build(spec)
    args = {a.name: a.annotation for a in method_spec(api.operations[0], api).fields}
    assert args == {
        "when": "datetime.datetime | str",
        "color": "models.Color | str",
        "thing": "models.Thing | Mapping[str, Any]",
    }


def test_models_are_split_per_top_level_namespace_with_a_common_module() -> None:
    from shared.codegen.chunks import partition

    def op(group: str, schema: str) -> dict[str, Any]:
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        return {
            "operationId": f"{group}{schema}",
            "x-speakeasy-group": group,
            "responses": {"200": {"description": "", "content": content}},
        }

    spec = spec_with(
        {
            "Shared": {"properties": {"x": {"type": "string"}}},
            "A": {"properties": {"s": {"$ref": "#/components/schemas/Shared"}}},
            "B": {"properties": {"s": {"$ref": "#/components/schemas/Shared"}}},
            "Lonely": {"properties": {"a": {"$ref": "#/components/schemas/A"}}},
        },
        {"/a": {"get": op("alpha", "A")}, "/b": {"get": op("beta", "B")}},
    )
    chunks = partition(build(spec))
    assert chunks == {"Shared": "common", "A": "common", "B": "beta", "Lonely": "common"}
