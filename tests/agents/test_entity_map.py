"""Template instances mapped onto each other: the entity map behind exemplar replay and worked cases."""

from agentmem.agents.entity_map import adapt, goal_mapping, list_swaps, template_similarity


def test_values_of_one_question_template_map_onto_another() -> None:
    old = "What was the total investment (invest) of American Steel over the years 1942 to 1946 inclusive?"
    new = "What was the total investment (invest) of IBM over the years 1940 to 1945 inclusive?"
    mapping = goal_mapping(old, new)
    assert mapping == {"American Steel": "IBM", "1942": "1940", "1946": "1945"}
    code = "t = df[(df.firm == 'American Steel') & df.year.between(1942, 1946)]; y_1942 = 0"
    assert adapt(code, mapping) == "t = df[(df.firm == 'IBM') & df.year.between(1940, 1945)]; y_1942 = 0"


def test_swaps_happen_at_once_and_only_where_the_templates_differ() -> None:
    mapping = goal_mapping("GNP grow from 1947 to 1952?", "GNP grow from 1952 to 1960?")
    assert mapping == {"1947": "1952", "1952": "1960"}
    assert adapt("between 1947 and 1952", mapping) == "between 1952 and 1960"  # no chaining
    assert goal_mapping("same words here", "same words here") == {}
    assert adapt("unchanged", {}) == "unchanged"


def test_template_similarity_reads_wording_not_values() -> None:
    a = "Click on the 'no' button."
    assert template_similarity(a, "Click on the 'yes' button.") > template_similarity(
        a, "Enter the date 5/3."
    )
    assert template_similarity(a, a) == 1.0


def test_lists_that_grow_or_shrink_are_swapped_whole() -> None:
    old = "Select C0ZWRz, vrD and click Submit."
    assert list_swaps(old, "Select 7v, DW, 3HK and click Submit.") == [
        (["C0ZWRz", "vrD"], ["7v", "DW", "3HK"])
    ]
    assert list_swaps(old, "Select nothing and click Submit.") == [(["C0ZWRz", "vrD"], [])]
    assert list_swaps(old, "Select Ab, Cd and click Submit.") == []  # same length: goal_mapping swaps them
    # one value spelled in two words is not a list
    assert list_swaps("Select Miguelita from the list.", "Select New Zealand from the list.") == []
    assert goal_mapping("Select Miguelita from the list.", "Select New Zealand from the list.") == {
        "Miguelita": "New Zealand"
    }
    assert goal_mapping("Select 7v and go.", "Select 3HK and go.") == {"7v": "3HK"}  # digits lead a word
