"""Property-based tests of the service's API, generated from its own OpenAPI document (schemathesis, settings in
service/schemathesis.toml): every route, inputs that fit the schema and inputs that do not, never a server error,
every answer matching the documented status codes, content types and schemas; with and without an API key.
Seeded (derandomized), so a run generates the same requests on every machine."""
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from shared.suite import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app_runs(generic_runs):
    return {name: str(generic_runs(name)[0].path) for name in registry.TASKS}


@pytest.mark.parametrize("api_key", ["", "s3cret"], ids=["open", "with-key"])
def test_every_route_answers_within_its_schema(app_runs, api_key):
    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(runs=app_runs, max_upload_mb=1, api_key=api_key))
    config = SchemathesisConfig.from_path(str(ROOT / "service" / "schemathesis.toml"))
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None  # valid requests carry the key
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/inspect", "/v1/models", "/healthz", "/metrics"}
    for operation in operations:
        takes_input = {"parameters", "requestBody"} & set(operation.definition.raw)  # else nothing can be invalid
        for mode in (GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if takes_input else [])):
            @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                case.call_and_validate(headers=headers if mode == GenerationMode.POSITIVE else None)  # noqa: B023

            check()
