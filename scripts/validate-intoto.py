#!/usr/bin/env python3
"""Validates in-toto statements with the in-toto attestation framework's official protobuf
definitions (PyPI `in-toto-attestation`).

Usage: validate-intoto.py STATEMENT.json|BUNDLE.sigstore.json ...

Each file is a statement, or a DSSE envelope / Sigstore bundle whose payload is one. The
statement is parsed strictly (unknown fields are errors) into the v1 Statement message and
checked with the package's validator; an SLSA provenance v1 predicate is parsed strictly into
the Provenance message and checked with the rules of the framework's Go validator
(go/predicates/provenance/v1): builder.id and buildType set, externalParameters not empty,
every ResourceDescriptor has a uri, a digest or content, digests are hex of the right
length, timestamps valid. Exit 0 when all pass; 1 with the reasons otherwise.
"""

import base64
import json
import sys

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

SLSA_V1 = "https://slsa.dev/provenance/v1"
HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "gitCommit": (40, 64)}


def payload_of(doc):
    env = doc.get("dsseEnvelope", doc)
    if "payload" in env and "payloadType" in env:
        return json.loads(base64.b64decode(env["payload"]))
    return doc


def check_rd(rd, where, errors):
    if not (rd.uri or len(rd.digest) or len(rd.content)):
        errors.append(f"{where}: a ResourceDescriptor needs a uri, a digest or content")
    for alg, value in rd.digest.items():
        want = HEX_LEN.get(alg)
        if want is None:
            continue
        lens = want if isinstance(want, tuple) else (want,)
        try:
            bytes.fromhex(value)
        except ValueError:
            errors.append(f"{where}: digest {alg} is not hex")
            continue
        if len(value) not in lens or value != value.lower():
            errors.append(f"{where}: digest {alg} has the wrong length or case")


def check_provenance(predicate, errors):
    prov = provenance_pb2.Provenance()
    json_format.ParseDict(predicate, prov, ignore_unknown_fields=False)
    bd, rd = prov.build_definition, prov.run_details
    if not prov.HasField("build_definition"):
        errors.append("buildDefinition is required")
    if not bd.build_type:
        errors.append("buildDefinition.buildType is required")
    if len(bd.external_parameters) == 0:
        errors.append("buildDefinition.externalParameters must not be empty")
    for i, dep in enumerate(bd.resolved_dependencies):
        check_rd(dep, f"resolvedDependencies[{i}]", errors)
    if not prov.HasField("run_details"):
        errors.append("runDetails is required")
    if not rd.builder.id:
        errors.append("runDetails.builder.id is required")
    for i, dep in enumerate(rd.builder.builder_dependencies):
        check_rd(dep, f"builderDependencies[{i}]", errors)
    for i, dep in enumerate(rd.byproducts):
        check_rd(dep, f"byproducts[{i}]", errors)
    # Parse already rejected malformed timestamps; check ordering too.
    md = rd.metadata
    if md.HasField("started_on") and md.HasField("finished_on"):
        if md.finished_on.ToNanoseconds() < md.started_on.ToNanoseconds():
            errors.append("metadata.finishedOn is before startedOn")


def main(paths):
    failed = False
    for path in paths:
        errors = []
        try:
            with open(path, "rb") as f:
                doc = payload_of(json.load(f))
            pb = statement_pb2.Statement()
            json_format.ParseDict(doc, pb, ignore_unknown_fields=False)
            Statement.copy_from_pb(pb).validate()
            for i, s in enumerate(pb.subject):
                check_rd(s, f"subject[{i}]", errors)
            if pb.predicate_type == SLSA_V1:
                check_provenance(doc["predicate"], errors)
        except Exception as e:  # noqa: BLE001 - report any parse or validation error
            errors.append(f"{type(e).__name__}: {e}")
        if errors:
            failed = True
            for e in errors:
                print(f"{path}: {e}")
        else:
            print(f"{path}: ok ({pb.predicate_type})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
