"""The scheduler: turns in one process, races in several, with strategies whose answers are fixed."""

import os
import time

import numpy as np
import pytest

from shallowrelu.limits import OutOfTime
from shallowrelu.tolerances import DEFAULT_TOLERANCES
from shallowrelu.verification import Decider, Verdict, Work
from shallowrelu.verification.scheduler import Unit, decide
from shallowrelu.verification.strategy import Outcome, Strategy
from shallowrelu.verification.vnnlib import Disjunct

BOX = Disjunct(np.zeros(1), np.ones(1), np.ones((1, 1)), np.zeros(1))


class Answers(Strategy):
    """Answers ``verdict`` on its ``calls``-th call (None: never), counting one domain per call."""

    def __init__(self, verdict=Verdict.UNSAT, calls=1, resumable=True):
        super().__init__(None, BOX, DEFAULT_TOLERANCES)
        self.verdict, self.calls, self.resumable = verdict, calls, resumable
        self.made = 0

    def run(self, until):
        self.made += 1
        self.work.domains += 1
        if self.calls is not None and self.made >= self.calls:
            return Outcome(self.verdict, Decider.NEURON_SPLIT, np.zeros(1) if self.verdict is Verdict.SAT else None,
                           note="no proof" if self.verdict is Verdict.UNKNOWN else "")
        while time.time() < until:  # works to the end of its slice
            time.sleep(0.01)
        return None


class Threads(Strategy):
    """Answers unsat, noting how many BLAS threads it was given."""

    def __init__(self):
        super().__init__(None, BOX, DEFAULT_TOLERANCES)

    def run(self, until):
        from threadpoolctl import threadpool_info

        counts = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
        return Outcome(Verdict.UNSAT, Decider.BOUND, note=str(sorted(counts)))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_disjunct_is_decided_by_the_unit_that_answers_and_the_other_is_stopped(jobs):
    # the first unit never answers; the second answers on its second call (in turns; a racing process is
    # called once)
    calls = 2 if jobs == 1 else 1
    units = [Unit((0,), lambda: Answers(calls=None)),
             Unit((0,), lambda: Answers(Verdict.UNSAT, calls=calls, resumable=False))]
    start = time.time()
    found = decide(units, jobs, time.time() + 60)
    assert found.outcomes[0].verdict is Verdict.UNSAT
    assert time.time() - start < 30  # the loser did not run to the deadline
    assert found.work.domains >= 1


@pytest.mark.parametrize("jobs", [1, 2])
def test_sat_on_one_disjunct_ends_everything(jobs):
    units = [Unit((0,), lambda: Answers(Verdict.SAT)), Unit((1,), lambda: Answers(calls=None)),
             Unit((2,), lambda: Answers(calls=None))]
    found = decide(units, jobs, time.time() + 60)
    assert found.sat is not None and found.sat.x is not None
    assert 2 not in found.outcomes


@pytest.mark.parametrize("jobs", [1, 2])
def test_unknown_waits_for_the_other_units_and_stands_only_if_all_say_so(jobs):
    later = 3 if jobs == 1 else 1
    units = [Unit((0,), lambda: Answers(Verdict.UNKNOWN)), Unit((0,), lambda: Answers(Verdict.UNSAT, calls=later))]
    assert decide(units, jobs, time.time() + 60).outcomes[0].verdict is Verdict.UNSAT
    units = [Unit((0,), lambda: Answers(Verdict.UNKNOWN)), Unit((0,), lambda: Answers(Verdict.UNKNOWN, calls=later))]
    out = decide(units, jobs, time.time() + 60).outcomes[0]
    assert out.verdict is Verdict.UNKNOWN and out.note == "no proof"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_unit_of_several_disjuncts_decides_them_all_and_stops_their_other_units(jobs):
    # the MILP of a box decides all of its disjuncts; their own units never answer
    later = 2 if jobs == 1 else 1
    units = [Unit((0, 1, 2), lambda: Answers(Verdict.UNSAT, calls=later, resumable=False)),
             Unit((0,), lambda: Answers(calls=None)), Unit((1,), lambda: Answers(calls=None)),
             Unit((2,), lambda: Answers(Verdict.UNKNOWN))]
    start = time.time()
    found = decide(units, jobs, time.time() + 60)
    assert sorted(found.outcomes) == [0, 1, 2]
    assert all(o.verdict is Verdict.UNSAT for o in found.outcomes.values())
    assert time.time() - start < 30
    # where it ends unknown, each disjunct waits for its own units
    units = [Unit((0, 1), lambda: Answers(Verdict.UNKNOWN)), Unit((0,), lambda: Answers(Verdict.UNSAT, calls=later)),
             Unit((1,), lambda: Answers(Verdict.SAT, calls=later))]
    found = decide(units, jobs, time.time() + 60)
    assert found.outcomes[0].verdict is Verdict.UNSAT and found.sat is not None


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_deadline_ends_undecided_work(jobs):
    units = [Unit((0,), lambda: Answers(calls=None)), Unit((1,), lambda: Answers(calls=None))]
    start = time.time()
    with pytest.raises(OutOfTime):
        decide(units, jobs, time.time() + 1.0)
    assert time.time() - start < 10


