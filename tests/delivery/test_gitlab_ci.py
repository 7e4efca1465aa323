""".gitlab-ci.yml: valid for GitLab, the five stages in order, and only test_before_build without a tag."""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from tests.delivery.conftest import GPU_IMAGE, IMAGES, REPO, run, tool

CI_FILE = REPO / ".gitlab-ci.yml"
STAGES = ["test_before_build", "build", "pull_image", "deploy", "test_after_deploy"]
KEYWORDS = {"stages", "workflow", "variables", "default", "include", "image", "services", "cache",
            "before_script", "after_script"}
# What GitLab sets in each kind of pipeline (the variables the rules look at).
PIPELINES = {
    "push to a branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
    "merge request": {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"},
    "release tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.2.3"},
    "pre-release tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.3.0-rc1"},
}
UNTAGGED = ("push to a branch", "merge request")


# --- a small evaluator of GitLab `rules:if` expressions (the forms this file uses) -----------------------

TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||==|!=|=~|!~|\$\w+|\"[^\"]*\"|'[^']*'|/(?:\\.|[^/])*/|null)")


def _tokens(expression: str) -> list[str]:
    tokens, position = [], 0
    while position < len(expression.rstrip()):
        match = TOKEN.match(expression, position)
        assert match, f"unsupported rules:if syntax at {expression[position:]!r}"
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def evaluate(expression: str, variables: dict) -> bool:
    tokens = _tokens(expression)

    def value(token):
        if token.startswith("$"):
            return variables.get(token[1:]) or None  # an empty variable is null in GitLab
        if token == "null":
            return None
        return token[1:-1]

    def atom(i):
        if tokens[i] == "(":
            result, i = disjunction(i + 1)
            assert tokens[i] == ")"
            return result, i + 1
        left = value(tokens[i])
        if i + 1 < len(tokens) and tokens[i + 1] in ("==", "!=", "=~", "!~"):
            op, right = tokens[i + 1], tokens[i + 2]
            if op in ("=~", "!~"):
                found = left is not None and re.search(right[1:-1], left) is not None
                return found == (op == "=~"), i + 3
            return (left == value(right)) == (op == "=="), i + 3
        return left is not None, i + 1

    def chain(i, operand, operator):
        """`operand (operator operand)*`: && binds tighter than ||, as in GitLab."""
        results = []
        while True:
            result, i = operand(i)
            results.append(result)
            if i == len(tokens) or tokens[i] != operator:
                return (all(results) if operator == "&&" else any(results)), i
            i += 1

    def conjunction(i):
        return chain(i, atom, "&&")

    def disjunction(i):
        return chain(i, conjunction, "||")

    result, end = disjunction(0)
    assert end == len(tokens), f"could not parse {expression!r}"
    return result


def first_rule(rules: list[dict], variables: dict) -> dict | None:
    """GitLab's rules: the first rule whose `if` holds (or that has none) decides."""
    for rule in rules:
        assert not {"changes", "exists"} & set(rule), "this check evaluates `if` rules only"
        if "if" not in rule or evaluate(rule["if"], variables):
            return rule
    return None


