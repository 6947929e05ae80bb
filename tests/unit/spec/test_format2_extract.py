"""The loader takes exactly the extractors the engine compiles, and hands them over as is."""

from __future__ import annotations

import itertools
import json

import pytest

from sla_runner.engine.extract import ExtractSpecError, compile_extractor
from sla_runner.errors import SpecError
from tests.unit.spec.helpers2 import SHOP, changed, load2

VALUES = {
    "json": ["data.items[0].id", "a..b"],
    "header": ["Location"],
    "cookie": ["sid"],
    "regex": ["/orders/(\\d+)", "(unclosed"],
}
SHAPES = [
    dict(zip(keys, values, strict=True))
    for n in range(0, 3)
    for keys in itertools.combinations(VALUES, n)
    for values in itertools.product(*(VALUES[k] for k in keys))
]


@pytest.mark.parametrize("shape", SHAPES, ids=json.dumps)
def test_the_loader_accepts_what_the_engine_compiles(shape: dict[str, str]) -> None:
    try:
        compile_extractor("token", shape)
        compiles = True
    except ExtractSpecError:
        compiles = False
    text = changed(SHOP, ("token: {json: access_token}", f"token: {json.dumps(shape)}"))
    if not compiles:
        with pytest.raises(SpecError, match=r"endpoints\.login\.extract\.token"):
            load2(text)
        return
    extract = load2(text).spec.endpoints["login"].extract["token"]
    assert extract.as_mapping() == shape
    assert (
        compile_extractor("token", extract.as_mapping()).source
        == compile_extractor("token", shape).source
    )
