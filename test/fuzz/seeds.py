#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into OUT/<target>/ from the tree's own inputs.

The seeds are derived, not kept: manifests/ (examples and the component manifests), the unit tests'
testdata (YAML and JSON objects, quantity inputs) and test/fuzz/corpus/<target>/ (small hand-written
seeds for the byte protocols). YAML documents are also written as JSON, and a VirtualMachine's
template as the VirtualMachineInstance it becomes, so every JSON target starts from real objects.

usage: seeds.py ROOT OUT
"""
import hashlib
import json
import pathlib
import struct
import sys

import yaml

root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
TARGETS = ["json", "yaml", "quantity", "v1_decode", "validation", "domain", "launcher_com",
           "http", "websocket"]
KINDS = {"VirtualMachine", "VirtualMachineInstance", "VirtualMachineInstanceReplicaSet",
         "VirtualMachinePool"}


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def frame(obj):
    body = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(body)) + body


yaml_files = sorted(root.glob("manifests/**/*.yaml")) + \
    sorted(root.glob("test/unit/**/testdata/**/*.yaml"))
json_files = sorted(root.glob("test/unit/**/testdata/**/*.json"))

objects = []
for f in yaml_files:
    text = f.read_text()
    put("yaml", text)
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        continue  # an invalid-input test case: a yaml seed only
    objects += docs
for f in json_files:
    text = f.read_text()
    put("json", text)
    try:
        objects.append(json.loads(text))
    except json.JSONDecodeError:
        pass

vmis = []
for o in objects:
    if not isinstance(o, dict):
        continue
    text = json.dumps(o, default=str)
    put("json", text)
    kind = o.get("kind")
    if kind not in KINDS:
        continue
    put("validation", text)
    if kind in ("VirtualMachine", "VirtualMachineInstance"):
        put("v1_decode", text)
    if kind == "VirtualMachineInstance":
        vmis.append(o)
    template = (o.get("spec") or {}).get("template") if kind != "VirtualMachineInstance" else None
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        vmis.append({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                     "metadata": {"name": "from-template", "namespace": "default"},
                     "spec": template["spec"]})
for vmi in vmis:
    text = json.dumps(vmi, default=str)
    put("domain", text)
    put("v1_decode", text)

for line in (root / "test/unit/api/testdata/quantity/inputs.txt").read_text().split("\n"):
    put("quantity", line)

# The launcher protocol: each command, a response, events, and a stream of several frames.
status = {"state": "running", "reason": "booted", "accelerator": "tcg",
          "interfaces": [{"name": "default", "mac": "02:00:00:00:00:01", "ipAddress": "10.0.2.2"}]}
messages = [{"type": "request", "id": i + 1, "command": c} for i, c in enumerate(
    ["shutdown", "kill", "pause", "unpause", "soft_reboot", "reset", "get_status", "ping"])]
messages[0]["gracePeriodSeconds"] = 30
messages += [{"type": "request", "id": 100 + i, "command": "sync", "vmi": v}
             for i, v in enumerate(vmis[:4])]
messages += [{"type": "response", "id": 7, "ok": True, "status": status},
             {"type": "response", "id": 8, "ok": False,
              "error": {"code": "invalid", "message": "spec.domain: bad",
                        "context": {"field": "spec.domain"}}},
             {"type": "event", "event": "started", "reason": "booted", "status": status},
             {"type": "event", "event": "exiting", "reason": "shutdown", "status": status,
              "exitStatus": 0}]
for m in messages:
    put("launcher_com", frame(m))
    put("json", json.dumps(m, default=str))
put("launcher_com", b"".join(frame(m) for m in messages[:6]))

# WebSocket: an upgrade request followed by masked client frames; and server frames (unmasked).
upgrade = ("GET /v1/namespaces/ns/virtualmachineinstances/vm1/console HTTP/1.1\r\n"
           "Host: handler\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Protocol: plain.kubevirt.io\r\n\r\n").encode()


def ws_frame(opcode, payload, mask, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        key = b"\x12\x34\x56\x78"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def frames(mask):
    return [ws_frame(2, b"hello", mask),
            ws_frame(1, b"text", mask),
            ws_frame(2, b"frag", mask, fin=False) + ws_frame(0, b"ment", mask),
            ws_frame(9, b"ping", mask) + ws_frame(2, b"x" * 300, mask),
            ws_frame(8, struct.pack(">H", 1000) + b"bye", mask)]


for f in frames(True):
    put("websocket", upgrade + f)
for f in frames(False):
    put("websocket", f)

for target in TARGETS:
    d = root / "test/fuzz/corpus" / target
    if d.is_dir():
        for f in sorted(d.iterdir()):
            put(target, f.read_bytes())
    (out / target).mkdir(parents=True, exist_ok=True)

# Dictionaries for the JSON targets: JSON's tokens and every key and short string value the
# seeds use (field names, enum values), so the fuzzer spells them without having to guess.
words = set()


def collect(v):
    if isinstance(v, dict):
        for k, x in v.items():
            words.add(k)
            collect(x)
    elif isinstance(v, list):
        for x in v:
            collect(x)
    elif isinstance(v, str) and 0 < len(v) <= 40:
        words.add(v)


for o in objects + messages:
    collect(o)
tokens = ['{', '}', '[', ']', ',', ':', '""', 'true', 'false', 'null', '-1', '0.5', '1e3']
lines = [json.dumps(t) for t in tokens] + \
    [json.dumps(json.dumps(w)) for w in sorted(words) if w.isascii() and w.isprintable()]
for target in ["json", "v1_decode", "validation", "domain"]:
    (out / f"{target}.dict").write_text("\n".join(lines) + "\n")
