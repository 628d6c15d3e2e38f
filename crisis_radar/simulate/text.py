"""Text templates for simulated posts: varied enough that sentiment and dedup have real work.

Every function takes the caller's ``random.Random`` so output is deterministic for a seed.
Slots: {b} brand mention, {c} competitor mention, {p} product, {e} emoji, {n} number,
{d} duration, {city}, {x} intensifier, {new} launched product, {u} url.

>>> import random
>>> from crisis_radar.simulate.watchlist import SimBrand
>>> b = SimBrand("acme", "Acme", ("acme",), ("acme",), ("acmehelp",), (), "tech", "desk")
>>> t = background_text(random.Random(1), b, "negative")
>>> isinstance(t, str) and len(t) > 10
True
"""

from __future__ import annotations

import functools
import random
import re
import string

from crisis_radar.simulate.watchlist import SimBrand

PRODUCTS: dict[str, list[str]] = {
    "telecom": [
        "5G plan",
        "router",
        "fiber line",
        "data plan",
        "SIM",
        "signal",
        "prepaid plan",
        "home internet",
        "roaming",
        "bill",
        "unlimited plan",
        "wifi",
        "app",
        "modem",
    ],
    "food": [
        "peanut butter",
        "granola",
        "cereal",
        "snack bars",
        "oat milk",
        "crackers",
        "frozen pizza",
        "protein bars",
        "trail mix",
        "cookies",
        "yogurt",
        "chips",
    ],
    "tech": [
        "phone",
        "laptop",
        "earbuds",
        "smartwatch",
        "tablet",
        "app",
        "cloud backup",
        "charger",
        "update",
        "camera",
        "headphones",
        "speaker",
    ],
}
DEFAULT_PRODUCTS = ["product", "order", "app", "service", "account", "delivery"]
NEW_PRODUCTS: dict[str, list[str]] = {
    "telecom": ["Unlimited Max plan", "5G Home", "Family Share plan", "eSIM travel pass"],
    "food": ["Honey Crunch", "Dark Cocoa bars", "Maple Pecan granola", "Zero Sugar line"],
    "tech": ["X5 Pro", "Air 3", "Pulse watch", "Studio buds", "Fold 2"],
}
CITIES = [
    "Chicago",
    "Austin",
    "Leeds",
    "Toronto",
    "Denver",
    "Manchester",
    "Dublin",
    "Seattle",
    "Phoenix",
    "Glasgow",
    "Boston",
    "Atlanta",
    "Perth",
    "Bristol",
    "Ottawa",
    "Miami",
]
EMOJI = {
    "negative": ["😡", "🤬", "😤", "👎", "😒", "🙄", "😩", "💀", "😞", "🤮", ""],
    "neutral": ["🤔", "📦", "📱", "👀", "", "", ""],
    "positive": ["😍", "🙌", "❤️", "🔥", "👏", "😊", "✨", "💯", "🥳", ""],
}
INTENS = ["so", "really", "super", "extremely", "absolutely", "totally", "seriously", "very"]
FILLERS_NEG = ["ugh", "smh", "wtf", "seriously", "unreal", "again?!", "ffs", "honestly", "lol no"]
FILLERS_POS = ["lol", "ngl", "tbh", "honestly", "10/10", "can confirm", "yay"]
# Sentiment-neutral context clauses and openers: cheap combinatorial variety.
CONTEXT = [
    "this morning",
    "today",
    "again today",
    "for the 2nd time this week",
    "before work",
    "on my lunch break",
    "at 2am",
    "since monday",
    "over the weekend",
    "this week",
    "right now",
    "tonight",
    "in {city}",
    "here in {city}",
    "at the store in {city}",
    "on the train",
    "after {n} minutes",
    "day {n} of this",
    "as of yesterday",
    "this month",
    "yesterday evening",
    "first thing today",
    "at work",
    "on vacation",
    "at my mom's",
]
OPENERS = {
    "negative": [
        "ok so",
        "PSA:",
        "welp.",
        "so",
        "real talk:",
        "can't believe this.",
        "just saying,",
        "update:",
        "me again.",
        "hey",
    ],
    "neutral": [
        "quick q:",
        "so",
        "fyi",
        "random thought:",
        "update:",
        "hey",
        "hmm,",
        "question:",
        "ok",
        "psa:",
    ],
    "positive": [
        "ok so",
        "update:",
        "not gonna lie,",
        "friendly reminder:",
        "just saying,",
        "hey",
        "so",
        "PSA:",
        "ok wow,",
        "real talk:",
    ],
}
URL_HOSTS = ["https://t.co/", "https://bit.ly/", "https://sim.example/l/", "https://lnkd.in/"]

