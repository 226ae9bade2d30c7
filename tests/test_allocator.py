import subprocess
import sys


def test_keep_freed_memory_applies_once_and_can_be_disabled() -> None:
    code = ("from landmarks.engine.allocator import keep_freed_memory as k; "
            "print(k(), k())")
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert on.stdout.split() == ["True", "True"] or sys.platform != "linux"
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={"LANDMARKS_KEEP_MALLOC": "0", "PATH": ""})
    assert off.stdout.split() == ["False", "False"]
