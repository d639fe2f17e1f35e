"""A seeded generator of news-like articles and questions whose gold article is known.

No downloads: articles are assembled from templates over invented places, people and
organisations. Retrieval is made non-trivial on purpose:
- every topic shares its background vocabulary across many articles, and generic newsroom
  filler is shared by all of them;
- each story has sibling articles (same topic, same place, often the same officials) that
  differ in the fact a question asks about, so the place name alone does not find it;
- articles mention other stories' places and people in passing;
- questions paraphrase the fact sentence (other verbs and nouns), and facts sit anywhere in
  the article, not only in the lead.

    python -m bench.gen OUT_DIR --articles 2000 --seed 7       # .txt files + questions.jsonl
    python -m bench.gen OUT_DIR --articles 60000 --jsonl 5000  # JSONL shards (scale runs)
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_CITIES = _words("Tarvosa Linmouth Keldara Ostrevo Marrick Duvane Pellara Corvin Halstead "
                 "Briven Sarnow Elgrave Quillon Veshta Amberly Rookford Tesmere Galvia Norrith "
                 "Caldmoor Ferrand Oskova Lumen Harwick Zelany Brisca Tolvern Maddox Ystrel "
                 "Penhollow")
_COUNTRIES = _words("Valdoria Kestrel Ombrea Sunvale Marovia Tessaly Drevnia Aurelle")
_RIVERS = _words("Arlen Dusk Vorra Meline Skarn Tiber Wend Caddis")
_FIRST = _words("Anna Marco Leila Tomas Priya Jonas Elena Samuel Irina Daniel Amara Viktor "
                "Sofia Hassan Clara Mateo Nadia Oliver Ruth Felix Yara Pavel Grace Idris")
_LAST = _words("Okafor Lindqvist Moreau Haddad Kowalski Tanaka Brennan Vasquez Novak Adeyemi "
               "Castell Ferreira Iversen Rahimi Duarte Halloran Petrov Sandoval Whitcombe "
               "Ziegler")
_COMPANIES = _words("Norvex Halcyon Brightwater Quorra Stellan Maribel Tessaract Ovalis "
                    "Kinsale Redmarch Aperion Coldharbor")
_PRODUCTS = _words("battery chips turbines tablets vaccines satellites trucks software")
_TEAMS = _words("Rovers United Athletic Wanderers Mariners Falcons Comets Stallions")
_DISEASES = _words("measles cholera dengue influenza mumps")
_MONTHS = _words("January February March April May June July August September October "
                 "November December")
_DAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
_PARTIES = ("Civic Alliance", "Progress Party", "National Front", "Green Union", "Labour Bloc")

_FILLER = (
    "Officials said more details would be released in the coming days.",
    "The announcement drew mixed reactions from residents and local business owners.",
    "Analysts cautioned that the full picture may take weeks to emerge.",
    "A spokesperson declined to comment further, citing ongoing discussions.",
    "Critics argued that the response had been slow and poorly coordinated.",
    "The figures could not be independently verified.",
    "Opposition lawmakers called for a full inquiry into the matter.",
    "Local media reported long queues outside government offices on the same day.",
    "The issue is expected to feature prominently in next year's budget debate.",
    "Community leaders urged calm and asked people to follow official guidance.",
    "The government has faced growing pressure over its handling of the economy.",
    "A statement posted online late on the same evening gave few further details.",
    "Regional officials are due to meet again before the end of the month.",
    "Some residents said they had received no warning before the announcement.",
    "The story was first reported by a local radio station.",
    "Independent experts said the decision reflected a broader shift in policy.",
    "Neighbouring countries said they were monitoring developments.",
    "It was not immediately clear how the measures would be funded.",
    "Business groups said the uncertainty was making it harder to plan ahead.",
    "Human rights organisations called for greater transparency.",
)
# Numbers that are not the answer, in the same article: a question's figure must be read in
# context, not matched by "the sentence with a number in it".
_NUMERIC = (
    "In {y0}, a similar episode in {city} involved some {n1:,} people.",
    "Earlier estimates had put the figure closer to {n1:,}.",
    "The previous record, set in {y0}, stood at {n2}.",
    "Around {p1}% of those surveyed said they were worried about the months ahead.",
    "The regional budget for the year is about {n3} million.",
    "Officials said {n2} teams had been sent to assist.",
    "A poll last {month} found {p1}% support for the government's approach.",
    "The last comparable decision, in {y0}, was reversed within {n2} months.",
)


@dataclass
class Fact:
    key: str
    sentence: str  # template over the story's slots
    questions: tuple[str, ...]  # paraphrases; none copies the sentence
    answer: str


@dataclass
class Topic:
    name: str
    headlines: tuple[str, ...]
    background: tuple[str, ...]
    facts: tuple[Fact, ...]


def _F(key: str, sentence: str, answer: str, *questions: str) -> Fact:
    return Fact(key, sentence, questions, answer)


TOPICS = (
    Topic("flood", ("Floods force thousands from homes in {city}",
                    "{river} bursts its banks as storms batter {city}"),
          ("Heavy rain has fallen across {country} for much of the season.",
           "Emergency crews worked through the night to reinforce embankments.",
           "Forecasters warned that more storms could follow later in the week.",
           "Flooding has become more frequent in the region over the past decade."),
          (_F("displaced", "At least {n1:,} people were forced to leave their homes in {city} "
              "after the {river} river overflowed in {month}.", "{n1:,}",
              "How many residents of {city} were displaced when the {river} flooded in {month}?",
              "What number of people had to evacuate {city} after the {month} flooding?"),
           _F("deaths", "The regional health office confirmed {n2} deaths linked to the "
              "{river} flooding, most of them in outlying villages.", "{n2}",
              "What death toll did health officials report from the {river} floods?",
              "How many people died because of the flooding of the {river}?"),
           _F("aid", "{person}, the {country} interior minister, pledged {n3} million in "
              "emergency relief for families affected in {city}.", "{n3} million",
              "How much emergency money did {person} promise for flood victims in {city}?",
              "What relief sum did the interior minister commit after the {city} floods?"))),
    Topic("rates", ("Central bank of {country} moves on interest rates",
                    "{country} policymakers act as inflation lingers"),
          ("Inflation has remained above target for most of the year.",
           "Mortgage holders and small businesses have felt the squeeze of higher borrowing "
           "costs.", "Economists were divided ahead of the decision.",
           "The currency moved sharply in early trading after the statement."),
          (_F("rate", "The central bank of {country} set its benchmark rate at {p1}% at its "
              "{month} meeting, the governor {person} told reporters in {city}.", "{p1}%",
              "What level did {country}'s monetary authority fix its key rate at in {month}?",
              "At what percentage did {person}'s bank leave borrowing costs in {month}?"),
           _F("inflation", "Consumer prices in {country} rose {p2}% from a year earlier, driven "
              "by food and energy costs.", "{p2}%",
              "By how much did the cost of living climb in {country} over the year?",
              "What annual inflation figure was reported for {country}?"),
           _F("vote", "{n2} of the {n4} committee members voted for the change, the minutes "
              "showed.", "{n2} of {n4}",
              "How did the rate-setting committee of {country} split on the {month} decision?",))),
    Topic("earnings", ("{company} reports quarterly results",
                       "{company} shares move after earnings update"),
          ("The company has been expanding its factories in {country}.",
           "Investors have been watching margins closely since last year.",
           "Competition in the sector has intensified as new entrants cut prices.",
           "Supply chain disruptions weighed on the wider industry."),
          (_F("revenue", "{company} said revenue reached {n3} million in the {q} quarter, "
              "helped by strong demand for its {product}.", "{n3} million",
              "What sales did {company} book in the {q} quarter?",
              "How much money did {company} take in during its {q} quarter?"),
           _F("jobs", "The group plans to cut {n1:,} jobs at its plant in {city} by the end of "
              "{month}, chief executive {person} said.", "{n1:,}",
              "How many positions will {company} eliminate in {city}?",
              "What workforce reduction did {person} announce for the {city} site?"),
           _F("shares", "Shares of {company} fell {p1}% in {city} trading after the outlook was "
              "lowered.", "{p1}%",
              "How far did {company}'s stock drop after it cut its forecast?",))),
    Topic("strike", ("Transport workers walk out in {city}",
                     "Strike halts services across {city}"),
          ("Unions have been in dispute with employers over pay for months.",
           "Commuters faced long delays and crowded platforms.",
           "Talks between the two sides broke down last week.",
           "The government urged both parties to return to negotiations."),
          (_F("workers", "About {n1:,} rail and bus workers joined the walkout in {city} on "
              "{day}, according to union leader {person}.", "{n1:,}",
              "How many transit staff took part in the {city} stoppage?",
              "What was the turnout for the transport strike led by {person}?"),
           _F("pay", "The union is demanding a pay rise of {p1}%, while employers have offered "
              "{p2}%.", "{p1}% (offer {p2}%)",
              "What wage increase are the striking transport employees in {city} asking for?",),
           _F("duration", "The stoppage is due to last {n2} days unless a deal is reached.",
              "{n2} days",
              "For how long is the {city} transport walkout scheduled to run?",))),
    Topic("election", ("{country} votes in closely watched election",
                       "Results come in from {country}'s parliamentary vote"),
          ("Turnout was closely watched after a bitter campaign.",
           "Polls had suggested a tight race between the main parties.",
           "Observers reported isolated irregularities at polling stations.",
           "Coalition talks are expected to take several weeks."),
          (_F("winner", "The {party} won {n2} of the {n4} seats in parliament, led by "
              "{person}.", "{n2} seats",
              "How many parliamentary seats did {person}'s party secure in {country}?",
              "What seat tally did the {party} end up with?"),
           _F("turnout", "Turnout reached {p1}%, the electoral commission said in {city}.",
              "{p1}%",
              "What share of eligible voters cast a ballot in {country}'s election?",),
           _F("date", "A run-off vote has been scheduled for {day} {d2} {month}.", "{d2} {month}",
              "When will {country} hold its second-round ballot?",))),
    Topic("outbreak", ("Health officials track {disease} outbreak in {city}",
                       "{disease} cases rise in {city}"),
          ("Clinics reported a surge in patients over the past fortnight.",
           "Health workers have been going door to door to trace contacts.",
           "Schools were asked to report any suspected cases immediately.",
           "The outbreak has put new pressure on an already stretched hospital system."),
          (_F("cases", "Authorities have recorded {n1:,} cases of {disease} in {city} since "
              "{month}.", "{n1:,}",
              "How many {disease} infections have been logged in {city}?",
              "What is the case count of the {disease} outbreak in {city}?"),
           _F("vaccines", "{person}, who heads the national health agency, said {n3},000 "
              "vaccine doses would arrive within {n2} days.", "{n3},000 doses",
              "How many doses did the health agency chief promise to deliver to {city}?",),
           _F("hospital", "A new field hospital with {n4} beds opened on {day} on the outskirts "
              "of {city}.", "{n4} beds",
              "What capacity does the emergency clinic set up near {city} have?",))),
    Topic("court", ("Court rules in high-profile case in {city}",
                    "Judges deliver verdict in {city} corruption trial"),
          ("The case has drawn intense public interest since charges were filed.",
           "Defence lawyers said they were considering an appeal.",
           "Prosecutors described the scheme as one of the largest in recent memory.",
           "Several witnesses gave evidence over the course of the trial."),
          (_F("sentence", "Former mayor {person} was sentenced to {n2} years in prison by the "
              "court in {city}.", "{n2} years",
              "How long a jail term did the ex-mayor {person} receive?",
              "What prison sentence was handed to {city}'s former mayor?"),
           _F("fine", "The court also ordered {company} to pay a fine of {n3} million for its "
              "role in the contracts.", "{n3} million",
              "What penalty was imposed on {company} over the {city} contracts?",),
           _F("appeal", "Lawyers for the defence have {n4} days to lodge an appeal, the judge "
              "said.", "{n4} days",
              "How much time does {person}'s legal team have to challenge the ruling?",))),
    Topic("infrastructure", ("{country} approves new bridge for {city}",
                             "Construction to begin on {city} transport link"),
          ("The project has been debated for more than a decade.",
           "Environmental groups raised concerns about the impact on wetlands.",
           "Residents have long complained about congestion on existing roads.",
           "Contractors will be chosen through an open tender."),
          (_F("cost", "The bridge across the {river} near {city} will cost an estimated {n3} "
              "million, transport minister {person} said.", "{n3} million",
              "What is the projected price of the new {river} crossing?",
              "How much will {person}'s bridge project near {city} cost?"),
           _F("length", "The crossing will be {n4}0 metres long and carry {n2} lanes of "
              "traffic.", "{n4}0 metres",
              "How long will the planned bridge at {city} be?",),
           _F("open", "Officials expect the link to open to traffic in {month} {y}.",
              "{month} {y}",
              "When is the new {city} bridge expected to be ready for vehicles?",))),
    Topic("sport", ("{team} win dramatic final in {city}",
                    "{city} celebrates as {team} lift the cup"),
          ("Fans packed the stadium hours before kick-off.",
           "The coach praised the squad's resilience after a difficult season.",
           "The victory secures a place in next season's continental competition.",
           "Ticket prices had drawn criticism in the build-up to the match."),
          (_F("score", "{team} beat their rivals {n2}-{n5} in the final played in {city} on "
              "{day}.", "{n2}-{n5}",
              "What was the result of the cup final that {team} won?",
              "By what scoreline did {team} take the trophy?"),
           _F("scorer", "Striker {person} scored the decisive goal in the {n4}th minute.",
              "{person}",
              "Who netted the winning goal for {team} in the final?",),
           _F("crowd", "A crowd of {n1:,} watched the match, a record for the ground.",
              "{n1:,}",
              "How many spectators attended the {team} final in {city}?",))),
    Topic("trade", ("{country} signs trade agreement with {country2}",
                    "New trade pact between {country} and {country2}"),
          ("Negotiations began nearly three years ago.",
           "Farmers' groups have warned about competition from cheaper imports.",
           "Business associations welcomed the reduction in paperwork at the border.",
           "The deal still needs approval from both parliaments."),
          (_F("tariff", "The agreement cuts tariffs on {product} from {p1}% to {p2}%, trade "
              "minister {person} said in {city}.", "to {p2}%",
              "What will the import duty on {product} fall to under the {country} deal?",
              "How far does the pact between {country} and {country2} lower levies on "
              "{product}?"),
           _F("volume", "Trade between {country} and {country2} was worth {n3} million last "
              "year.", "{n3} million",
              "What was the value of commerce between {country} and {country2} last year?",),
           _F("start", "The pact is due to take effect on {d2} {month}.", "{d2} {month}",
              "From what date will the {country}-{country2} trade deal apply?",))),
)


@dataclass
class Article:
    name: str  # file name: the gold source of its questions
    title: str
    text: str
    topic: str


@dataclass
class Question:
    id: str
    question: str
    answer: str
    sources: list[str]
    kind: str
    answerable: bool = True
    must_include: list[str] = field(default_factory=list)  # the answer, as a pattern
    evidence: list[str] = field(default_factory=list)  # the fact's sentence, verbatim


def _slots(rng: random.Random) -> dict[str, object]:
    person = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    country, country2 = rng.sample(_COUNTRIES, 2)
    return {"city": rng.choice(_CITIES), "country": country, "country2": country2,
            "river": rng.choice(_RIVERS), "person": person, "company": rng.choice(_COMPANIES),
            "product": rng.choice(_PRODUCTS), "team": f"{rng.choice(_CITIES)} "
            f"{rng.choice(_TEAMS)}", "disease": rng.choice(_DISEASES),
            "party": rng.choice(_PARTIES), "month": rng.choice(_MONTHS),
            "day": rng.choice(_DAYS), "q": rng.choice(["first", "second", "third", "fourth"]),
            **_numbers(rng)}


def _numbers(rng: random.Random) -> dict[str, object]:
    return {"n1": rng.randrange(1200, 90000), "n2": rng.randrange(3, 60),
            "n3": rng.randrange(12, 950), "n4": rng.randrange(61, 99),
            "n5": rng.randrange(0, 3), "p1": round(rng.uniform(2.0, 14.0), 1),
            "p2": round(rng.uniform(0.5, 9.0), 1), "d": rng.randrange(1, 29),
            "y": rng.randrange(2026, 2032), "y0": rng.randrange(1995, 2024),
            "d2": rng.randrange(1, 29)}


def _sibling(rng: random.Random, base: dict[str, object]) -> dict[str, object]:
    """Same topic and place (often the same people), other figures and dates: a distractor."""
    slots = dict(base)
    slots.update(_numbers(rng))
    slots["month"] = rng.choice([m for m in _MONTHS if m != base["month"]])
    slots["day"] = rng.choice(_DAYS)
    if rng.random() < 0.5:
        slots["person"] = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if rng.random() < 0.3:
        slots["river"] = rng.choice(_RIVERS)
    return slots


def _passing_mention(rng: random.Random) -> str:
    other = _slots(rng)
    return rng.choice((
        "The news comes a week after similar concerns were raised in {city}.",
        "{person} had made comparable remarks during a visit to {country} earlier this year.",
        "A separate report from {city} last month pointed to the same trend.",
        "Officials in {country} are watching the situation closely.",
    )).format(**other)


def _article(rng: random.Random, n: int, topic: Topic, slots: dict[str, object],
             ) -> tuple[Article, dict[str, Fact]]:
    facts = list(topic.facts)
    rng.shuffle(facts)
    others = [b for t in TOPICS if t is not topic for b in t.background]
    body = [*(b.format(**slots) for b in topic.background),
            *(b.format(**_slots(rng)) for b in rng.sample(others, 4)),
            *rng.sample(_FILLER, 10),
            *(t.format(**_slots(rng)) for t in rng.sample(_NUMERIC, 4)),
            *(_passing_mention(rng) for _ in range(4)),
            f"“We are doing everything we can,” {slots['person']} said.",
            f"{slots['person']} added that the next steps would be set out shortly."]
    rng.shuffle(body)
    # The lead carries one fact; the others land anywhere in the body, often past the first
    # 256 word pieces (where the starter pipeline stops reading a 1,024-token chunk).
    dateline = f"{str(slots['city']).upper()}, {slots['d']} {slots['month']} – "
    sentences = [dateline + facts[0].sentence.format(**slots), *body]
    for fact in facts[1:]:
        sentences.insert(rng.randrange(2, len(sentences) + 1), fact.sentence.format(**slots))
    paragraphs: list[str] = []
    while sentences:
        take = rng.randrange(2, 4)
        paragraphs.append(" ".join(sentences[:take]))
        sentences = sentences[take:]
    title = rng.choice(topic.headlines).format(**slots)
    name = f"{n:05d}_{topic.name}.txt"
    text = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
    return Article(name, title, text, topic.name), {f.key: f for f in facts}


def _plan(rng: random.Random, n_articles: int) -> list[tuple[Topic, dict[str, object]]]:
    """Stories of 1-4 sibling articles: (topic, slots) per article."""
    plan: list[tuple[Topic, dict[str, object]]] = []
    while len(plan) < n_articles:
        topic = rng.choice(TOPICS)
        base = _slots(rng)
        for k in range(min(rng.randrange(1, 5), n_articles - len(plan))):
            plan.append((topic, base if k == 0 else _sibling(rng, base)))
    return plan


def _phrasings(fact: Fact) -> list[list[str]]:
    """The fact's questions, plainest first: as written; then with the month; then anchored
    to the article's dateline (a reader who remembers where and when they read it)."""
    dated = [q if "{month}" in q else q[:-1] + " in {month}?" for q in fact.questions]
    anchored = [f"According to the {{d}} {{month}} report from {{city}}, {q[0].lower()}{q[1:]}"
                for q in fact.questions]
    return [list(fact.questions), dated, anchored]