# topic -> sentiment -> templates
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "shipping": {
        "negative": [
            "{b} my order still hasn't shipped after {d} {e}",
            "been waiting {d} for my {p} from {b}. {x} frustrating",
            "{b} lost my package AGAIN {e}",
            "tracking says delivered, nothing at my door. thanks for nothing {b}",
            "not happy with {b} delivery at all, {d} late {e}",
            "why does {b} take {d} to ship a {p}??",
            "{b} delivery in {city} is a joke {e}",
            "never ordering from {b} again, package arrived crushed",
        ],
        "neutral": [
            "anyone know how long {b} shipping takes to {city}?",
            "ordered a {p} from {b}, should arrive in {d}",
            "{b} shipping update: my {p} is out for delivery {e}",
            "does {b} ship internationally?",
            "got the {b} tracking email, eta {d}",
        ],
        "positive": [
            "wow {b} delivered my {p} in a day {e}",
            "{b} shipping was {x} fast, impressed {e}",
            "my {p} from {b} arrived early, love it {e}",
            "shoutout to the {b} courier in {city} {e}",
        ],
    },
    "support": {
        "negative": [
            "{b} support kept me on hold for {n} minutes {e}",
            "{d} and still no reply from {b} customer service",
            "{b} support is useless. {n} chats, zero answers {e}",
            "can't even reach a human at {b} {e}",
            "{b} closed my ticket without fixing anything. not ok",
            "worst customer service ever {b} {e}",
            "asked {b} for a refund {n} times. nothing {e}",
        ],
        "neutral": [
            "is {b} support open on weekends?",
            "chatting with {b} support about my {p}",
            "{b} what's the number for support?",
            "waiting for {b} to get back to me about the {p}",
        ],
        "positive": [
            "{b} support sorted my {p} issue in {n} minutes {e}",
            "huge thanks to the {b} support team {e}",
            "{b} customer service actually rocks {e}",
            "credit where due, {b} fixed it fast {e}",
        ],
    },
    "quality": {
        "negative": [
            "my {b} {p} broke after {d} {e}",
            "{b} {p} quality has gone {x} downhill",
            "the new {b} {p} is trash {e}",
            "not impressed by the {b} {p} at all",
            "{b} {p} stopped working, again {e}",
            "returned my {b} {p}, total waste of money",
        ],
        "neutral": [
            "thinking of getting the {b} {p}, any thoughts?",
            "{b} {p} vs {c}: which one?",
            "just switched my {p} to {b}",
            "reviewing the {b} {p} this week",
            "{b} {p} review is up {u}",
        ],
        "positive": [
            "my {b} {p} is {x} good {e}",
            "love my new {b} {p} {e}",
            "{b} {p} still going strong after {d} {e}",
            "{b} nailed it with the {p} {e}",
            "honestly the {b} {p} beats {c} {e}",
        ],
    },
    "price": {
        "negative": [
            "{b} raised prices AGAIN {e}",
            "${n} for a {p}? {b} is a ripoff",
            "hidden fees on my {b} bill {e}",
            "{b} prices are {x} out of control",
        ],
        "neutral": [
            "{b} has the {p} at ${n} this week",
            "is the {b} {p} worth ${n}?",
            "comparing {b} and {c} prices for a {p}",
        ],
        "positive": [
            "great deal on the {b} {p} today {e}",
            "{b} knocked ${n} off my bill, nice {e}",
            "{b} is the best value around {e}",
        ],
    },
    "general": {
        "negative": [
            "done with {b} {e}",
            "{b} just keeps disappointing me",
            "not a fan of {b} lately",
            "{b} please fix your {p} {e}",
        ],
        "neutral": [
            "{b} announced quarterly results today {u}",
            "saw a {b} ad on the train in {city}",
            "{b} is hiring in {city} {u}",
            "what time does the {b} store in {city} open?",
            "reading about {b} and {c} this morning",
            "anyone else use {b}?",
            "{b} {p} thread 🧵",
            "new {b} store opened near me in {city}",
        ],
        "positive": [
            "{b} never lets me down {e}",
            "big fan of {b} {e}",
            "{b} made my day {e}",
            "switched to {b} from {c}, no regrets {e}",
        ],
    },
}
SARCASM = [
    "great, another {b} outage. thanks {b} {e}",
    "love paying {b} for a {p} that doesn't work 🙃",
    "oh wonderful, {b} lost my order again. amazing service 🙃",
    "wow {b}, {d} on hold, truly world class support",
    "thanks {b} for the surprise fees, just what I needed 🙂",
]
NARRATIVES: dict[str, list[str]] = {
    "outage": [
        "{b} is down in {city} {e}",
        "no signal for {d} now {b} {e}",
        "is {b} down for anyone else??",
        "{b} outage again, can't work {e}",
        "{b} network completely dead in {city}",
        "{d} without internet thanks to {b} {e}",
        "{b} status page says all good. it is NOT",
        "{b} down down down {e} #outage",
        "{b} outage is costing me money, who pays for this?",
        "no service, no updates, nothing from {b} {e}",
    ],
    "recall": [
        "{b} recall: salmonella found in their {p} {e}",
        "just saw the {b} {p} recall, threw mine out",
        "my kid ate the recalled {b} {p}, now sick {e}",
        "{b} {p} contaminated?! {e}",
        "{b} knew about the contamination and waited {d}",
        "check your pantry, {b} {p} recalled {u}",
        "listeria in {b} {p}? disgusting {e}",
        "{b} needs to answer for this recall",
        "never buying {b} again after this recall {e}",
        "found something in my {b} {p}. unsafe {e}",
    ],
    "defect": [
        "my {b} {p} overheated and burned my hand {e}",
        "{b} {p} battery swelling, is this the defect?",
        "{b} {p} caught fire on my desk {e}",
        "so the {b} {p} is defective and they knew",
        "{b} {p} bricked after the update {e}",
        "{b} the {p} is unsafe, recall it already",
        "thousands of {b} {p} failing, class action anyone? {u}",
        "{b} {p} screen cracked by itself {e}",
        "my {b} {p} died after the update, support says wait {d}",
    ],
    "breach": [
        "{b} data breach: my card was used in {city} {e}",
        "{b} leaked our data and said nothing for {d}",
        "just got the {b} breach email. passwords exposed?! {e}",
        "{b} hacked, change your passwords {u}",
        "{b} breach affects millions, how is this ok",
        "can't trust {b} with my data anymore {e}",
        "phishing texts since the {b} data breach {e}",
    ],
}
NARRATIVE_BY_GROUP = {
    "telecom": ["outage", "breach"],
    "food": ["recall"],
    "tech": ["defect", "breach"],
}
LAUNCH = [
    "the new {b} {new} is here {e}",
    "just got the {b} {new}!! {e}",
    "{b} {new} looks {x} good {e}",
    "preordered the {b} {new} {e}",
    "{b} {new} launch event was amazing {e}",
    "finally! {b} {new} {e}",
    "{b} {new} unboxing {u} {e}",
    "can't wait for my {b} {new} {e}",
    "{b} {new} > anything {c} makes {e}",
    "queued at the {b} store in {city} for the {new} {e}",
]
# A launch rush: the launch draws a crowd and with it queue and sold-out grumbles (issue 18's
# recurring launch-like pattern: loud, a negative share up, and not a crisis).
LAUNCH_RUSH = [
    "{b} {new} sold out in minutes again {e}",
    "{b} site crashed right when the {new} went live {e}",
    "two hours in the {b} queue for the {new} and nothing {e}",
    "why does every {b} {new} drop break the app {e}",
    "{b} {new} preorder page keeps timing out {e}",
]
VIRAL = [
    "{b} cancelled my {p} while I was in hospital and charged me ${n} to restore it. unreal {e}",
    "{b} support told me to 'just buy another {p}' after theirs broke on day one. never again {e}",
    "so {b} kept my refund for {d} and then blocked me when I asked. retweet so they see this",
    "my dad waited {d} for {b} to fix his {p}. he's 84. they hung up on him {e}",
    "{b} billed me ${n} for a {p} I never ordered and now threatens collections {e}",
]
CAMPAIGN = [
    "{b} is poisoning customers and hiding it. share before they delete this {u}",
    "boycott {b} now. they exploit workers and lie about it {u}",
    "{b} stole my data and sold it. everyone must cancel {b} today {u}",
    "{b} fired staff for complaining. do not buy {b} {u}",
    "I was scammed by {b}. they will scam you too. spread the word {u}",
]
SPAM = [
    "{b} refund scam!!! claim yours here {u}",
    "WARNING {b} customers: account suspended? verify {u}",
    "{b} giveaway!!! free {p} click {u}",
    "{b} {b} {b} worst company ever {u}",
    "{b} exposed!!! watch before deleted {u}",
    "cancel {b} now!!! {u} #{t}",
]
COMPARISON = [
    "glad I'm with {b} and not {c} right now {e}",
    "{c} is a mess today, {b} still fine",
    "switching from {c} to {b} after this {e}",
    "{b} please don't pull a {c} on us",
    "is {b} affected like {c}?",
    "{c} customers, come to {b} {e}",
]
SUPPORT_REPLY = [
    "@{u} sorry to hear that! please DM us your order number and we'll look into it",
    "@{u} we're on it. can you send us a DM with more details?",
    "@{u} thanks for flagging, our team is investigating",
    "@{u} glad it worked out! enjoy {e}",
]
OFFTOPIC = [
    "{x}",
    "saw a sign for {x} today",
    "{x} was lovely this afternoon",
    "pics from {x} {e}",
    "anyone been to {x}?",
]
# Non-English posts (a watchlist with ``languages: [en]`` must drop them).
FOREIGN: dict[str, list[str]] = {
    "es": [
        "{b} no funciona otra vez {e}",
        "mi pedido de {b} nunca llegó",
        "me encanta {b} {e}",
        "¿alguien sabe si {b} tiene ofertas?",
        "el servicio de {b} es pésimo {e}",
    ],
    "de": [
        "{b} ist schon wieder down {e}",
        "meine Bestellung von {b} ist nie angekommen",
        "ich liebe {b} {e}",
        "hat jemand Erfahrung mit {b}?",
        "der Kundenservice von {b} ist mies",
    ],
    "fr": [
        "{b} ne marche plus {e}",
        "ma commande {b} n'est jamais arrivée",
        "j'adore {b} {e}",
        "quelqu'un a testé {b} ?",
        "le service client de {b} est nul {e}",
    ],
}
_ELONGATE = re.compile(r"\b(so|bad|love|please|no|good|slow|why)\b")
_WORD = re.compile(r"[A-Za-z]{4,}")


