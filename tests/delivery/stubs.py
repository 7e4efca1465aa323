"""Stand-ins for kubectl, kustomize, aws and skopeo, so that ci/*.sh run here against no cluster.

Each stub is a small Python program put first on PATH. It appends its arguments to $STUB_DIR/calls.jsonl
and behaves as the real tool would for the calls the scripts make:
- kubectl `kustomize` and `config` run the real kubectl; `apply -f F` keeps a copy of F as applied-N.yaml; `get`
  answers from $STUB_DIR/cluster.json (absent: NotFound); `rollout status` succeeds;
  `port-forward` serves a fake predictor and streamer health endpoint on the local port.
- kustomize `edit set image|annotation` edits ./kustomization.yaml; `build` runs the real kubectl.
- aws `s3 cp URI -` prints $STUB_LATEST; skopeo `inspect` prints a digest unless the tag is in $STUB_MISSING.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

COMMON = '''#!{python}
import hashlib, json, os, subprocess, sys
from pathlib import Path
STUB_DIR = Path(os.environ["STUB_DIR"])
sys.path.insert(0, {root!r})  # the checkout, for tests.stub_http
with open(STUB_DIR / "calls.jsonl", "a") as log:
    log.write(json.dumps([Path(sys.argv[0]).name] + sys.argv[1:]) + "\\n")
args = sys.argv[1:]
'''

KUBECTL = '''
REAL = os.environ["REAL_KUBECTL"]
while args and args[0] in ("-n", "--namespace"):
    args = args[2:]
if args[0] in ("kustomize", "config"):  # offline: rendering, and contexts of the KUBECONFIG file
    sys.exit(subprocess.run([REAL, *args]).returncode)
if args[0] == "apply":
    count = len(list(STUB_DIR.glob("applied-*.yaml")))
    (STUB_DIR / f"applied-{count}.yaml").write_text(Path(args[args.index("-f") + 1]).read_text())
    sys.exit(0)
if args[0] == "rollout":
    sys.exit(0)
if args[0] == "get":
    state_file = STUB_DIR / "cluster.json"
    kind, query = args[1], args[-1]
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if kind not in state:
        print(f'Error from server (NotFound): {kind} not found', file=sys.stderr)
        sys.exit(1)
    answers = state[kind]
    for key in sorted(answers, key=len, reverse=True):
        if key in query:
            print(answers[key], end="")
            break
    sys.exit(0)
if args[0] == "port-forward":
    import threading
    from tests.stub_http import StubHandler, serving
    class Handler(StubHandler):
        def do_GET(self):
            if self.path == "/healthz":
                healthy = os.environ.get("STUB_HEALTH", "ok") == "ok"
                self.reply(200 if healthy else 503, {"healthy": healthy})
            else:
                self.reply(404, {"error": "not found"})
        def do_POST(self):
            body = json.loads(self.body())
            with open(STUB_DIR / "requests.jsonl", "a") as log:
                log.write(json.dumps({"path": self.path, "body": body}) + "\\n")
            labels = json.loads(os.environ.get("STUB_LABELS", "[]"))
            self.reply(200, {"predictions": [{"label": l, "score": 0.9} for l in labels],
                             "model_version": os.environ.get("STUB_SERVED_VERSION", "")})
    with serving(Handler, port=int(args[2].split(":")[0])):
        threading.Event().wait()
print("kubectl stub: unexpected call", args, file=sys.stderr)
sys.exit(2)
'''

KUSTOMIZE = '''
import yaml
REAL = os.environ["REAL_KUBECTL"]
if args[0] == "build":
    sys.exit(subprocess.run([REAL, "kustomize", args[1]]).returncode)
path = Path("kustomization.yaml")
k = yaml.safe_load(path.read_text())
if args[:3] == ["edit", "set", "image"]:
    for pair in args[3:]:
        name, new = pair.split("=", 1)
        entry = {"name": name}
        if "@" in new:
            entry["newName"], entry["digest"] = new.split("@", 1)
        else:
            entry["newName"], _, entry["newTag"] = new.rpartition(":")
        k["images"] = [i for i in k.get("images", []) if i["name"] != name] + [entry]
elif args[:3] == ["edit", "set", "annotation"]:
    for pair in args[3:]:
        key, value = pair.split(":", 1)
        k.setdefault("commonAnnotations", {})[key] = value
else:
    print("kustomize stub: unexpected call", args, file=sys.stderr)
    sys.exit(2)
path.write_text(yaml.safe_dump(k, sort_keys=False))
'''

AWS = '''
while args and args[0].startswith("--"):
    args = args[2:]
if args[:2] == ["s3", "cp"] and args[3] == "-":
    print(os.environ["STUB_LATEST"])
    sys.exit(0)
sys.exit(2)
'''

SKOPEO = '''
if args[0] == "login":
    sys.stdin.read()
    sys.exit(0)
if args[0] == "inspect":
    ref = args[-1].removeprefix("docker://")
    if ref in os.environ.get("STUB_MISSING", "").split():
        print(f"manifest unknown: {ref}", file=sys.stderr)
        sys.exit(1)
    print("sha256:" + hashlib.sha256(ref.encode()).hexdigest())
    sys.exit(0)
sys.exit(2)
'''


def install(directory: Path) -> Path:
    """Write the stubs into directory/bin and return that folder (put it first on PATH)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in {"kubectl": KUBECTL, "kustomize": KUSTOMIZE, "aws": AWS, "skopeo": SKOPEO}.items():
        path = bin_dir / name
        path.write_text(COMMON.format(python=sys.executable, root=str(Path(__file__).parents[2])) + body)
        path.chmod(0o755)
    return bin_dir


def environment(stub_dir: Path, real_kubectl: str, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "SYSTEMROOT")}
    return {**keep, "PATH": f"{stub_dir / 'bin'}:/usr/bin:/bin", "STUB_DIR": str(stub_dir),
            "REAL_KUBECTL": real_kubectl, **extra}
