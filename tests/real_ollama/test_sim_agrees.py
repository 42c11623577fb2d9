"""The simulator agrees with a real Ollama: one scripted scenario, the same wire from both.

A real server is the judge; the simulator is a stand-in that must agree with it. The
scenario is sent to the real Ollama of the `real_ollama` fixture (when a binary is at hand)
and to the simulator, and what comes back is compared: the keys and JSON types of every body
(recursively; values may differ), the status and text of the errors, and the behaviours
(silent truncation, a reload on a num_ctx change, a keep_alive 0 unload). The same
comparisons run against the answers a real Ollama 0.24.0 gave once
(tests/sim/data/ollama-0.24.0/), so the simulator is checked on every machine.

Small settings throughout: the real model runs on two busy CPU cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.sim.server import SimServer

from .server import MODEL, RealOllama

RECORDED = Path(__file__).parents[1] / "sim" / "data" / "ollama-0.24.0"
NUM_CTX = 2048
RELOAD_CTX = 1024  # the overlong prompt runs here: a smaller context is a reload, and cheaper
NUM_PREDICT = 4
UNKNOWN = "no-such-model:1b"
PROMPT = "Write one sentence about the sea."
# Words the real tokenizer cuts into at least one token each (the simulator's into exactly
# one): well over RELOAD_CTX tokens either way.
OVERLONG = " ".join(["harbour", "lantern", "copper", "meadow", "thunder"] * 300)
SIM_SPEED = 100.0  # the cpu2-ci profile at 100x: a load ~20 ms, the overlong prefill ~0.1 s
UNLOAD_WAIT_S = 30.0


# -- the scenario --------------------------------------------------------------------


@dataclass
class Answer:
    """One response: its status, and its body as JSON (or NDJSON lines, or SSE events)."""

    status: int
    body: Any
    events: list[Any] = field(default_factory=list)


def _options(num_ctx: int) -> dict[str, Any]:
    return {"num_ctx": num_ctx, "num_predict": NUM_PREDICT, "temperature": 0, "seed": 7}


def _ndjson(client: httpx.Client, path: str, body: dict[str, Any]) -> Answer:
    with client.stream("POST", path, json=body) as response:
        text = response.read().decode()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    if response.status_code != 200 or not body.get("stream", True):
        return Answer(response.status_code, json.loads(text) if text.strip() else None)
    return Answer(response.status_code, lines[-1] if lines else None, lines)


def _sse(client: httpx.Client, body: dict[str, Any]) -> Answer:
    events: list[Any] = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return Answer(response.status_code, json.loads(response.read()))
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
    return Answer(response.status_code, None, events)


def _entry(listing: dict[str, Any], key: str = "models", by: str = "name") -> Any:
    return next((m for m in listing[key] if m[by] == MODEL), None)


def _wait_unloaded(client: httpx.Client) -> list[Any]:
    deadline = time.monotonic() + UNLOAD_WAIT_S
    while True:
        models = client.get("/api/ps").json()["models"]
        if not models or time.monotonic() > deadline:
            return list(models)
        time.sleep(0.2)


def run_scenario(base_url: str) -> dict[str, Answer]:
    """The scripted scenario; the keys name what each answer shows."""
    out: dict[str, Answer] = {}
    timeout = httpx.Timeout(600.0, connect=5.0)
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        get = client.get
        out["version"] = Answer(200, get("/api/version").json())
        out["tags"] = Answer(200, _entry(get("/api/tags").json()))
        out["show"] = Answer(200, client.post("/api/show", json={"model": MODEL}).json())
        out["v1_models"] = Answer(200, _entry(get("/v1/models").json(), "data", "id"))
        load = client.post("/api/generate", json={"model": MODEL, "options": _options(NUM_CTX)})
        out["load"] = Answer(load.status_code, load.json())  # no prompt: load only
        generate = {"model": MODEL, "prompt": PROMPT, "options": _options(NUM_CTX)}
        out["generate"] = _ndjson(client, "/api/generate", generate)
        out["ps"] = Answer(200, _entry(get("/api/ps").json()))
        messages = [{"role": "user", "content": PROMPT}]
        chat = {"model": MODEL, "messages": messages, "options": _options(NUM_CTX)}
        out["chat"] = _ndjson(client, "/api/chat", chat)
        out["chat_whole"] = _ndjson(client, "/api/chat", {**chat, "stream": False})
        # One token comes with the prompt's last batch: no decode step, no eval_duration.
        one = {**generate, "stream": False, "options": {**_options(NUM_CTX), "num_predict": 1}}
        out["one_token"] = _ndjson(client, "/api/generate", one)
        overlong: dict[str, Any] = {**chat, "messages": [{"role": "user", "content": OVERLONG}]}
        overlong["options"] = {**_options(RELOAD_CTX), "num_predict": 2}
        out["overlong"] = _ndjson(client, "/api/chat", overlong)
        out["ps_reloaded"] = Answer(200, _entry(get("/api/ps").json()))
        out["too_long"] = _ndjson(client, "/api/chat", {**overlong, "truncate": False})
        refused = {**overlong, "truncate": False, "stream": False}
        out["too_long_whole"] = _ndjson(client, "/api/chat", refused)
        out["openai"] = _sse(
            client,
            {
                "model": MODEL,
                "messages": messages,
                "max_tokens": NUM_PREDICT,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        out["unknown_chat"] = _ndjson(client, "/api/chat", {**chat, "model": UNKNOWN})
        out["unknown_show"] = Answer(
            (shown := client.post("/api/show", json={"model": UNKNOWN})).status_code, shown.json()
        )
        out["unknown_openai"] = _sse(client, {"model": UNKNOWN, "messages": messages})
        unload = client.post("/api/generate", json={"model": MODEL, "keep_alive": 0})
        out["unload"] = Answer(unload.status_code, unload.json())
        out["ps_unloaded"] = Answer(200, _wait_unloaded(client))
    return out


# -- comparing -----------------------------------------------------------------------


def kind(value: Any) -> Any:
    """The JSON shape of a value: dicts by key, lists by their first item, scalars by type.

    Numbers are one kind: Go writes a whole float64 without a fraction (1e6 as 1000000)."""
    if isinstance(value, dict):
        return {key: kind(item) for key, item in value.items()}
    if isinstance(value, list):
        return [kind(value[0])] if value else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def differences(real: Any, sim: Any, path: str = "$") -> list[str]:
    """Where the simulator's JSON shape departs from the real one, one line per place."""
    real_kind, sim_kind = kind(real), kind(sim)
    if isinstance(real_kind, dict) and isinstance(sim_kind, dict):
        out = [f"{path}.{k}: missing from the simulator" for k in real_kind if k not in sim_kind]
        out += [f"{path}.{k}: only the simulator sends it" for k in sim_kind if k not in real_kind]
        for key in real_kind.keys() & sim_kind.keys():
            out += differences(real[key], sim[key], f"{path}.{key}")
        return sorted(out)
    if isinstance(real_kind, list) and isinstance(sim_kind, list):
        if real and sim:  # an empty list says nothing about its items
            return differences(real[0], sim[0], f"{path}[0]")
        return []
    if real_kind != sim_kind:
        return [f"{path}: {real_kind} from the real server, {sim_kind} from the simulator"]
    return []


