"""Turn the in-sandbox program's raw report into the result fields, with a `schema.Status`.

Host-side, so the status set exists once (`schema.Status`); the in-sandbox program only reports
facts (the exception's type, MRO and whether a hub frame was on the stack, the exit code, the
signal, whether the cgroup counted an OOM kill).
"""

from __future__ import annotations

import signal

from gorilla_rlaif.harness.schema import Status


def classify(raw: dict) -> dict:
    """Map a raw report to the result fields: status, exit_code, error_type, error_message."""
    child = raw.get("child") or {}
    exc = child.get("exception")
    rc = raw.get("returncode")
    result = {"exit_code": rc, "error_type": None, "error_message": None}
    if raw.get("timed_out"):
        return {
            **result,
            "status": Status.timeout.value,
            "error_type": "Timeout",
            "error_message": raw.get("timeout_message")
            or "wall-time limit reached; the process group was killed",
        }
    if child.get("setup_error"):
        return {
            **result,
            "status": Status.sandbox_error.value,
            "error_type": "RunnerError",
            "error_message": child["setup_error"],
        }
    if exc:
        result.update(error_type=exc["type"], error_message=exc["message"])
        mro = set(exc["mro"])
        if child.get("syntax"):
            return {**result, "status": Status.syntax_error.value}
        if exc.get("hub"):
            return {**result, "status": Status.hub_error.value}
        for name, status in (
            ("MemoryError", Status.oom.value),
            ("ImportError", Status.import_error.value),
            ("AttributeError", Status.attribute_error.value),
            ("NameError", Status.name_error.value),
            ("TypeError", Status.type_error.value),
        ):
            if name in mro:
                return {**result, "status": status}
        return {**result, "status": Status.runtime_error.value}
    if rc is not None and rc < 0:
        sig = -rc
        name = signal.Signals(sig).name if sig in signal.valid_signals() else f"signal {sig}"
        if sig == signal.SIGXCPU:
            return {
                **result,
                "status": Status.timeout.value,
                "error_type": "Timeout",
                "error_message": "CPU-time limit reached (SIGXCPU)",
            }
        if sig == signal.SIGKILL and (
            raw.get("oom_killed") or raw.get("oom_killed") is None or raw.get("assume_oom")
        ):
            return {
                **result,
                "status": Status.oom.value,
                "error_type": "OOMKilled",
                "error_message": "killed by the out-of-memory killer (SIGKILL)",
            }
        return {
            **result,
            "status": Status.runtime_error.value,
            "error_type": name,
            "error_message": f"killed by {name}",
        }
    if rc:
        return {
            **result,
            "status": Status.runtime_error.value,
            "error_type": "ExitCode",
            "error_message": f"process exited with code {rc} without an exception",
        }
    return {**result, "status": Status.ok.value}
