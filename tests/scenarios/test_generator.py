"""Same seed, same people, same events; and it streams."""
from __future__ import annotations

import hashlib
import itertools
import types
from collections import Counter

from scenarios.people.generator import Population, iter_contacts
from scenarios.people.timeline import APPLE_MPP_USER_AGENT


def digest(population: Population) -> str:
    h = hashlib.sha256()
    for event in population.events():
        h.update(repr(event.to_json()).encode())
    return h.hexdigest()


def test_same_seed_gives_the_same_events_and_another_seed_does_not():
    assert digest(Population(40, 7, 60)) == digest(Population(40, 7, 60))
    assert digest(Population(40, 7, 60)) != digest(Population(40, 8, 60))


def test_people_and_events_stream_one_at_a_time():
    population = Population(100_000, 3, 180)
    people = population.people()
    assert isinstance(people, types.GeneratorType)
    first = list(itertools.islice(population.events(), 500))  # no 100k-person list is ever built
    assert len(first) == 500


def test_events_of_a_person_are_in_time_order_and_stop_after_unsubscribe():
    population = Population(300, 5, 120)
    seen_unsubscriber = False
    for contact, events in population.people():
        events = list(events)
        assert [e.at for e in events] == sorted(e.at for e in events)
        unsubscribed = [e.at for e in events if e.type in ("unsubscribed", "complained", "bounced")]
        if unsubscribed:
            assert not [e for e in events if e.type == "sent" and e.at > unsubscribed[0]]
            seen_unsubscriber |= contact.archetype == "unsubscriber"
    assert seen_unsubscriber


def test_the_archetype_mix_and_machine_traffic_are_there():
    archetypes = Counter(c.archetype for c in iter_contacts(2000, 1))
    assert set(archetypes) == {"dormant", "steady", "surging_seller", "active_buyer", "unsubscriber", "bouncer",
                               "complainer", "privacy_proxy_opener", "bot_clicker"}
    proxy_opens = [e for c, ev in itertools.islice(Population(200, 2, 60).people(), 200)
                   if c.archetype == "privacy_proxy_opener" for e in ev if e.type == "opened" and e.machine]
    assert proxy_opens and all(e.user_agent == APPLE_MPP_USER_AGENT for e in proxy_opens)


def test_planted_buyers_click_listings_in_their_last_week():
    population = Population(400, 9, 90)
    end = population.as_of
    for contact, events in population.people():
        if contact.archetype == "active_buyer":
            clicks = [e for e in events if e.type == "clicked" and e.link_category == "listing" and not e.machine]
            assert len(clicks) >= 4
            assert all((end - e.at).days <= 8 for e in clicks)