def mention(rng: random.Random, brand: SimBrand) -> str:
    """A brand mention in one of the forms people use: name, @handle, #tag, rarely a typo."""
    r = rng.random()
    if r < 0.42:
        return brand.name
    if r < 0.56:
        return brand.name.lower()
    if r < 0.80 and brand.handles:
        return "@" + rng.choice(brand.handles)
    if r < 0.92 and brand.hashtags:
        return "#" + brand.hashtags[0]  # the plain tag; "#brandfail" style tags go in decorate()
    if r < 0.98 and brand.keywords:
        return rng.choice(brand.keywords)
    return typo(rng, brand.name)  # the matcher may miss it, as in real data


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.4:
        return word[:i] + word[i + 1 :]
    if op < 0.7:
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def url(rng: random.Random) -> str:
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return rng.choice(URL_HOSTS) + "".join(rng.choices(alphabet, k=rng.randint(6, 10)))


def _dur(rng: random.Random) -> str:
    n = rng.randint(2, 14)
    return f"{n} {rng.choice(['days', 'hours', 'weeks', 'hrs'])}"


_NUMBERS = ["2", "3", "5", "10", "12", "20", "30", "45", "50", "90", "120", "200"]


@functools.lru_cache(maxsize=4096)
def _slot_names(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f))


