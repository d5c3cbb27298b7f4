"""The contract read through its `$ref`s, one way for every room."""
import pytest

import contract
from contract.categories import BANDS, category_for, rank
from contract.reader import UnresolvableReference, canonical_pointer, lookup, operations, resolve, schema

SMALL = {
    "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"type": "object",
                                                                                "properties": {"x~/y": {"type": "string"}}},
                               "Loop": {"$ref": "#/components/schemas/Loop"}}},
    "paths": {"/a": {"get": {"operationId": "getA", "responses": {"200": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/A"}}}}}}}},
}


def test_references_are_followed_to_the_node_they_name():
    assert resolve(SMALL, {"$ref": "#/components/schemas/A"})["type"] == "object"
    assert schema(SMALL, "A") is SMALL["components"]["schemas"]["B"]
    assert lookup(SMALL, "#/components/schemas/B/properties/x~0~1y") == {"type": "string"}


def test_two_paths_to_one_schema_get_one_canonical_pointer():
    parts = ("paths", "/a", "get", "responses", "200", "content", "application/json", "schema", "properties")
    assert canonical_pointer(SMALL, parts) == "/components/schemas/B/properties"
    assert canonical_pointer(SMALL, ("paths", "/nowhere")) is None


@pytest.mark.parametrize("node", [{"$ref": "#/components/schemas/Loop"}, {"$ref": "#/nowhere"},
                                  {"$ref": "other.yaml#/A"}])
def test_loops_dangling_and_remote_references_are_refused(node):
    with pytest.raises(UnresolvableReference):
        resolve(SMALL, node)


def test_every_operation_of_the_contract_is_walked_with_its_id():
    ids = [op.operation_id for op in operations(contract.load_spec())]
    assert ids and all(ids) and len(ids) == len(set(ids))
    assert "listContacts" in ids


@pytest.mark.parametrize("score, category", [(100, "hot"), (80, "hot"), (79, "warm"), (60, "warm"),
                                             (59, "cool"), (40, "cool"), (39, "cold"), (0, "cold")])
def test_the_bands_are_the_specs(score, category):
    assert category_for(score) == category


def test_bands_cover_0_to_100_without_gaps():
    covered = sorted(score for _, low, high in BANDS for score in range(low, high + 1))
    assert covered == list(range(0, 101))
    assert [rank(name) for name, _, _ in BANDS] == [0, 1, 2, 3]
