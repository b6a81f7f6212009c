"""Parallel listing: one prefix listed as disjoint key ranges by ``parallelism`` threads at once.

**Planning.** A prefix ending in ``/`` is first listed one level deep (``Delimiter='/'``, one request): when the level
fits in one page, its direct objects are listed already and each sub-prefix becomes a range of its own. A prefix
whose level does not fit (a flat folder of millions of keys), or a plan with fewer than ``4 x parallelism`` ranges, is
split further by *sampling*, a whole level of the coarsest ranges a round: ``StartAfter`` probes of one or two keys
find which characters follow the range's known common prefix (its stem); the probe starting after
``stem + c + U+10FFFF`` (past every key that starts with ``stem + c``) finds the next character. The boundaries
``stem + c + U+10FFFF`` cut the range into consecutive ranges ``(start_after, end]``, one per character, each with a
longer stem. Rounds of splitting (in parallel) go on until there are enough ranges and none is left coarser than a
split sibling (the coarse ones would be the tail of the listing; the plan stops at about ``16 x parallelism``
ranges), or none can be split. Probes are round trips: a long shared stem and the rest of a character class
(digits, ``a-z``, ``A-Z``) are probed at once, so a level of digits costs one round trip, not ten. The threads then
take the coarsest ranges first.

**Exactly once.** Consecutive ranges sharing their bounds partition their parent whatever the bounds are (a key equal
to a bound belongs to the range ending there; :mod:`runtime.storage.key_ranges`), so sampling only decides how
balanced the ranges are, never whether a key is listed: every key under the prefix is in exactly one range, or is one
of the level's direct objects (which no sub-prefix holds).

**Memory.** The listing threads hand pages to the caller through a bounded queue (``2 x parallelism`` pages): memory
is bounded by that queue and the plan (a few hundred ranges), not by the number of keys.

**Processes.** Where there are CPUs for it, the threads are spread over listing processes (one interpreter each:
listing is CPU-bound under one GIL), which take the ranges from one queue and send their pages back each through
its own pipe (:mod:`runtime.jobs.listing_processes`); the contract is the same.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from platform_contract import defaults
from runtime.jobs import listing_processes
from runtime.storage.base import ObjectInfo, ObjectStore

__all__ = ["DEFAULT_PARALLELISM", "MAX_CHAR", "KeyRange", "parallel_pages", "plan_ranges", "split_range"]

log = logging.getLogger(__name__)

#: Threads listing at once (``--parallelism``).
DEFAULT_PARALLELISM = defaults.LISTER_PARALLELISM
#: The greatest character: ``stem + c + MAX_CHAR`` sorts after every key starting with ``stem + c`` (but those
#: that continue with ``MAX_CHAR`` itself, which only unbalance the ranges).
MAX_CHAR = "\U0010ffff"
#: Ranges planned per listing thread (more ranges balance better; each costs a few probes).
RANGES_PER_THREAD = 4
#: Character classes a split probes at once, the rest of a class as soon as two characters of a level are known.
CHARACTER_CLASSES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: Lengths of a shared stem probed at once (a round trip of the stem's k-ary search).
DESCENT_PROBES = 8
#: Ranges per listing thread a plan may grow to while it evens out (see :func:`plan_ranges`).
MAX_RANGES_PER_THREAD = 16
#: Rounds of splitting at most (each round splits up to ``parallelism`` of the coarsest ranges, in parallel).
MAX_ROUNDS = 32
#: Probes one range's split may spend (a range of many distinct next characters is split on the first ones).
MAX_PROBES = 64


@dataclass(frozen=True)
class KeyRange:
    """The keys ``k`` under ``prefix`` with ``start_after < k <= end`` (``None``: unbounded). ``stem`` is a known
    common prefix of (nearly) all of them, where the next split samples (a hint: it never decides what is listed)."""

    prefix: str
    start_after: str | None = None
    end: str | None = None
    stem: str = ""
    #: Splits between this range and the prefix (or sub-prefix) it was planned from: how coarse it is. The stem's
    #: length is no measure of that: sub-prefixes of one level differ in name length.
    depth: int = 0

    def pages(self, store: ObjectStore, page_size: int | None = None) -> Iterator[list[ObjectInfo]]:
        """List this range."""
        return store.list_range_pages(self.prefix, self.start_after, self.end, page_size)


def _probe(store: ObjectStore, rng: KeyRange, start_after: str | None, count: int = 1) -> list[str]:
    """The first ``count`` keys of ``rng`` after ``start_after`` (one request of ``count`` keys)."""
    keys: list[str] = []
    for page in store.list_range_pages(rng.prefix, start_after, rng.end, page_size=count):
        keys.extend(obj.key for obj in page)
        if len(keys) >= count:
            break
    return keys[:count]


def _class_rest(char: str) -> str:
    """The characters of ``char``'s class (:data:`CHARACTER_CLASSES`) after it; empty outside them."""
    for cls in CHARACTER_CLASSES:
        index = cls.find(char)
        if index >= 0:
            return cls[index + 1:]
    return ""


