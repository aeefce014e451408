"""The seccomp deny-list every container gets: runc reads it as OCI JSON, bwrap as a BPF program.

The program is compiled by libseccomp (through ctypes, as runc itself does through libseccomp's C
library), so each architecture gets its own syscall numbers; a process of another architecture (an
x32 or 32-bit call on x86-64) is killed, as in runc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import tempfile
from typing import Any

from autograder.sandbox.base import SandboxError

_CLONE_NEWUSER = 0x10000000
SECCOMP: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        # no nested user namespace (bwrap: --disable-userns): it would give the student capabilities over
        # a namespace of their own, a large kernel attack surface; clone3 hides its flags from seccomp, so
        # it reports "not implemented" and glibc falls back to clone
        {"names": ["unshare", "clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 0, "value": _CLONE_NEWUSER, "valueTwo": _CLONE_NEWUSER, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        # kernel interfaces no notebook needs, each a frequent source of kernel exploits
        {"names": ["bpf", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
                   "request_key", "perf_event_open", "userfaultfd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    ],
}
"""A deny-list on top of no capabilities; other architectures' syscall tables are refused outright."""

_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_OPS = {"SCMP_CMP_EQ": 4, "SCMP_CMP_MASKED_EQ": 7}


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SandboxError("bubblewrap run by root needs libseccomp for its syscall filter: "
                           "`apt-get install libseccomp2`, or use --sandbox runc") from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _add_rules(lib: ctypes.CDLL, ctx: int) -> None:
    for rule in SECCOMP["syscalls"]:
        args = rule.get("args", [])
        # as runc: "value" is libseccomp's first operand (the mask, for MASKED_EQ), "valueTwo" its second
        array = (_ArgCmp * max(len(args), 1))(*[_ArgCmp(a["index"], _OPS[a["op"]], a["value"], a.get("valueTwo", 0))
                                                for a in args])
        for name in rule["names"]:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number == -1:  # __NR_SCMP_ERROR: a name this libseccomp does not know at all
                raise SandboxError(f"libseccomp does not know the system call {name!r}; upgrade libseccomp2 "
                                   "or use --sandbox runc")
            done = lib.seccomp_rule_add_array(ctx, _ERRNO | rule["errnoRet"], number, len(args), array)
            if done != 0:
                raise SandboxError(f"libseccomp refused the rule for {name!r} ({os.strerror(-done)}); "
                                   "use --sandbox runc")


@functools.cache
def deny_list_bpf() -> bytes:
    """:data:`SECCOMP` as a BPF program for this machine's architecture (what ``bwrap --seccomp`` reads)."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(_ALLOW)
    if not ctx:
        raise SandboxError("libseccomp could not start a filter (out of memory?); use --sandbox runc")
    try:
        _add_rules(lib, ctx)
        with tempfile.TemporaryFile() as program:
            if lib.seccomp_export_bpf(ctx, program.fileno()) != 0:
                raise SandboxError("libseccomp could not export the syscall filter; use --sandbox runc")
            program.seek(0)
            return program.read()
    finally:
        lib.seccomp_release(ctx)
