"""Fixtures of the deployed-shape tier: the dev stack synthesized once per session, its Glue jobs read back from
the cloud assembly, the Glue-like Python environments, an empty tracking database and a moto S3 server that a
job's subprocess reaches over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deployed.glue_emulator import GlueEnvironment, SynthesizedJob, synthesized_jobs

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")


@pytest.fixture(scope="session")
def dev_assembly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The cloud assembly folder and stack name of ``MlDataPlatform-dev``, synthesized as ``cdk synth`` does
    (cdk.json's context, no account or region)."""
    from aws_cdk import App

    import app as cdk_app
    from stacks.config import ENVIRONMENTS, apply_context_overrides
    from stacks.data_platform_stack import DataPlatformStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=cdk_app.cdk_json_context())
    dev = next(c for c in ENVIRONMENTS if c.stack_name.endswith("-dev"))
    config = apply_context_overrides(dev, app.node.get_all_context())
    DataPlatformStack(app, config.stack_name, config=config)
    app.synth()
    return outdir, config.stack_name


@pytest.fixture(scope="session")
def dev_jobs(dev_assembly: tuple[Path, str]) -> dict[str, SynthesizedJob]:
    """The dev stack's Glue jobs by name (the data bucket resolves to ``<Logical id>``; tests replace it)."""
    assembly, stack_name = dev_assembly
    return synthesized_jobs(assembly, stack_name, refs={})


def job_named(jobs: dict[str, SynthesizedJob], prefix: str) -> SynthesizedJob:
    """The one job whose name starts with ``prefix`` and has the dev suffix (e.g. ``FileListerAndDbPopulator``)."""
    matches = [job for name, job in jobs.items() if name == f"{prefix}-dev"]
    assert len(matches) == 1, f"no single job {prefix}-dev among {sorted(jobs)}"
    return matches[0]


@pytest.fixture(scope="session")
def glue_environments(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], GlueEnvironment]:
    """``(command, with_awsglue)`` -> a Glue-like Python environment, each built once."""
    root = tmp_path_factory.mktemp("glue-envs")
    return {(command, with_glue): GlueEnvironment.build(root / f"{command}-{with_glue}", command, with_glue)
            for command in ("glueetl", "pythonshell") for with_glue in (True, False)}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[dict[str, Any]]:
    """A moto server (S3, CloudWatch, ...) on a free port; ``env`` is what a job subprocess needs to reach it."""
    from moto.server import ThreadedMotoServer

    from runtime.db.embedded import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    yield {"port": port, "env": env}
    server.stop()
