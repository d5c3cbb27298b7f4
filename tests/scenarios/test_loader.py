"""A scenario author fixes a broken file from our messages alone: path, value, line."""
from __future__ import annotations

import pytest

from scenarios.story.loader import ScenarioError, library_paths, load, loads

VALID = """
name: tiny
days: 30
world:
  contacts:
    - {id: maria, name: Maria Lopez, type: owner, ownership_years: 8}
campaigns:
  - id: mu
    name: Market Update
    kind: market_update
    links:
      - {url: "https://broadcast.example/market-report", category: market_update}
      - {url: "https://broadcast.example/home-worth", category: valuation}
    schedule: {start_day: 0, every_days: 7, count: 4}
behaviours:
  - who: maria
    opens: {probability: 1.0}
    clicks: {link_category: valuation, days: [10, 20]}
expect:
  - {contact: maria, propensity_score: "87±3", category: hot}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        loads(text, "story.yaml")
    assert caught.value.messages, "an invalid file must say why"
    return caught.value.messages


def test_a_valid_file_loads_into_typed_values():
    scenario = loads(VALID)
    maria = scenario.contact("maria")
    assert (maria.first_name, maria.last_name, maria.ownership_years) == ("Maria", "Lopez", 8)
    assert scenario.campaigns[0].schedule.days() == [0, 7, 14, 21]
    expectation = scenario.expectations[0]
    assert (expectation.propensity_score.low, expectation.propensity_score.high) == (84, 90)
    assert expectation.day == 30  # defaults to the last day


def test_a_misspelt_enum_names_the_path_the_value_and_the_choices():
    [message] = errors_of(VALID.replace("category: valuation}", "category: valuaton}"))
    assert message.startswith("campaigns[0].links[1].category: 'valuaton' is not one of ['valuation', 'listing'")
    assert "(line 13, column 65)" in message


def test_several_problems_are_reported_together():
    text = VALID.replace("kind: market_update", "kind: market_updates").replace("count: 4", "count: 0")
    messages = errors_of(text)
    assert any(m.startswith("campaigns[0].kind: 'market_updates' is not one of") for m in messages)
    assert any(m.startswith("campaigns[0].schedule.count: 0 is less than the minimum of 1") for m in messages)


def test_unknown_keys_are_typos_not_silently_ignored():
    [message] = errors_of(VALID.replace("opens: {probability: 1.0}", "open: {probability: 1.0}"))
    assert message.startswith("behaviours[0]: Additional properties are not allowed ('open' was unexpected)")


def test_a_bad_range_points_inside_the_range():
    [message] = errors_of(VALID.replace('propensity_score: "87±3"', "propensity_score: [80, 101]"))
    assert message.startswith("expect[0].propensity_score[1]: 101 is greater than the maximum of 100")


def test_yaml_syntax_errors_give_line_and_column():
    [message] = errors_of(VALID.replace("clicks: {link_category: valuation, days: [10, 20]}",
                                        "clicks: {link_category: valuation, days: [10, 20}"))
    assert message.startswith("YAML syntax error at line 18, column 53")


def test_an_expectation_about_an_unknown_contact_is_rejected():
    [message] = errors_of(VALID.replace("{contact: maria,", "{contact: marai,"))
    assert message.startswith("expect[0].contact: unknown contact 'marai' (known: 'maria')")


def test_days_beyond_the_end_are_rejected():
    messages = errors_of(VALID.replace("days: [10, 20]", "days: [10, 45]").replace("count: 4", "count: 6"))
    assert "campaigns[0].schedule: send number 6 falls on day 35, after the last day (30) (line 14, column 15)" in messages
    assert any(m.startswith("behaviours[0].clicks.days[1]: day 45 is after the last day of the scenario (30)")
               for m in messages)


def test_an_empty_file_and_a_missing_file_are_errors_not_tracebacks(tmp_path):
    assert errors_of("") == ["file is empty: a scenario needs name, days, world, campaigns and expect"]
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path / "nope.yaml")
    assert caught.value.messages[0].startswith("cannot read file")


def test_every_library_scenario_is_valid():
    names = {path.stem for path in library_paths()}
    assert {"maria", "james", "steady_reader", "goes_cold", "unsubscribe", "hard_bounce", "spam_complaint",
            "privacy_proxy_opens", "link_scanner", "edited_in_agentbuddy", "deleted_in_agentbuddy",
            "agentbuddy_down_during_delivery", "multi_office_brokerage", "curiosity_click", "apple_mail_buyer",
            "cold_owner_wakes_up"} <= names
    for path in library_paths():
        load(path)


def test_a_link_broadcast_would_classify_differently_is_rejected():
    messages = errors_of(VALID.replace('"https://broadcast.example/home-worth", category: valuation',
                                       '"https://broadcast.example/open-house", category: valuation'))
    assert any(m.startswith("campaigns[0].links[1].url: Broadcast's content rules classify this link as 'listing', "
                            "not 'valuation'") for m in messages)


def test_a_click_in_an_email_not_yet_sent_is_rejected():
    messages = errors_of(VALID.replace("clicks: {link_category: valuation, days: [10, 20]}",
                                       "clicks: {link_category: valuation, days: [10], email_day: 14}"))
    assert any("a click on day 10 cannot be in the email of day 14 (not sent yet)" in m for m in messages)


def test_the_readme_example_is_a_valid_scenario():
    import re
    from pathlib import Path

    import scenarios

    readme = (Path(scenarios.__file__).parent / "README.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    assert loads(example, "README.md").name == "unsubscribe"