def _openai_kinds(events: list[Any]) -> list[str]:
    """Each SSE event by its role in the stream, repeated content chunks folded into one."""
    kinds: list[str] = []
    for event in events:
        if event == "[DONE]":
            name = "[DONE]"
        elif not event["choices"]:
            name = "usage" if "usage" in event else "empty"
        else:
            name = "finish" if event["choices"][0]["finish_reason"] else "content"
        if not (kinds and kinds[-1] == name == "content"):
            kinds.append(name)
    return kinds


def _by_role(events: list[Any]) -> dict[str, Any]:
    return {name: event for name, event in zip(_openai_kinds(events), events, strict=False)}


def compare(real: dict[str, Answer], sim: dict[str, Answer]) -> list[str]:
    """Every disagreement between the two scenarios, over the answers `real` has."""
    problems: list[str] = []

    def shape(name: str, real_body: Any, sim_body: Any) -> None:
        problems.extend(f"{name}: {d}" for d in differences(real_body, sim_body))

    for name, answer in real.items():
        mine = sim[name]
        if answer.status != mine.status:
            problems.append(f"{name}: HTTP {answer.status} real, {mine.status} simulated")
            continue
        if name in ("generate", "chat"):
            shape(f"{name} first chunk", answer.events[0], mine.events[0])
            shape(f"{name} final chunk", answer.body, mine.body)
            for label, events in (("real", answer.events), ("simulated", mine.events)):
                if [e["done"] for e in events] != [False] * (len(events) - 1) + [True]:
                    problems.append(f"{name}: {label} stream is not chunks then one final")
        elif name == "openai":
            if _openai_kinds(answer.events) != _openai_kinds(mine.events):
                problems.append(
                    f"openai: stream {_openai_kinds(answer.events)} real, "
                    f"{_openai_kinds(mine.events)} simulated"
                )
            real_events, sim_events = _by_role(answer.events), _by_role(mine.events)
            for role in real_events.keys() & sim_events.keys() - {"[DONE]"}:
                shape(f"openai {role} chunk", real_events[role], sim_events[role])
        elif name == "show":
            shape(name, {**answer.body, "model_info": {}}, {**mine.body, "model_info": {}})
            real_keys, sim_keys = set(answer.body["model_info"]), set(mine.body["model_info"])
            if real_keys != sim_keys:
                problems.append(
                    f"show: model_info keys only real {sorted(real_keys - sim_keys)}, "
                    f"only simulated {sorted(sim_keys - real_keys)}"
                )
            shape("show model_info", answer.body["model_info"], mine.body["model_info"])
        else:
            shape(name, answer.body, mine.body)
        if name.startswith(("unknown", "too_long")) and answer.body != mine.body:
            problems.append(f"{name}: {answer.body!r} real, {mine.body!r} simulated")
    return problems