def generate(n_articles: int, seed: int = 7, question_rate: float = 0.15
             ) -> Iterator[tuple[Article, list[Question]]]:
    """Articles with, for some, one paraphrased question about a fact. A question is kept
    only if no other article of its topic would render the same question text (siblings and
    chance look-alikes carry the same kind of fact with other values), so its gold article
    is the only right answer."""
    rng = random.Random(seed)
    plan = _plan(rng, n_articles)
    seen = Counter(q.format(**slots) for topic, slots in plan for fact in topic.facts
                   for tier in _phrasings(fact) for q in set(tier))
    for n, (topic, slots) in enumerate(plan):
        article, facts = _article(rng, n, topic, slots)
        questions = []
        if rng.random() < question_rate:
            fact = facts[rng.choice(sorted(facts))]
            tiers = [[q for q in {p.format(**slots) for p in tier} if seen[q] == 1]
                     for tier in _phrasings(fact)]
            unique = next((sorted(t) for t in tiers if t), None)
            if unique:
                questions.append(Question(
                    id=f"g{n:05d}", question=rng.choice(unique),
                    answer=fact.answer.format(**slots), sources=[article.name],
                    kind="single",
                    must_include=[re.escape(fact.answer.format(**slots))],
                    evidence=[fact.sentence.format(**slots)]))
        yield article, questions


