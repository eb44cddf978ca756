"""Validates real API responses against the served OpenAPI 3.1 document.

Reads {"doc": <openapi.json>, "samples": [{"path", "method", "status", "body"}]} on stdin.
For each sample, the schema is the one the document gives for that path, method, status
and application/json; every $ref resolves inside the document. Prints one line per failure
and exits 1 if any; otherwise prints how many responses were validated.
"""
import json
import sys

from jsonschema import Draft202012Validator

data = json.load(sys.stdin)
doc = data["doc"]
Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
failures = []
for s in data["samples"]:
    op = doc["paths"].get(s["path"], {}).get(s["method"])
    if op is None:
        failures.append(f"{s['method']} {s['path']}: not in the document")
        continue
    resp = op["responses"].get(str(s["status"]))
    if resp is None:
        failures.append(f"{s['method']} {s['path']}: status {s['status']} not documented")
        continue
    schema = resp["content"]["application/json"]["schema"]
    root = {"components": doc["components"], **schema}
    errors = list(Draft202012Validator(root).iter_errors(s["body"]))
    for e in errors[:3]:
        where = "/".join(str(p) for p in e.absolute_path)
        failures.append(f"{s['method']} {s['path']} {s['status']}: at /{where}: {e.message[:300]}")
for f in failures:
    print(f)
if failures:
    sys.exit(1)
print(f"validated {len(data['samples'])} responses")
