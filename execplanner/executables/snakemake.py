"""Snakemake workflows read as text (never imported, never run): rules' threads and resources, their conda
environments and containers, and the config values they refer to (`threads: config["sofia"]["threads"]`).

A workflow's cores and memory are those of its largest rule: Snakemake can run it on one machine with that.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from execplanner.errors import InvalidExecutable
from execplanner.executables.condaenv import conda_packages
from execplanner.executables.defaults import default_requirements
from execplanner.executables.images import parse_image_reference
from execplanner.executables.limits import check_size, decode_text
from execplanner.executables.quantities import parse_duration_seconds, parse_size_mib
from execplanner.executables.safe_yaml import load_yaml
from execplanner.executables.workspace import NO_WORKSPACE, Workspace
from execplanner.model.requirements import DataInput, Estimate, ExecutableKind, Gpu, Requirements

_RULE = re.compile(r"^(?P<indent>\s*)(?:rule|checkpoint)\s+(?P<name>\w+)\s*:\s*(?:#.*)?$")
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)(?P<key>\w+)\s*:(?P<value>.*)$")
_TOP_LEVEL = ("configfile", "include", "container", "singularity", "conda")
_MEMORY_KEYS = {"mem_mb": "m", "mem_mib": "m", "mem_gb": "g", "mem_gib": "g", "mem": "m"}
_DISK_KEYS = {"disk_mb": "m", "disk_mib": "m", "disk_gb": "g", "disk_gib": "g", "disk": "m"}
_RUNTIME_KEYS = {"runtime": "m", "time_min": "m", "walltime": "m", "time": "m"}
_GPU_KEYS = ("gpu", "gpus", "nvidia_gpu", "gpu_count")
_CORE_KEYS = ("cpus_per_task", "_cores", "cores")


class _Unresolved(Exception):
    """An expression that only Snakemake at run time could evaluate (a lambda, workflow.cores...)."""


@dataclass
class _Rule:
    name: str
    file: str
    threads: tuple[int, str] | None = None
    memory_mib: int | None = None
    disk_mib: int | None = None
    runtime_seconds: int | None = None
    gpus: int | None = None


@dataclass
class _Workflow:
    rules: list[_Rule] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    conda_files: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)


# the functions and operators a resource expression may use; anything else is left to Snakemake at run time
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "int": int, "round": round}
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}


def _evaluate(node: ast.AST, config: dict[str, Any]) -> Any:
    """A tiny, side-effect-free evaluator: literals, config lookups, arithmetic, min/max/int."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id == "config":
        return config
    if isinstance(node, ast.Subscript):
        return _subscript(node, config)
    if isinstance(node, ast.Call):
        return _call(node, config)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _arithmetic(node, config)
    raise _Unresolved(ast.unparse(node)[:80])


def _subscript(node: ast.Subscript, config: dict[str, Any]) -> Any:
    container, key = _evaluate(node.value, config), _evaluate(node.slice, config)
    try:
        return container[key]
    except (KeyError, IndexError, TypeError) as exc:
        raise _Unresolved(f"config has no {key!r}") from exc


def _call(node: ast.Call, config: dict[str, Any]) -> Any:
    """`config.get(key[, default])` on a mapping, or one of `_FUNCTIONS`."""
    if isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        container = _evaluate(node.func.value, config)
        args = [_evaluate(arg, config) for arg in node.args]
        if isinstance(container, dict) and args:
            return container.get(args[0], args[1] if len(args) > 1 else None)
    elif isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return _FUNCTIONS[node.func.id](*[_evaluate(arg, config) for arg in node.args])
    raise _Unresolved(ast.unparse(node)[:80])


def _arithmetic(node: ast.BinOp, config: dict[str, Any]) -> Any:
    left, right = _evaluate(node.left, config), _evaluate(node.right, config)
    if not all(isinstance(v, int | float) for v in (left, right)):
        raise _Unresolved("arithmetic on non-numbers")
    return _OPERATORS[type(node.op)](left, right)


def _expression(text: str, config: dict[str, Any]) -> Any:
    try:
        return _evaluate(ast.parse(text.strip().rstrip(","), mode="eval").body, config)
    except SyntaxError as exc:
        raise _Unresolved(text.strip()[:80]) from exc


def _keywords(text: str, config: dict[str, Any], record: Requirements, where: str) -> dict[str, Any]:
    """`mem_mb=4000, runtime=60` → {"mem_mb": 4000, "runtime": 60}; unresolvable values WARN and are skipped."""
    try:
        call = ast.parse("f(" + text.strip().rstrip(",") + ")", mode="eval").body
    except SyntaxError:
        record.warn("{where}: resources not understood", where=where)
        return {}
    values: dict[str, Any] = {}
    for keyword in getattr(call, "keywords", []):
        try:
            values[keyword.arg] = _evaluate(keyword.value, config)
        except (_Unresolved, ZeroDivisionError, TypeError, ValueError) as exc:
            record.warn(
                "{where}: resource {name} depends on run time ({why}); ignored", where=where, name=keyword.arg, why=exc
            )
    return values


