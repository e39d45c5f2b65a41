"""Times one program run on a fresh pty, for bench/startup.mjs (the pty path of `warden run`).

argv[1] is a JSON object: argv, env, cwd, uid, gid (null: stay as is), rows, cols. The program
becomes a session leader with the pty's slave as its controlling terminal and as fds 0-2, as in a
terminal emulator; its output is drained. Prints one JSON line: {"ms": wall time from just
before fork to its exit, "status": exit code or -signal, "tail": the last output, for errors}.
Python's own start-up is outside the measured time.
"""
import fcntl
import json
import os
import struct
import sys
import termios
import time


def main():
    spec = json.loads(sys.argv[1])
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", spec.get("rows", 24), spec.get("cols", 80), 0, 0))
    if spec.get("uid") is not None:
        os.fchown(slave, spec["uid"], spec["gid"])
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.closerange(3, 1024)
            if spec.get("uid") is not None:
                os.setgroups([])
                os.setgid(spec["gid"])
                os.setuid(spec["uid"])
            os.chdir(spec["cwd"])
            os.execve(spec["argv"][0], spec["argv"], spec["env"])
        finally:
            os._exit(127)
    os.close(slave)
    # Until every holder of the slave is gone (warden and all it started), reads return output;
    # then EIO. The exit is reaped right after, without polling.
    tail = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tail = (tail + chunk)[-2000:]
    _, raw = os.waitpid(pid, 0)
    ms = (time.perf_counter() - started) * 1000
    status = os.waitstatus_to_exitcode(raw)
    print(json.dumps({"ms": ms, "status": status, "tail": tail.decode("utf8", "replace")}))


if __name__ == "__main__":
    main()