def _slot(
    rng: random.Random,
    name: str,
    brand: SimBrand,
    sentiment: str,
    competitor: SimBrand | None,
    new: str,
) -> str:
    if name == "b":
        return mention(rng, brand)
    if name == "p":
        return rng.choice(PRODUCTS.get(brand.group, DEFAULT_PRODUCTS))
    if name == "e":
        return rng.choice(EMOJI[sentiment])
    if name == "n":
        return rng.choice(_NUMBERS)
    if name == "d":
        return _dur(rng)
    if name == "city":
        return rng.choice(CITIES)
    if name == "x":
        return rng.choice(INTENS)
    if name == "u":
        return url(rng)
    if name == "new":
        return new
    if name == "c":
        return (
            mention(rng, competitor) if competitor else rng.choice(["the others", "everyone else"])
        )
    if name == "t":
        return rng.choice(brand.hashtags) if brand.hashtags else brand.id
    raise KeyError(name)


def fill(
    rng: random.Random,
    template: str,
    brand: SimBrand,
    sentiment: str,
    competitor: SimBrand | None = None,
    new: str = "",
) -> str:
    """Fill only the slots the template uses (a repeated slot gets one value)."""
    slots = {n: _slot(rng, n, brand, sentiment, competitor, new) for n in _slot_names(template)}
    return template.format(**slots)