def test_the_evaluator_agrees_with_gitlab_on_the_forms_used():
    tag = {"CI_COMMIT_TAG": "v1.2.3"}
    assert evaluate("$CI_COMMIT_TAG", tag) and not evaluate("$CI_COMMIT_TAG", {})
    assert evaluate(r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/", tag)
    assert not evaluate(r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/", {"CI_COMMIT_TAG": "v1.2.3-rc1"})
    assert evaluate('$CI_PIPELINE_SOURCE == "merge_request_event"', {"CI_PIPELINE_SOURCE": "merge_request_event"})
    assert not evaluate("$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", {"CI_COMMIT_BRANCH": "main"})
    assert evaluate("$A == null || ($B && $C)", {"B": "1", "C": "1", "A": "x"})


# --- the file -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ci() -> dict:
    return yaml.safe_load(CI_FILE.read_text())


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else copy.deepcopy(value)
    return merged


def _resolved(ci: dict, name: str) -> dict:
    job = ci[name]
    parents = job.get("extends", [])
    resolved: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = _merge(resolved, _resolved(ci, parent))
    return _merge(resolved, {k: v for k, v in job.items() if k != "extends"})


@pytest.fixture(scope="module")
def jobs(ci) -> dict[str, dict]:
    return {name: _resolved(ci, name) for name in ci if name not in KEYWORDS and not name.startswith(".")}


def scripts(job: dict) -> str:
    return "\n".join(job.get("before_script", []) + job.get("script", []) + job.get("after_script", []))


def pipeline(ci: dict, jobs: dict, variables: dict) -> dict[str, dict]:
    """The jobs a pipeline with these variables runs, each with the variables its rule adds."""
    workflow = first_rule(ci["workflow"]["rules"], variables)
    if workflow is None or workflow.get("when") == "never":
        return {}
    running = {}
    for name, job in jobs.items():
        rule = first_rule(job["rules"], variables) if "rules" in job else {}
        if rule is not None and rule.get("when") != "never":
            running[name] = {**variables, **(rule.get("variables") or {})}
    return running


def test_validates_against_gitlabs_schema():
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(CI_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_stages_are_the_five_in_order(ci, jobs):
    assert ci["stages"] == STAGES
    assert {job["stage"] for job in jobs.values()} == set(STAGES), "every stage has a job, no other stage"
    assert not any("only" in job or "except" in job for job in jobs.values()), "rules only: one way to read them"


@pytest.mark.parametrize("kind", UNTAGGED)
def test_without_a_tag_only_test_before_build_runs(ci, jobs, kind):
    running = pipeline(ci, jobs, PIPELINES[kind])
    assert running, f"a {kind} runs the tests"
    assert {jobs[name]["stage"] for name in running} == {"test_before_build"}


def test_a_push_with_an_open_merge_request_runs_once(ci, jobs):
    assert not pipeline(ci, jobs, {**PIPELINES["push to a branch"], "CI_OPEN_MERGE_REQUESTS": "group/p!7"})


@pytest.mark.parametrize("kind, overlay", [("release tag", "prod"), ("pre-release tag", "dev")])
def test_a_tag_runs_every_stage_and_picks_its_overlay(ci, jobs, kind, overlay):
    running = pipeline(ci, jobs, PIPELINES[kind])
    assert set(running) == set(jobs)
    for name, variables in running.items():
        if jobs[name]["stage"] != "test_before_build":
            assert variables["OVERLAY"] == overlay, name
            assert (REPO / "manifests" / "overlays" / overlay).is_dir()


def test_the_test_job_lints_audits_scans_and_runs_the_readme_test_command(jobs):
    commands = "\n".join(scripts(job) for job in jobs.values() if job["stage"] == "test_before_build")
    assert re.search(r"^make test\b", commands, re.MULTILINE), "the README's test command"
    assert "make lint" in commands or "ruff check" in commands
    assert "bandit" in commands and "pip-audit" in commands
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test:.*\n\t.*pytest", makefile, re.MULTILINE), "make test runs pytest (with tests/delivery)"


def test_the_test_job_skips_the_container_tests_instead_of_failing(jobs, tmp_path):
    """GitLab sets CI=true in every job (docs: "Predefined CI/CD variables reference", CI), and the test job
    runs in $PYTHON_IMAGE, which has no Docker; Docker-in-Docker needs a privileged runner (docs: "Use
    Docker to build Docker images"), which this project does not assume. With the job's own variables and
    no docker on PATH, tests/containers must skip, or every pipeline stops at its first stage."""
    job = jobs["test"]
    python_only = tmp_path / "bin"
    python_only.mkdir()
    (python_only / "python").symlink_to(sys.executable)
    env = {"HOME": str(tmp_path), "PATH": str(python_only), "CI": "true", "GITLAB_CI": "true",
           **{name: str(value) for name, value in job.get("variables", {}).items()}}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             "tests/containers/test_contents.py"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"^\d+ skipped", result.stdout.splitlines()[-1]), result.stdout[-3000:]


def test_build_uses_no_docker_daemon_and_builds_every_image(jobs):
    build = [job for job in jobs.values() if job["stage"] == "build"]
    assert len(build) == 1
    job = build[0]
    image = job["image"]["name"] if isinstance(job["image"], dict) else job["image"]
    assert re.search(r"(buildah|kaniko)", image), image
    assert not job.get("services"), "no docker:dind"
    assert sorted(job["parallel"]["matrix"][0]["IMAGE"]) == sorted(IMAGES)
    body = scripts(job)
    assert '--file "$IMAGE/Dockerfile"' in body or "--dockerfile" in body
    assert '"$CI_REGISTRY_IMAGE/$IMAGE:$CI_COMMIT_TAG"' in body


def test_pull_image_resolves_digests_for_deploy(jobs):
    job = jobs["pull_image"]
    assert job["stage"] == "pull_image" and "build" in job["needs"]
    assert "ci/resolve_digests.sh" in scripts(job)
    assert job["artifacts"]["reports"]["dotenv"] == "images.env"
    script = (REPO / "ci" / "resolve_digests.sh").read_text()
    listed = re.search(r"^images=\(([^)]*)\)", script, re.MULTILINE).group(1).split()
    built = [image for row in jobs["build"]["parallel"]["matrix"] for image in row["IMAGE"]]
    assert sorted(listed) == sorted(built) == sorted((*IMAGES, GPU_IMAGE)), "every image the build job pushes"
    assert "skopeo inspect" in script or "crane digest" in script


def test_deploy_applies_by_digest_then_trains_on_schedule(jobs):
    deploy = jobs["deploy"]
    assert "pull_image" in deploy["needs"]
    assert deploy["environment"]["name"] == "$OVERLAY"
    assert "ci/deploy.sh" in scripts(deploy) and "ci/rollback.sh" in scripts(deploy)
    script = (REPO / "ci" / "deploy.sh").read_text()
    assert "kustomize edit set image" in script and "@sha256:" in script
    assert "rollout status" in script and "inferenceservice" in script
    pipeline_job = jobs["deploy_pipeline"]
    assert pipeline_job["stage"] == "deploy" and "deploy" in pipeline_job["needs"]
    commands = [line for line in pipeline_job["script"] if line.startswith("python -m pipelines")]
    assert [shlex.split(c)[3] for c in commands] == ["compile", "upload", "schedule"]


def test_pipelines_cli_accepts_the_commands_ci_runs(jobs):
    """The flags in the YAML are the CLI's own (pipelines/__main__.py's parser)."""
    main = pytest.importorskip("pipelines.__main__")
    for line in jobs["deploy_pipeline"]["script"]:
        if line.startswith("python -m pipelines"):
            argv = [re.sub(r"\$\{?\w+\}?", "x", arg) for arg in shlex.split(line)[3:]]
            main.parser().parse_args(argv)


def test_after_deploy_smoke_tests_and_rolls_back(jobs):
    job = jobs["smoke_test"]
    assert job["stage"] == "test_after_deploy" and "deploy" in job["needs"]
    body = scripts(job)
    assert "ci/smoke_test.sh" in body and "ci/rollback.sh" in body
    smoke = (REPO / "ci" / "smoke_test.sh").read_text()
    assert "/v1/models/$model:predict" in smoke and "/healthz" in smoke


def test_every_script_the_file_calls_exists(jobs):
    for name, job in jobs.items():
        for path in re.findall(r"\bci/[\w./-]+\.sh\b", scripts(job)):
            assert (REPO / path).is_file(), f"{name}: {path}"


def test_every_image_is_pinned(ci, jobs):
    variables = ci.get("variables", {})
    for name, job in jobs.items():
        image = job.get("image", ci.get("image"))
        image = image["name"] if isinstance(image, dict) else image
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: str(variables[m.group(1)]).split()[0], image)
        assert pinned(image), f"{name}: {image} is not pinned to a version or digest"


def pinned(image: str) -> bool:
    """A digest, or a tag that names a version (a digit in it, and not `latest`)."""
    if re.search(r"@sha256:[0-9a-f]{64}$", image):
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and bool(re.search(r"\d", tag))


def test_nothing_secret_in_the_file(ci):
    for key in ci.get("variables") or {}:
        if re.search(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|KUBECONFIG", key):
            pytest.fail(f"{key} belongs in masked CI/CD variables, not in .gitlab-ci.yml")
    assert "KUBECONFIG:" not in CI_FILE.read_text(), "the kubeconfig comes from a File variable"


# --- the way in: the GitLab agent ----------------------------------------------------------------------

AGENTS = REPO / ".gitlab" / "agents"


def test_ci_reaches_the_cluster_through_the_agent_it_installs(ci, jobs):
    """GitLab reads an agent's configuration from .gitlab/agents/<agent name>/config.yaml; ci_access gives
    CI jobs a context named <agent configuration project path>:<agent name>, and with `environments`
    only to jobs of those environments (docs.gitlab.com/user/clusters/agent/ci_cd_workflow)."""
    [agent] = [p.name for p in AGENTS.iterdir() if (p / "config.yaml").is_file()]
    addons = (REPO / "infra" / "addons.sh").read_text()
    assert re.search(rf"^GITLAB_AGENT_NAME=\$\{{GITLAB_AGENT_NAME:-{agent}\}}", addons, re.MULTILINE), \
        "infra/addons.sh installs the agent the configuration names"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", agent) and len(agent) <= 63, "GitLab's agent name rule"
    assert ci["variables"]["KUBE_CONTEXT"] == f"$CI_PROJECT_PATH:{agent}"
    config = yaml.safe_load((AGENTS / agent / "config.yaml").read_text())
    [project] = config["ci_access"]["projects"]
    overlays = {p.name for p in (REPO / "manifests" / "overlays").iterdir()}
    assert set(project["environments"]) == overlays, "every environment the deploy jobs use, and only those"
    for name in ("deploy", "deploy_pipeline", "smoke_test"):
        assert jobs[name]["environment"]["name"] == "$OVERLAY", f"{name} must run in an environment ci_access admits"
    for line in jobs["deploy_pipeline"]["script"]:
        assert "--host" not in line and "KFP_HOST" not in line, "KFP is reached through the API server, not exposed"
    for script in ("deploy.sh", "smoke_test.sh"):
        assert "use_kube_context" in (REPO / "ci" / script).read_text()


def test_a_tag_creates_a_release_with_digests_and_model_version(ci, jobs):
    """GitLab's `release` keyword creates the Release of the tag (release-cli in the job's image)."""
    job = jobs["release"]
    assert "release" in pipeline(ci, jobs, PIPELINES["release tag"])
    assert all("release" not in pipeline(ci, jobs, PIPELINES[kind]) for kind in UNTAGGED), "only tag pipelines"
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG"
    needs = [n if isinstance(n, str) else n["job"] for n in job["needs"]]
    assert {"pull_image", "deploy", "smoke_test"} <= set(needs), "digests, model version, and a passed smoke test"
    assert "ci/release_notes.sh > release-notes.md" in scripts(job)
    assert job["release"]["description"] == "release-notes.md"
    assert "DEPLOYED_MODEL_VERSION" in (REPO / "ci" / "deploy.sh").read_text()
    assert "release-cli" in job["image"]