def _blocks(lines: list[str], start: int, indent: int) -> int:
    """Index of the first line after `start` that is not indented deeper than `indent` (blank lines belong)."""
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    return end


def _directives(lines: list[str], indent: int) -> list[tuple[str, str]]:
    """(key, value text) of a rule body's directives; a value runs on over deeper-indented lines."""
    body = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not body:
        return []
    directive_indent = min(len(line) - len(line.lstrip()) for line in body)
    found: list[tuple[str, str]] = []
    for line in lines:
        match = _DIRECTIVE.match(line)
        if match and len(match.group("indent")) == directive_indent and len(match.group("indent")) > indent:
            found.append((match.group("key"), match.group("value")))
        elif found and line.strip() and len(line) - len(line.lstrip()) > directive_indent:
            key, value = found[-1]
            found[-1] = (key, value + "\n" + line.strip())
    return found


def _record_resource(rule: _Rule, key: str, value: Any, record: Requirements) -> None:
    quantity = value if isinstance(value, str | int | float) else None
    if key in _MEMORY_KEYS:
        mib = parse_size_mib(quantity, _MEMORY_KEYS[key]) if quantity is not None else None
        if mib is None:
            record.warn("{where}: memory {value} not understood", where=f"rule {rule.name}", value=value)
        else:
            rule.memory_mib = max(rule.memory_mib or 0, mib)
    elif key in _DISK_KEYS:
        mib = parse_size_mib(quantity, _DISK_KEYS[key]) if quantity is not None else None
        rule.disk_mib = max(rule.disk_mib or 0, mib) if mib is not None else rule.disk_mib
    elif key in _RUNTIME_KEYS:
        seconds = parse_duration_seconds(quantity, "m") if quantity is not None else None
        rule.runtime_seconds = seconds if seconds is not None else rule.runtime_seconds
    elif isinstance(value, int):
        _record_count(rule, key, value)


def _record_count(rule: _Rule, key: str, value: int) -> None:
    """GPUs, or cores when `threads:` did not say."""
    if key in _GPU_KEYS:
        rule.gpus = value
    elif key in _CORE_KEYS and rule.threads is None:
        rule.threads = (value, f"resources {key}")


def _parse_rule(
    rule: _Rule,
    body: list[str],
    indent: int,
    workflow: _Workflow,
    record: Requirements,
    workspace: Workspace,
    base: str,
) -> None:
    where = f"rule {rule.name}"
    for key, value in _directives(body, indent):
        try:
            if key == "threads":
                threads = _expression(value, workflow.config)
                if isinstance(threads, int | float) and not isinstance(threads, bool):
                    how = "literal" if re.fullmatch(r"\s*\d+\s*", value) else value.strip()
                    rule.threads = (max(1, math.ceil(threads)), how)
            elif key == "resources":
                for name, resource in _keywords(value, workflow.config, record, where).items():
                    _record_resource(rule, name, resource, record)
            elif key == "conda":
                _note_conda(_expression(value, workflow.config), workflow, workspace, base)
            elif key in ("container", "singularity"):
                _note_container(_expression(value, workflow.config), workflow)
        except _Unresolved as exc:
            record.warn(
                "{where}: {directive} depends on run time ({why}); ignored", where=where, directive=key, why=exc
            )


def _note_conda(value: Any, workflow: _Workflow, workspace: Workspace, base: str) -> None:
    if isinstance(value, str) and value.endswith((".yml", ".yaml")):
        name = workspace.relative_name(value, base)
        if name not in workflow.conda_files:
            workflow.conda_files.append(name)


def _note_container(value: Any, workflow: _Workflow) -> None:
    if isinstance(value, str) and value and value not in workflow.containers:
        workflow.containers.append(value)


def _top_level(
    key: str, value: str, workflow: _Workflow, record: Requirements, workspace: Workspace, base: str
) -> None:
    target = _expression(value, workflow.config)
    if key == "configfile" and isinstance(target, str):
        _load_config(target, workflow, record, workspace, base)
    elif key == "include" and isinstance(target, str):
        _parse_file(workspace.relative_name(target, base), workflow, record, workspace)
    elif key == "conda":
        _note_conda(target, workflow, workspace, base)
    elif key in ("container", "singularity"):
        _note_container(target, workflow)


def _load_config(path: str, workflow: _Workflow, record: Requirements, workspace: Workspace, base: str) -> None:
    """Snakemake resolves configfile against the working directory (the repository root); we also try the
    Snakefile's directory."""
    for directory in ("", base):
        data = workspace.read(path, directory)
        if data is not None:
            name = workspace.relative_name(path, directory)
            loaded = load_yaml(decode_text(data, name), name, workspace.limits)
            if isinstance(loaded, dict):
                workflow.config.update(loaded)
                workflow.files.append(name)
            return
    record.warn("configfile {file} not found; rules that read config are not resolved", file=path)


