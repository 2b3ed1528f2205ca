"""A Ray encoder actor killed mid-encode: Ray restarts it and retries its batch; the result equals the
local engine's and every chunk committed to the cache before the kill is still there."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import psutil
import pytest

from embedbench.cache import EmbeddingCache, text_hash
from embedbench.data.sts import read_stsb
from embedbench.encode import load_encoder


def _our_encoder_actors() -> list[psutil.Process]:
    """The live encoder actors of this session's cluster, by Ray's own actor table (the GCS's).

    Ray Data names an actor pool's class after its operator (``MapWorker(MapBatches(EncodeActor))``);
    each live one has a worker pid, which must be a descendant of this process (the session's local
    cluster, not another one on the machine) and a Ray worker (``ray::`` in its title). The state API
    (``ray.util.state``) would need the dashboard, which the session cluster does not start.
    """
    from ray._private.state import actors

    ours = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    found = []
    for info in actors().values():
        pid = info.get("Pid")
        if info.get("State") != "ALIVE" or "EncodeActor" not in str(info.get("ActorClassName", "")) or pid not in ours:
            continue
        try:
            proc = psutil.Process(pid)
            if proc.cmdline() and proc.cmdline()[0].startswith("ray::"):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _stored(cache: EmbeddingCache, space, hashes: list[bytes]) -> dict[bytes, np.ndarray]:
    return cache.get_many(space, hashes)


@pytest.mark.real  # twice in clean-clone CI runs the whole pytest process exited here with no summary (once in three runs after the victim came from Ray's actor table): kept out of make test until found
def test_killed_actor_is_retried_and_committed_chunks_stay(ray_engine, tmp_path, shared_data, encode_locally):
    df = read_stsb(shared_data / "stsbenchmark" / "sts-train.csv")
    texts = list(dict.fromkeys([*df["sentence1"].to_list(), *df["sentence2"].to_list()]))[:8000]
    hashes = [text_hash(t) for t in texts]
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    enc = load_encoder("tiny", cache=cache, show_progress=False, batch_size=32)
    killed: dict[str, object] = {}

    def kill_one_after_first_commit() -> None:
        side = EmbeddingCache(cache.path)  # its own connection
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            committed = side.get_many(enc.space, hashes)
            actors = _our_encoder_actors()
            if committed and actors:
                killed["committed"] = committed
                killed["pid"] = actors[0].pid
                os.kill(actors[0].pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    side = threading.Thread(target=kill_one_after_first_commit, daemon=True)
    side.start()
    got = enc.encode(texts)
    side.join(timeout=10)

    assert "pid" in killed, "no encoder actor was killed mid-encode (the encode finished before the first commit?)"
    committed = killed["committed"]
    assert 0 < len(committed) < len(texts), "the kill must land between the first commit and the end"
    after = _stored(cache, enc.space, hashes)
    assert len(after) == len(texts)
    assert all(np.array_equal(after[h], v) for h, v in committed.items())
    assert float(np.abs(got - encode_locally(texts)).max()) < 1e-6