def write_txt(out: Path, n_articles: int, seed: int = 7) -> tuple[Path, Path]:
    """One .txt per article in out/articles, questions in out/questions.jsonl."""
    docs = out / "articles"
    docs.mkdir(parents=True, exist_ok=True)
    with (out / "questions.jsonl").open("w", encoding="utf-8") as qf:
        for article, questions in generate(n_articles, seed):
            (docs / article.name).write_text(article.text, encoding="utf-8")
            for q in questions:
                qf.write(json.dumps(q.__dict__, ensure_ascii=False) + "\n")
    return docs, out / "questions.jsonl"


def write_jsonl(out: Path, n_articles: int, per_file: int, seed: int = 7) -> list[Path]:
    """JSONL shards of `{title, text, url}` records (the loader reads a file whole, so
    shards keep each read small); questions in out/questions.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    fh = None
    with (out / "questions.jsonl").open("w", encoding="utf-8") as qf:
        for i, (article, questions) in enumerate(generate(n_articles, seed)):
            if i % per_file == 0:
                if fh:
                    fh.close()
                shards.append(out / f"shard-{len(shards):04d}.jsonl")
                fh = shards[-1].open("w", encoding="utf-8")
            assert fh is not None
            record = {"title": article.title, "text": article.text.split("\n\n", 1)[1],
                      "url": f"https://news.example/{article.name[:-4]}"}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            for q in questions:
                q.sources = [record["url"]]
                qf.write(json.dumps(q.__dict__, ensure_ascii=False) + "\n")
    if fh:
        fh.close()
    return shards


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jsonl", type=int, metavar="PER_FILE", help="write JSONL shards")
    args = ap.parse_args()
    if args.jsonl:
        print(f"{len(write_jsonl(args.out, args.articles, args.jsonl, args.seed))} shards")
    else:
        print(*write_txt(args.out, args.articles, args.seed))


if __name__ == "__main__":
    main()
