"""Drive the SDK's own dynamic-provider host exactly as the Pulumi engine does.

``python -u -m pulumi.dynamic`` is started as a subprocess with cwd = the project root and
``PULUMI_PROJECT`` set; its first stdout line is its port; the test then speaks the engine's
gRPC messages (Configure, Check, Diff, Create, Read, Update, Delete) to it. The serialized
provider is produced by the SDK's own ``serialize_provider``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "oidc-trust"
UNKNOWN = rpc.UNKNOWN


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    # A private loop, not asyncio.run: that one leaves the thread without a current event loop,
    # which breaks any later pulumi.runtime.test in the same test process.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


@dataclass
class Failure:
    property: str
    reason: str


class EngineError(Exception):
    """The provider raised: the gRPC status carries its traceback."""

    def __init__(self, error: grpc.RpcError):
        self.code = error.code()
        self.details = error.details() or ""
        super().__init__(self.details)


class DynamicProviderHost:
    """One ``python -m pulumi.dynamic`` process and a stub to it."""

    def __init__(self, config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None):
        child_env = {k: v for k, v in os.environ.items() if k != "PULUMI_ACCESS_TOKEN"}
        child_env.update(PULUMI_PROJECT=PROJECT, PULUMI_HOME=str(ROOT / ".no-pulumi-home"))
        child_env.update(env or {})
        # The engine shows what a provider writes on stderr; a file (not a pipe) lets a test
        # read it at any time without blocking and without the provider ever stalling on it.
        fd, self._stderr_path = tempfile.mkstemp(prefix="dynamic-host-stderr-")
        os.close(fd)
        self._stderr = open(self._stderr_path, "a", encoding="utf-8")  # O_APPEND: writes never clash
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
            cwd=ROOT,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            stderr = self.stderr_text()
            self.close()
            raise RuntimeError(f"dynamic provider host did not print its port: {line!r} {stderr}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.configure(config or {})

    def stderr_text(self) -> str:
        """Everything the provider process has written on stderr so far."""
        with open(self._stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def configure(self, config: Mapping[str, Any]) -> None:
        """What the engine sends: the whole stack config, namespaced keys, secrets wrapped."""
        self.stub.Configure(
            provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=True, acceptResources=True)
        )

    def close(self) -> None:
        try:
            if getattr(self, "channel", None):
                self.channel.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            if self.proc.stdout:
                self.proc.stdout.close()
            self._stderr.close()
            try:
                os.unlink(self._stderr_path)
            except OSError:
                pass

    def __enter__(self) -> "DynamicProviderHost":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as e:
            raise EngineError(e) from None


class Resource:
    """One dynamic resource as the engine sees it: a URN, a serialized provider, its state."""

    def __init__(self, host: DynamicProviderHost, provider: Any, type_name: str, name: str):
        self.host = host
        self.provider = serialize_provider(provider)
        self.type = f"pulumi-python:{type_name}"
        self.name = name
        self.urn = f"urn:pulumi:test::{PROJECT}::{self.type}::{name}"
        self.id: str | None = None
        self.inputs: struct_pb2.Struct | None = None
        self.state: struct_pb2.Struct | None = None

    def _news(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        # The engine strips secrets (acceptSecrets=False) and sends __provider as a plain string.
        return to_struct({**{k: v for k, v in props.items() if v is not None}, "__provider": self.provider})

    @property
    def outputs(self) -> dict[str, Any]:
        return from_struct(self.state) if self.state is not None else {}

    def check(self, props: Mapping[str, Any]) -> tuple[struct_pb2.Struct, list[Failure]]:
        olds = self.inputs or struct_pb2.Struct()
        r = self.host.call(
            "Check",
            provider_pb2.CheckRequest(urn=self.urn, type=self.type, name=self.name, olds=olds, news=self._news(props)),
        )
        return r.inputs, [Failure(f.property, f.reason) for f in r.failures]

    def checked(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        inputs, failures = self.check(props)
        assert not failures, failures
        return inputs

    def diff(self, props: Mapping[str, Any]) -> provider_pb2.DiffResponse:
        news = self.checked(props)
        return self.host.call(
            "Diff",
            provider_pb2.DiffRequest(
                id=self.id or "", urn=self.urn, type=self.type, name=self.name,
                olds=self.state, news=news, old_inputs=self.inputs,
            ),
        )

    def create(self, props: Mapping[str, Any]) -> dict[str, Any]:
        inputs = self.checked(props)
        r = self.host.call(
            "Create",
            provider_pb2.CreateRequest(urn=self.urn, type=self.type, name=self.name, properties=inputs, timeout=60),
        )
        self.id, self.inputs, self.state = r.id, inputs, r.properties
        return self.outputs

    def update(self, props: Mapping[str, Any]) -> dict[str, Any]:
        news = self.checked(props)
        r = self.host.call(
            "Update",
            provider_pb2.UpdateRequest(
                id=self.id, urn=self.urn, type=self.type, name=self.name,
                olds=self.state, news=news, old_inputs=self.inputs, timeout=60,
            ),
        )
        self.inputs, self.state = news, r.properties
        return self.outputs

    def read(self) -> dict[str, Any] | None:
        """A refresh: None when the provider reports the object gone."""
        r = self.host.call(
            "Read",
            provider_pb2.ReadRequest(
                id=self.id, urn=self.urn, type=self.type, name=self.name,
                properties=self.state, inputs=self.inputs,
            ),
        )
        if not r.id:
            return None
        self.state = r.properties
        if r.HasField("inputs"):
            self.inputs = r.inputs
        return self.outputs

    def delete(self) -> None:
        self.host.call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=self.id, urn=self.urn, type=self.type, name=self.name,
                properties=self.state, old_inputs=self.inputs, timeout=60,
            ),
        )


def changes(diff: provider_pb2.DiffResponse) -> str:
    return provider_pb2.DiffResponse.DiffChanges.Name(diff.changes)
