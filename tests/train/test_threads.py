"""The thread policy: the cores other processes leave free, read from /proc/stat; a fixed
count from RNNKIT_THREADS; the count restored after training."""

import pytest
import torch

from rnnkit.train import threads
from rnnkit.train.threads import ThreadPolicy


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.delenv("RNNKIT_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_cores", lambda: [0, 1])
    torch.set_num_threads(2)  # the suite's conftest gives each test one; it restores it


def test_busy_seconds_are_read_for_this_process_cores_only(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  9 9 9 9 9 9 9 9 0 0\n"
                    "cpu0 100 0 50 1000 7 3 2 1 0 0\n"
                    "cpu1 200 5 0 1000 0 0 0 0 0 0\n"
                    "cpu2 999 0 0 0 0 0 0 0 0 0\n")  # fmt: skip
    monkeypatch.setattr(threads, "STAT", stat)
    ticks = threads.os.sysconf("SC_CLK_TCK")
    # busy = user + nice + system + irq + softirq + steal; idle and iowait are not
    assert threads._busy_seconds([0, 1]) == pytest.approx((156 + 205) / ticks)
    monkeypatch.setattr(threads, "STAT", tmp_path / "missing")
    assert threads._busy_seconds([0, 1]) is None


@pytest.mark.parametrize(("others", "expected"), [(0.0, 2), (0.3, 2), (0.8, 1), (1.9, 1),
                                                  (None, 2)])  # fmt: skip
def test_the_trainer_computes_with_the_cores_left_free(two_threads, monkeypatch, others,
                                                       expected):  # fmt: skip
    policy = ThreadPolicy()
    assert policy.active and policy.most == 2
    monkeypatch.setattr(policy, "others", lambda: others)
    assert policy.adapt() == expected == torch.get_num_threads()
    monkeypatch.setattr(policy, "others", lambda: 0.0)
    assert policy.adapt() == 2  # all cores again once the others stop
    torch.set_num_threads(1)
    policy.restore()
    assert torch.get_num_threads() == 2


def test_others_are_this_process_cores_less_its_own_time(two_threads, monkeypatch):
    clock = {"wall": 0.0, "busy": 0.0, "own": 0.0}
    monkeypatch.setattr(threads.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(threads.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(threads, "_busy_seconds", lambda cores: clock["busy"])
    policy = ThreadPolicy()  # the first reading, and a look FIRST_WINDOW later
    clock.update(wall=0.05, busy=0.2, own=0.1)
    assert policy.others() is None  # under FIRST_WINDOW: too soon to tell
    clock.update(wall=2.0, busy=3.5, own=1.5)
    assert policy.others() == pytest.approx(1.0)  # 3.5 busy, 1.5 ours: one core of others
    clock.update(wall=2.5)
    assert policy.others() is None  # under WINDOW since the last reading


def test_rnnkit_threads_fixes_the_count(two_threads, monkeypatch):
    monkeypatch.setenv("RNNKIT_THREADS", "1")
    policy = ThreadPolicy()
    assert not policy.active and torch.get_num_threads() == 1
    monkeypatch.setenv("RNNKIT_THREADS", "all")
    torch.set_num_threads(2)
    assert not ThreadPolicy().active and torch.get_num_threads() == 2
    monkeypatch.setenv("RNNKIT_THREADS", "many")
    with pytest.raises(ValueError, match="RNNKIT_THREADS must be a positive number or 'all'"):
        ThreadPolicy()