def _probe_class(store: ObjectStore, rng: KeyRange, stem: str, chars: list[str], pool: Executor,
                 probes: int) -> tuple[int, list[str], list[str] | None]:
    """``chars`` (ascending, the level's characters found so far) extended by the ones that follow the last in its
    class, probed at once: the probe past ``stem + c + MAX_CHAR`` finds the first present character after ``c``,
    so probing every ``c`` of the class finds every present character up to the class's end, and the first one
    after it. Serially that is one round trip per character; a level of digits takes one instead of ten. Also
    returns what the probe past the new last character found, when it was among them (``None`` if not)."""
    rest = (chars[-1] + _class_rest(chars[-1]))[: max(MAX_PROBES - probes, 0)]  # past the last one too
    if len(rest) < 2:
        return probes, chars, None  # nothing to gain over the next serial probe
    past = dict(zip(rest, pool.map(lambda char: _probe(store, rng, stem + char + MAX_CHAR), rest)))
    seen = {keys[0][len(stem)] for keys in past.values()
            if keys and keys[0].startswith(stem) and len(keys[0]) > len(stem)}
    chars = chars + sorted(char for char in seen if char > chars[-1])
    return probes + len(rest), chars, past.get(chars[-1])


def _descend(store: ObjectStore, rng: KeyRange, stem: str, lead: str, pool: Executor,
             probes: int) -> tuple[int, str]:
    """The longest prefix of ``lead`` (a key of ``rng`` extending ``stem``) that every key of ``rng`` shares, from
    ``stem`` (shared), probed at once: nothing follows ``lead[:n] + MAX_CHAR`` in ``rng`` exactly when every key
    starts with ``lead[:n]`` (``lead`` is the first key), which holds up to some ``n`` and no further: each round
    probes :data:`DESCENT_PROBES` lengths spread over what is left (a k-ary search). Serially a long shared stem
    costs a round trip and a probe a character; here a 100-character stem takes three round trips."""
    low, high = len(stem), len(lead) + 1  # every key starts with lead[:low]; lead[:high] is past the lead
    while high - low > 1 and probes < MAX_PROBES:
        count = min(DESCENT_PROBES, high - low - 1, MAX_PROBES - probes)
        lengths = sorted({low + (high - low) * (i + 1) // (count + 1) for i in range(count)})
        found = list(pool.map(lambda n: _probe(store, rng, lead[:n] + MAX_CHAR), lengths))
        probes += len(lengths)
        for length, keys in zip(lengths, found):
            if keys:
                high = length
                break
            low = length
    return probes, lead[:low]


def split_range(store: ObjectStore, rng: KeyRange, pool: Executor | None = None,
                page_size: int = 1) -> list[KeyRange] | None:
    """``rng`` cut into consecutive ranges by the characters that follow its stem (descending through a stem every
    key shares), or ``None`` when it cannot be split: no second character found, or its parts would hold less than
    a page (``page_size`` keys) each, judged by the first part (its first page of keys, read by the first probe,
    lies wholly in it): a part listed in one request costs a round trip for a fraction of a page, so splitting
    would make the listing slower, not faster. With a ``pool``, a shared stem (:func:`_descend`) and the rest of a
    character class (:func:`_probe_class`) are probed at once."""
    count = max(page_size, 2)
    first = _probe(store, rng, rng.start_after, count=count)
    if len(first) < count:
        return None
    stem = rng.stem if first[0].startswith(rng.stem) else rng.prefix
    probes = 1
    lead = first[0]  # the first key that starts with the stem and continues past it (or the stem itself)
    while probes < MAX_PROBES:
        chars: list[str] = []
        key: str | None = lead
        while key is not None and probes < MAX_PROBES:
            if not key.startswith(stem):
                break  # outside the stem (a key past an unusual boundary): the last range takes the rest
            if len(key) == len(stem) or (chars and key[len(stem)] == chars[-1]):
                after = key  # the stem itself, or a key past ``stem + c + MAX_CHAR``: step over it
            else:
                if not chars:
                    lead = key
                chars.append(key[len(stem)])
                if pool is not None and len(chars) >= 2:  # the level splits: probe the rest of the class at once
                    probes, chars, known = _probe_class(store, rng, stem, chars, pool, probes)
                    if known is not None:  # what comes past the last character: probed already
                        key = known[0] if known else None
                        continue
                after = stem + chars[-1] + MAX_CHAR
            found = _probe(store, rng, after)
            probes += 1
            key = found[0] if found else None
        if len(chars) >= 2:
            if not first[page_size - 1].startswith(stem + chars[0]):
                return None  # the first part holds less than a page
            # cut short (probes spent, keys left): the last range keeps the level, to be split again
            return _cut(rng, stem, chars, complete=key is None or not key.startswith(stem))
        if len(chars) == 1 and probes < MAX_PROBES:
            stem += chars[0]  # every key (but the stem itself) starts with stem + c: sample one level deeper
            if pool is not None:
                probes, stem = _descend(store, rng, stem, lead, pool, probes)
            continue
        return None
    return None


def _cut(rng: KeyRange, stem: str, chars: Sequence[str], complete: bool = True) -> list[KeyRange]:
    """Consecutive ranges of ``rng`` with boundaries ``stem + c + MAX_CHAR`` (each strictly inside ``rng``), one
    split deeper. When the level's characters were not all found (``complete`` false), the last range holds every
    character from its own on: it keeps ``stem`` and ``rng``'s depth, so that a later round splits it again."""
    ranges: list[KeyRange] = []
    lower = rng.start_after
    for index, char in enumerate(chars):
        bound = stem + char + MAX_CHAR
        last = index == len(chars) - 1
        if not last and ((lower is not None and bound <= lower) or (rng.end is not None and bound >= rng.end)):
            continue  # not strictly inside: the next range starts where the previous one ended
        upper = rng.end if last else bound
        whole = last and not complete
        ranges.append(KeyRange(rng.prefix, lower, upper, stem if whole else stem + char,
                               rng.depth if whole else rng.depth + 1))
        lower = upper
    return ranges


def plan_ranges(store: ObjectStore, prefix: str, parallelism: int,
                page_size: int | None = None) -> tuple[list[KeyRange], list[ObjectInfo]]:
    """The ranges that partition ``prefix`` (about ``4 x parallelism`` of them when the keys allow it), and the
    objects the level listing already listed (directly under ``prefix``, in no range)."""
    target = max(parallelism * RANGES_PER_THREAD, 1)
    page = page_size or getattr(store, "page_size", 1000)  # a range of fewer keys is not split
    direct: list[ObjectInfo] = []
    ranges = [KeyRange(prefix, stem=prefix)]
    level = store.list_level(prefix) if parallelism > 1 and (not prefix or prefix.endswith("/")) else None
    if level is not None:
        direct = level.objects
        ranges = [KeyRange(sub, stem=sub) for sub in level.prefixes]
    done: list[KeyRange] = []
    split = made = 0
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="plan") as pool, \
            ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="probe") as probe_pool:
        for _ in range(MAX_ROUNDS):
            if not ranges or parallelism <= 1:
                break
            ranges.sort(key=lambda r: r.depth)  # the coarsest first
            fanout = made / split if split else 2
            size = _round_size(ranges, len(ranges) + len(done), target, parallelism, fanout)
            if size < 1:
                break
            batch, ranges = ranges[:size], ranges[size:]
            results = list(pool.map(lambda r: split_range(store, r, probe_pool, page), batch))
            for index, rng in enumerate(batch):
                parts = results[index]
                if parts is None:
                    done.append(rng)
                else:
                    ranges.extend(parts)
                    split, made = split + 1, made + len(parts)
    planned = sorted(done + ranges, key=lambda r: (r.prefix, r.start_after or ""))
    log.info("listing %s as %d ranges (%d objects listed by the level listing)", prefix, len(planned), len(direct))
    return planned, direct


