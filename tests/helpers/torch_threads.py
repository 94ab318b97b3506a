"""One torch thread for tiny-model tests.

On this 2-core machine, shared with other jobs, torch's two intra-op threads spin against each
other and the other processes: generating with the 4-layer tiny model measured 15.3 s with 2
threads vs 3.4 s with 1 under a load average of 3. Tiny matrices gain nothing from threads.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