def test_racing_processes_get_one_blas_thread_each():
    found = decide([Unit((0,), Threads), Unit((1,), Threads)], 2, time.time() + 60)
    assert [o.note for o in found.outcomes.values()] == ["[1]", "[1]"]


def test_work_records_add_up():
    a, b = Work(domains=2, boxes=1), Work(domains=3, milps=1)
    a.add(b)
    assert (a.domains, a.boxes, a.milps) == (5, 1, 1)
    assert set(a.as_dict()) >= {"points", "lps", "boxes", "exact_boxes", "domains", "regions", "pruned", "milps"}


class AnswersAt(Strategy):
    """Answers unsat at a fixed moment, so that racing units answer together."""

    def __init__(self, moment):
        super().__init__(None, BOX, DEFAULT_TOLERANCES)
        self.moment = moment

    def run(self, until):
        time.sleep(max(0.0, self.moment - time.time()))
        return Outcome(Verdict.UNSAT, Decider.BOUND)


def test_racers_of_one_disjunct_that_answer_together_give_one_answer():
    # both connections are ready in the same wait: the second is the loser already stopped, not a new answer
    for _ in range(5):
        moment = time.time() + 0.5
        found = decide([Unit((0,), lambda: AnswersAt(moment)), Unit((0,), lambda: AnswersAt(moment))], 2,
                       time.time() + 60)
        assert found.outcomes[0].verdict is Verdict.UNSAT and found.work.domains == 0



class Niceness(Strategy):
    """Answers unsat with its process's nice value: once it is 19 (``wait_for_19``), or after ``delay`` seconds;
    never (``delay`` None) unless waiting for 19."""

    def __init__(self, delay=None, wait_for_19=False):
        super().__init__(None, BOX, DEFAULT_TOLERANCES)
        self.delay, self.wait_for_19 = delay, wait_for_19

    def run(self, until):
        start = time.time()
        while time.time() < until:
            nice = os.getpriority(os.PRIO_PROCESS, 0)
            if (self.wait_for_19 and nice == 19) or (self.delay is not None and time.time() - start >= self.delay):
                return Outcome(Verdict.UNSAT, Decider.INPUT_SPLIT, note=str(nice))
            time.sleep(0.01)
        return None


def test_a_unit_that_yields_runs_at_the_lowest_priority_after_its_seconds_and_its_rival_keeps_its_own():
    found = decide([Unit((0,), lambda: Niceness(wait_for_19=True), yields_after=0.2), Unit((0,), Niceness)], 2,
                   time.time() + 60)
    assert found.outcomes[0].note == "19"
    found = decide([Unit((0,), Niceness, yields_after=0.2), Unit((0,), lambda: Niceness(delay=1.0))], 2,
                   time.time() + 60)
    assert found.outcomes[0].note == str(os.getpriority(os.PRIO_PROCESS, 0))  # the parent's own


class Flag(Strategy):
    """Sets ``event`` and answers unsat (``wait`` False), or answers unsat once ``event`` is set (``wait`` True)."""

    def __init__(self, event, wait):
        super().__init__(None, BOX, DEFAULT_TOLERANCES)
        self.event, self.wait = event, wait

    def run(self, until):
        if not self.wait:
            self.event.set()
        elif not self.event.wait(max(0.0, until - time.time())):
            return None
        return Outcome(Verdict.UNSAT, Decider.INPUT_SPLIT)


def test_a_unit_that_yields_gives_its_place_to_the_next_in_the_queue():
    # two jobs, three units: the third starts only once the first has yielded, and the second answers only
    # once the third has run
    import multiprocessing

    event = multiprocessing.get_context("fork").Event()
    units = [Unit((0,), lambda: Niceness(wait_for_19=True), yields_after=0.2), Unit((1,), lambda: Flag(event, True)),
             Unit((2,), lambda: Flag(event, False))]
    found = decide(units, 2, time.time() + 60)
    assert sorted(found.outcomes) == [0, 1, 2]
    assert all(o.verdict is Verdict.UNSAT for o in found.outcomes.values())