def _parse_text(text: str, name: str, workflow: _Workflow, record: Requirements, workspace: Workspace) -> None:
    base = str(PurePosixPath(name).parent) if "/" in name else ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        rule = _RULE.match(line)
        if rule:
            indent = len(rule.group("indent"))
            end = _blocks(lines, index, indent)
            parsed = _Rule(name=rule.group("name"), file=name)
            _parse_rule(parsed, lines[index + 1 : end], indent, workflow, record, workspace, base)
            workflow.rules.append(parsed)
            index = end
            continue
        directive = _DIRECTIVE.match(line)
        if directive and directive.group("key") in _TOP_LEVEL and not directive.group("indent"):
            try:
                _top_level(directive.group("key"), directive.group("value"), workflow, record, workspace, base)
            except _Unresolved as exc:
                record.warn(
                    "{file}: {directive} not resolved ({why})", file=name, directive=directive.group("key"), why=exc
                )
        index += 1


def _parse_file(name: str, workflow: _Workflow, record: Requirements, workspace: Workspace) -> None:
    if name in workflow.files:
        return
    data = workspace.read(name)
    if data is None:
        record.warn("included file {file} not found; its rules are not counted", file=name)
        return
    workflow.files.append(name)
    _parse_text(decode_text(data, name), name, workflow, record, workspace)


def _config_urls(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _config_urls(item, found)
    elif isinstance(value, list):
        for item in value:
            _config_urls(item, found)
    elif isinstance(value, str) and re.match(r"^(?:https?|ftp|s3)://\S+$", value) and value not in found:
        found.append(value)


def _largest(rules: list[_Rule], attribute: str) -> tuple[int, _Rule] | None:
    candidates = [(getattr(rule, attribute), rule) for rule in rules if getattr(rule, attribute) is not None]
    return max(candidates, key=lambda pair: pair[0]) if candidates else None


def _apply(workflow: _Workflow, record: Requirements, workspace: Workspace) -> None:
    _apply_sizes(workflow, record)
    _apply_software(workflow, record, workspace)
    urls: list[str] = []
    _config_urls(workflow.config, urls)
    record.data = [DataInput(url=url) for url in urls]
    record.source_files = workflow.files + [f for f in workflow.conda_files if f not in workflow.files]


def _apply_sizes(workflow: _Workflow, record: Requirements) -> None:
    """Cores, memory, disk and GPUs of the largest rule; the duration of all rules run once each."""
    threads = [(rule.threads[0], rule) for rule in workflow.rules if rule.threads]
    if threads:
        value, rule = max(threads, key=lambda pair: pair[0])
        note = f"rule {rule.name}: threads ({rule.threads[1] if rule.threads else ''})"
        record.compute.cores_min = Estimate.declared(value, note, 0.9)
    if largest := _largest(workflow.rules, "memory_mib"):
        record.compute.memory_min_mib = Estimate.declared(largest[0], f"rule {largest[1].name}: resources", 0.9)
    if largest := _largest(workflow.rules, "disk_mib"):
        record.disk_min_mib = Estimate.declared(largest[0], f"rule {largest[1].name}: resources", 0.9)
    if largest := _largest(workflow.rules, "gpus"):
        record.compute.gpu = Gpu(count=Estimate.declared(largest[0], f"rule {largest[1].name}: resources"))
    runtimes = [rule.runtime_seconds for rule in workflow.rules if rule.runtime_seconds]
    if runtimes:
        record.duration_seconds = Estimate.derived(sum(runtimes), "sum of rules' runtime (each run once)", 0.4)


def _apply_software(workflow: _Workflow, record: Requirements, workspace: Workspace) -> None:
    """Snakemake itself, the packages of the rules' conda environments, and their containers."""
    record.runtime.packages = ["snakemake"]
    for conda_file in workflow.conda_files:
        record.runtime.conda_environments.append(conda_file)
        data = workspace.read(conda_file)
        if data is None:
            record.warn("conda environment {file} not found", file=conda_file)
            continue
        for package in conda_packages(data, conda_file, workspace.limits, record):
            if package not in record.runtime.packages:
                record.runtime.packages.append(package)
    for container in workflow.containers:
        record.runtime.images.append(parse_image_reference(container))


def snakemake_requirements(
    snakefile: str, workspace: Workspace = NO_WORKSPACE, data: bytes | None = None
) -> Requirements:
    """Requirements of the workflow whose main Snakefile is `snakefile` (repository-relative) in `workspace`;
    pass `data` for an uploaded Snakefile with no repository around it."""
    if data is None:
        data = workspace.read(snakefile)
        if data is None:
            raise InvalidExecutable(f"Snakefile {snakefile} not found")
    check_size(data, snakefile, workspace.limits)
    text = decode_text(data, snakefile)
    root_name = workspace.root.name if workspace.root is not None else None
    record = default_requirements(ExecutableKind.SNAKEMAKE_WORKFLOW, root_name or PurePosixPath(snakefile).stem)
    record.runtime.language = "python"
    record.runtime.build = "snakemake"
    workflow = _Workflow(files=[snakefile])
    _parse_text(text, snakefile, workflow, record, workspace)
    if not workflow.rules:
        raise InvalidExecutable(f"{snakefile} defines no rules; is it a Snakefile?")
    _apply(workflow, record, workspace)
    return record