def decorate(rng: random.Random, text: str, sentiment: str, brand: SimBrand) -> str:
    """Surface noise: elongation, caps, fillers, hashtags, urls, lowercase."""
    r = rng.random()
    if r < 0.12:
        text = _ELONGATE.sub(
            lambda m: m.group(0) + m.group(0)[-1] * rng.randint(2, 4), text, count=1
        )
    elif r < 0.18 and sentiment == "negative":
        text = text.upper()
    elif r < 0.30:
        text = text.lower()
    if rng.random() < 0.4:
        ctx = rng.choice(CONTEXT)
        if "{" in ctx:
            ctx = ctx.format(city=rng.choice(CITIES), n=rng.randint(2, 40))
        text = f"{text.rstrip()} {ctx}" if rng.random() < 0.5 else f"{ctx}, {text}"
    if rng.random() < 0.25:
        text = f"{rng.choice(OPENERS[sentiment])} {text}"
    r = rng.random()
    if r < 0.10:
        fill_words = FILLERS_NEG if sentiment == "negative" else FILLERS_POS
        text = f"{rng.choice(fill_words)} {text}"
    elif r < 0.20 and brand.hashtags:
        tag = rng.choice(brand.hashtags) if sentiment == "negative" else brand.hashtags[0]
        text = f"{text} #{tag}"
    elif r < 0.26:
        text = f"{text} {url(rng)}"
    if rng.random() < 0.05 and "http" not in text[-30:]:
        text += "!" * rng.randint(1, 3)
    return text.strip()


def background_text(
    rng: random.Random, brand: SimBrand, sentiment: str, competitor: SimBrand | None = None
) -> str:
    """An everyday post about the brand with the given intended sentiment."""
    if sentiment == "negative" and rng.random() < 0.06:
        return decorate(rng, fill(rng, rng.choice(SARCASM), brand, sentiment), sentiment, brand)
    topic = rng.choice(("shipping", "support", "quality", "quality", "price", "general", "general"))
    tpl = rng.choice(TEMPLATES[topic][sentiment])
    return decorate(rng, fill(rng, tpl, brand, sentiment, competitor), sentiment, brand)


