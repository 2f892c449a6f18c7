"""The pure parts of web exploration: departure points, path comparison, the narrowed schema."""

import json

import pytest
from pydantic import ValidationError

from agentmem.agents.web_explore import (
    choice_schema,
    departures,
    divergence,
    draw_from,
    elsewhere_schema,
    id_openings,
    json_style,
    kind_opening,
    schema_model,
    walks_prefix,
)
from agentmem.envs.base import Observation
from agentmem.envs.web import WebAction

GOAL = 'Enter the password "zfy7" into both text fields and press submit.'
TYPED = {"action": "type", "target": 'textbox "" in "1st"', "text": "zfy7"}
ENTER = {"action": "press", "text": "Enter"}
OPEN = {"action": "click", "target": 'clickable "#open-search"'}
CLOSE = {"action": "click", "target": 'clickable "#search-cancel"'}


def test_a_failure_is_departed_from_at_its_first_step_or_inside_its_loop():
    assert divergence([OPEN, CLOSE], GOAL) == 0  # no loop: nothing says which step was wrong
    assert divergence([OPEN, CLOSE, OPEN, CLOSE], GOAL) == 0  # the loop began with a dead end
    assert divergence([TYPED, ENTER, TYPED, ENTER], GOAL) == 2  # it began by typing the goal's text
    assert divergence([CLOSE, TYPED, TYPED], GOAL) == 2  # ...even done twice in a row
    page_text = {**TYPED, "text": "Lorem ipsum"}
    assert divergence([page_text, ENTER, page_text], GOAL) == 0  # typed what the goal does not say
    # failed steps changed nothing: left out of the count
    assert divergence([{**OPEN, "error": True}, TYPED, ENTER, TYPED], GOAL) == 2


def test_a_failure_that_departed_from_an_older_one_keeps_the_steps_they_shared():
    looped = [TYPED, ENTER, TYPED, ENTER]  # departed from at step three
    second_box = {**TYPED, "target": 'textbox "" in "2nd"'}
    submit = {"action": "click", "target": 'button "Submit"'}
    redrawn = [TYPED, ENTER, second_box, submit]  # left it there, and failed too: no loop of its own
    assert divergence(redrawn, GOAL) == 0
    assert [d for _, d in departures([looped, redrawn], GOAL)] == [2, 2]
    # one that left the older failure before that one's place inherits nothing
    early = [TYPED, second_box, ENTER]
    assert [d for _, d in departures([looped, early], GOAL)] == [2, 0]
    # nor does the older from the newer
    assert [d for _, d in departures([redrawn, looped], GOAL)] == [0, 2]


def test_a_walk_is_compared_step_by_step_or_past_its_failed_steps():
    assert walks_prefix([TYPED], [TYPED, ENTER])
    assert walks_prefix([{**OPEN, "text": "Search"}], [OPEN])  # a click's text is ignored
    assert walks_prefix([{**CLOSE, "error": True}, TYPED], [TYPED, ENTER])
    assert not walks_prefix([ENTER], [TYPED, ENTER])


def test_the_narrowed_schema_leaves_out_a_choice_and_keeps_the_rest_open():
    obs = Observation(text="", data={"elements": [{"id": 1}, {"id": 2}]})
    narrowed = elsewhere_schema(obs, {("click", 1), ("scroll", None)})
    assert narrowed is not None and issubclass(narrowed, WebAction)
    variants = {v["properties"]["action"]["const"]: v for v in narrowed.model_json_schema()["anyOf"]}
    assert variants["click"]["properties"]["id"]["enum"] == [2]
    assert variants["type"]["properties"]["id"]["enum"] == [1, 2]  # another action on it stays open
    assert "scroll" not in variants and variants["type"]["required"] == ["action", "id", "text"]
    assert narrowed.model_validate({"action": "type", "id": 1, "text": "x"}).id == 1
    with pytest.raises(ValidationError, match="left out"):
        narrowed.model_validate({"action": "click", "id": 1})
    everything = {(k, i) for k in ("click", "type", "select") for i in (1, 2)}
    everything |= {(k, None) for k in ("press", "scroll", "goto", "back", "answer")}
    assert elsewhere_schema(obs, everything) is None


def test_the_narrowed_schema_compiles_to_a_llama_cpp_grammar():
    gbnf = pytest.importorskip("llama_cpp.llama_grammar")
    obs = Observation(text="", data={"elements": [{"id": 1}, {"id": 10}]})
    narrowed = elsewhere_schema(obs, {("click", 1)})
    grammar = gbnf.json_schema_to_gbnf(json.dumps(narrowed.model_json_schema()))
    click_ids = next(line for line in grammar.splitlines() if line.startswith("alternative-0-id "))
    assert click_ids.endswith('::= "10"')  # element 1 left out of clicks


def test_a_choice_is_scored_as_the_model_writes_it_with_whole_numbers():
    assert json_style('{"action":"click","id":1}') == (":", ",")
    assert json_style('{"action": "click", "id": 1}') == (": ", ", ")
    assert kind_opening("type", '{"action":"click"}') == '{"action":"type'
    openings = id_openings("click", [1, 2, 10, 17], '{"action":"click","id":1}')
    # 1 begins 10 and 17: the token after it is part of the choice; the others end with their digits
    assert openings[1] == ['{"action":"click","id":1}', '{"action":"click","id":1,']
    assert openings[17] == ['{"action":"click","id":17'] and openings[2] == ['{"action":"click","id":2']


def test_a_draw_takes_the_likeliest_at_zero_temperature_else_samples_repeatably():
    weights = {"a": -0.1, "b": -2.5, "c": -9.0}
    assert draw_from(weights, 0.0, seed=3) == "a"
    drawn = [draw_from(weights, 1.0, seed=s) for s in range(200)]
    assert drawn == [draw_from(weights, 1.0, seed=s) for s in range(200)]  # seeded
    assert drawn.count("a") > drawn.count("b") > 0 and drawn.count("c") < 5


def test_a_fixed_choice_schema_leaves_the_model_only_the_text():
    schema = choice_schema(("type", 4))
    assert schema["properties"]["action"] == {"const": "type"} and schema["properties"]["id"] == {"const": 4}
    assert schema["required"] == ["action", "id", "text"]
    assert "id" not in choice_schema(("scroll", None))["properties"]
    model = schema_model(schema, {("type", 1)})
    assert model.model_json_schema() is schema
    with pytest.raises(ValidationError):
        model.model_validate({"action": "type", "id": 1, "text": "x"})  # left out, should a model write it