def _round_size(ranges: Sequence[KeyRange], planned: int, target: int, parallelism: int, fanout: float) -> int:
    """How many of the coarsest ``ranges`` (sorted, coarsest first) the next round splits: all of the coarsest
    level at once (one round per level: every round costs round trips), at most one per thread, as many as keep
    the plan under :data:`MAX_RANGES_PER_THREAD` per thread at the fan-out seen so far, and one while it is under
    (so a plan may pass the cap by one split). Below the target, at least one; at it, only ranges still coarser
    than the finest (a sibling of theirs was split, so each holds about ``fanout`` times the keys of the finest:
    left, they would be the tail of the listing), none once even."""
    coarsest = ranges[0].depth
    if planned >= target and coarsest == ranges[-1].depth:
        return 0
    coarse = sum(1 for rng in ranges if rng.depth == coarsest)
    cap = parallelism * MAX_RANGES_PER_THREAD
    room = int((cap - planned) / max(fanout - 1, 1)) if planned < cap else 0
    return max(1 if planned < target else 0, min(coarse, parallelism, max(room, 1 if planned < cap else 0)))


_DONE = object()


def parallel_pages(store: ObjectStore, prefix: str, parallelism: int = DEFAULT_PARALLELISM,
                   page_size: int | None = None, processes: int | None = None,
                   usage: list[listing_processes.WorkerUsage] | None = None) -> Iterator[list[ObjectInfo]]:
    """Every object under ``prefix``, exactly once, as pages listed by ``parallelism`` threads over the ranges of
    :func:`plan_ranges` (pages in no particular order). At most ``2 x parallelism`` pages wait in memory; an error
    in any thread stops them all and is raised here. The threads run in listing processes
    (:mod:`runtime.jobs.listing_processes`): ``processes`` of them, by default its rule (1: threads of this process
    only); a plan of fewer ranges than threads (a small prefix) is listed by threads of this process. ``usage``
    collects what each process used."""
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    workers = listing_processes.start(store, parallelism, processes, page_size, usage)
    try:  # the processes start while the plan is made
        ranges, direct = plan_ranges(store, prefix, parallelism, page_size)
        if direct:
            yield direct
        if workers is not None and len(ranges) >= parallelism:
            yield from workers.pages(ranges)
            return
        if workers is not None:
            workers.close(wait=0)  # given no range: ended at once, even while they start
            workers = None
    finally:
        if workers is not None:
            workers.close()
    yield from _thread_pages(store, ranges, parallelism, page_size)


def _thread_pages(store: ObjectStore, ranges: Sequence[KeyRange], parallelism: int,
                  page_size: int | None) -> Iterator[list[ObjectInfo]]:
    """The objects of ``ranges``, listed by ``parallelism`` threads of this process."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for rng in sorted(ranges, key=lambda r: r.depth):  # the coarsest (likely the largest) first: no long tail
        todo.put(rng)
    pages: queue.Queue = queue.Queue(maxsize=2 * parallelism)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    rng = todo.get_nowait()
                except queue.Empty:
                    break
                for page in rng.pages(store, page_size):
                    if not hand_over(page):
                        return
            hand_over(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            hand_over(exc)

    threads = [threading.Thread(target=work, name=f"list-{n}", daemon=True)
               for n in range(min(parallelism, max(len(ranges), 1)))]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = pages.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