def crisis_text(rng: random.Random, brand: SimBrand, narrative: str) -> str:
    if rng.random() < 0.15:  # plenty of plain complaints ride along with the narrative
        return background_text(rng, brand, "negative")
    tpl = rng.choice(NARRATIVES[narrative])
    return decorate(rng, fill(rng, tpl, brand, "negative"), "negative", brand)


def launch_text(
    rng: random.Random, brand: SimBrand, new: str, competitor: SimBrand | None = None
) -> str:
    tpl = rng.choice(LAUNCH)
    return decorate(rng, fill(rng, tpl, brand, "positive", competitor, new=new), "positive", brand)


def launch_rush_text(rng: random.Random, brand: SimBrand, new: str) -> str:
    tpl = rng.choice(LAUNCH_RUSH)
    return decorate(rng, fill(rng, tpl, brand, "negative", new=new), "negative", brand)


def campaign_variant(rng: random.Random, base: str, brand: SimBrand) -> str:
    """A near-copy of a campaign text: typo, swapped words, fresh url and hashtags."""
    words = base.split()
    words = [url(rng) if w.startswith("http") else w for w in words]
    if rng.random() < 0.4:
        cand = [i for i, w in enumerate(words) if _WORD.fullmatch(w)]
        if cand:
            i = rng.choice(cand)
            words[i] = typo(rng, words[i])
    if rng.random() < 0.3 and len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    if rng.random() < 0.5 and brand.hashtags:
        words.append("#" + rng.choice((*brand.hashtags, "boycott", "truth", "wakeup")))
    if rng.random() < 0.2:
        words.insert(0, rng.choice(["RT", "PLEASE SHARE", "‼️", "read this:"]))
    return " ".join(words)


def viral_text(rng: random.Random, brand: SimBrand) -> str:
    return fill(rng, rng.choice(VIRAL), brand, "negative")


def spam_text(rng: random.Random, brand: SimBrand) -> str:
    return fill(rng, rng.choice(SPAM), brand, "negative")


def comparison_text(rng: random.Random, brand: SimBrand, competitor: SimBrand) -> str:
    tpl = rng.choice(COMPARISON)
    return decorate(rng, fill(rng, tpl, brand, "neutral", competitor), "neutral", brand)


def foreign_text(rng: random.Random, brand: SimBrand) -> tuple[str, str]:
    """(lang, text): a post about the brand in another language."""
    lang = rng.choice(sorted(FOREIGN))
    return lang, fill(rng, rng.choice(FOREIGN[lang]), brand, "neutral")


USER_REPLY = [
    "@{h} same thing happened to me with {b} {e}",
    "@{h} {b} did this to me too",
    "@{h} did {b} ever answer you?",
    "@{h} +1, {b} has been awful {d} now",
    "@{h} this. {x} tired of {b}",
    "@{h} same here with {b} in {city}",
]


def user_reply(rng: random.Random, brand: SimBrand, handle: str) -> str:
    # The handle goes in after filling so the template cache sees a handful of templates.
    tpl = rng.choice(USER_REPLY).replace("{h}", "\x00")
    return fill(rng, tpl, brand, "negative").replace("\x00", handle)


def support_reply(rng: random.Random, user_handle: str) -> str:
    return rng.choice(SUPPORT_REPLY).format(u=user_handle, e=rng.choice(EMOJI["positive"]))


def offtopic_text(rng: random.Random, brand: SimBrand) -> str | None:
    """A text using an excluded phrase (a false positive the matcher must veto)."""
    if not brand.exclude:
        return None
    phrase = rng.choice(brand.exclude)
    return rng.choice(OFFTOPIC).format(x=phrase, e=rng.choice(EMOJI["neutral"]))