def behaviours(answers: dict[str, Answer], reload_ctx: int = RELOAD_CTX) -> list[str]:
    """What the server must do, checked on each side by itself."""
    problems: list[str] = []
    overlong = answers["overlong"]
    if overlong.status != 200 or overlong.body["prompt_eval_count"] != reload_ctx:
        problems.append(
            f"an overlong prompt is not silently cut to num_ctx {reload_ctx}: HTTP "
            f"{overlong.status}, prompt_eval_count {overlong.body.get('prompt_eval_count')}"
        )
    if "ps" in answers and answers["ps"].body["context_length"] != NUM_CTX:
        problems.append(f"/api/ps context_length is not {NUM_CTX}: {answers['ps'].body}")
    if "ps_reloaded" in answers and answers["ps_reloaded"].body["context_length"] != reload_ctx:
        problems.append(f"no reload to num_ctx {reload_ctx}: {answers['ps_reloaded'].body}")
    if "load" in answers and answers["load"].body.get("done_reason") != "load":
        problems.append(f"a request without a prompt is not a load: {answers['load'].body}")
    if "unload" in answers:
        if answers["unload"].body.get("done_reason") != "unload":
            problems.append(f"keep_alive 0 is not an unload: {answers['unload'].body}")
        if answers["ps_unloaded"].body:
            problems.append(f"still loaded after keep_alive 0: {answers['ps_unloaded'].body}")
    return problems


# -- the recorded answers ------------------------------------------------------------


def _json(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def _lines(name: str) -> list[Any]:
    return [json.loads(line) for line in (RECORDED / name).read_text().splitlines() if line]


def recorded() -> dict[str, Answer]:
    """The answers of a real Ollama 0.24.0, named as the scenario names its own."""
    chat = _lines("chat_stream_ctx8192.ndjson")
    overlong = _lines("chat_stream_overlong_ctx2048.ndjson")
    sse = (RECORDED / "v1_chat_completions_stream.sse").read_text().splitlines()
    events = [
        data if data == "[DONE]" else json.loads(data)
        for data in (line.removeprefix("data: ") for line in sse if line.startswith("data: "))
    ]
    return {
        "version": Answer(200, _json("api_version.json")),
        "tags": Answer(200, _entry(_json("api_tags.json"))),
        "show": Answer(200, _json("api_show.json")),
        "v1_models": Answer(200, _entry(_json("v1_models.json"), "data", "id")),
        "chat": Answer(200, _json("chat_final_ctx2048.json"), chat),
        "ps": Answer(200, _entry(_json("api_ps_ctx2048.json"))),
        "overlong": Answer(200, overlong[-1], overlong),
        "openai": Answer(200, None, events),
    }


# -- the tests -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> Iterator[dict[str, Answer]]:
    """The scenario against the simulator, started on port 0 like every other test's."""
    server = SimServer(profile="cpu2-ci", speed=SIM_SPEED)
    server.start()
    try:
        yield run_scenario(server.url)
    finally:
        server.stop()


def test_the_simulator_behaves_as_a_real_server_must(simulated: dict[str, Answer]) -> None:
    assert behaviours(simulated) == []


def test_the_simulator_agrees_with_the_recorded_real_server(
    simulated: dict[str, Answer],
) -> None:
    real = recorded()
    assert behaviours(real, reload_ctx=2048) == []  # what the recording itself shows
    assert compare(real, simulated) == []


def test_the_comparison_catches_a_departure(simulated: dict[str, Answer]) -> None:
    """A simulator that drifted (a renamed key, a number sent as text, an error reworded)
    is reported, so an empty list above means agreement."""
    real = recorded()
    drifted = dict(simulated)
    final = dict(simulated["chat"].body)
    final["eval_count"] = str(final["eval_count"])
    final["prompt_tokens"] = final.pop("prompt_eval_count")
    drifted["chat"] = Answer(200, final, simulated["chat"].events)
    drifted["openai"] = Answer(200, None, [e for e in simulated["openai"].events if e != "[DONE]"])
    found = compare(real, drifted)
    retyped = "$.eval_count: number from the real server, str from the simulator"
    assert f"chat final chunk: {retyped}" in found
    assert "chat final chunk: $.prompt_eval_count: missing from the simulator" in found
    assert any(p.startswith("openai: stream") for p in found)
    wrong = {**simulated, "unknown_chat": Answer(404, {"error": "no such model"})}
    assert any(p.startswith("unknown_chat:") for p in compare(simulated, wrong))


def test_the_simulator_agrees_with_a_real_server(
    real_ollama: RealOllama, simulated: dict[str, Answer]
) -> None:
    real = run_scenario(real_ollama.base_url)
    assert behaviours(real) == [], real_ollama.log_text()[-4000:]
    assert compare(real, simulated) == []
