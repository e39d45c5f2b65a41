"""Runs one program on a fresh pty, as a terminal emulator would, for test/helpers/pty.ts.

The program becomes the leader of a new session whose controlling terminal is the pty's slave
(so it is in the foreground, and Ctrl-C typed as the byte 0x03 is the terminal's business). The
driver keeps a descriptor of the slave itself, so the terminal's settings and any input left
pending in it can be read after the program exits.

argv[1] is a JSON object: argv, env, cwd, uid, gid (ints or null), rows, cols, and optionally
stdout/stderr (a file path the program's fd 1/2 is appended to instead of the terminal) and
stdin ("null": /dev/null instead of the terminal).

Protocol: one JSON object per line. In (stdin): {"write": b64}, {"resize": [rows, cols]},
{"termios": true}, {"pending": true}, {"signal": n}. Out (stdout): {"out": b64} for each chunk the
program wrote to the terminal, {"tty": path, "dev": n, "rdev": n} first (the slave's identity),
{"exit": code, "signal": n|null}, {"termios": {...}},
{"pending": b64}, {"error": text}.
"""
import base64
import fcntl
import json
import os
import select
import signal
import struct
import sys
import termios


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    spec = json.loads(sys.argv[1])
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", spec["rows"], spec["cols"], 0, 0))
    uid, gid = spec.get("uid"), spec.get("gid")
    if uid is not None:
        # As login does: the user owns their terminal.
        os.fchown(slave, uid, gid)
    st = os.fstat(slave)
    emit({"tty": os.ttyname(slave), "dev": st.st_dev, "rdev": st.st_rdev})
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            os.dup2(slave, 0)
            os.dup2(slave, 1)
            os.dup2(slave, 2)
            if spec.get("stdin") == "null":
                fd = os.open("/dev/null", os.O_RDONLY)
                os.dup2(fd, 0)
            for n, key in ((1, "stdout"), (2, "stderr")):
                if spec.get(key):
                    fd = os.open(spec[key], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                    os.dup2(fd, n)
            os.closerange(3, 1024)
            if uid is not None:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            os.chdir(spec["cwd"])
            os.execve(spec["argv"][0], spec["argv"], spec["env"])
        except BaseException as error:  # noqa: BLE001 - report anything, never return into the driver
            os.write(2, ("pty-driver: %s\n" % error).encode())
        os._exit(127)
    fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
    exited = False
    inbuf = b""
    watching_stdin = True
    while True:
        readers = [master] + ([sys.stdin.fileno()] if watching_stdin else [])
        ready, _, _ = select.select(readers, [], [], 0.05)
        if master in ready:
            try:
                data = os.read(master, 65536)
                if data:
                    emit({"out": base64.b64encode(data).decode()})
            except BlockingIOError:
                pass
            except OSError:
                pass
        if sys.stdin.fileno() in ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                watching_stdin = False
                if exited:
                    break
            inbuf += chunk
            while b"\n" in inbuf:
                line, inbuf = inbuf.split(b"\n", 1)
                handle(json.loads(line), master, slave, pid)
        if not exited:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                exited = True
                # What the program wrote last is still in the pty: pass it on before the exit.
                try:
                    while True:
                        data = os.read(master, 65536)
                        if not data:
                            break
                        emit({"out": base64.b64encode(data).decode()})
                except OSError:
                    pass
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                emit({"exit": code, "signal": sig})
                if not watching_stdin:
                    break


def handle(cmd, master, slave, pid):
    if "write" in cmd:
        os.write(master, base64.b64decode(cmd["write"]))
    elif "resize" in cmd:
        rows, cols = cmd["resize"]
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    elif "signal" in cmd:
        try:
            os.kill(pid, cmd["signal"])
        except ProcessLookupError:
            pass
    elif "termios" in cmd:
        iflag, oflag, cflag, lflag, _, _, _ = termios.tcgetattr(slave)
        emit(
            {
                "termios": {
                    "icanon": bool(lflag & termios.ICANON),
                    "echo": bool(lflag & termios.ECHO),
                    "isig": bool(lflag & termios.ISIG),
                    "icrnl": bool(iflag & termios.ICRNL),
                    "opost": bool(oflag & termios.OPOST),
                }
            }
        )
    elif "pending" in cmd:
        # Input queued in the terminal that nobody read (e.g. characters pushed with TIOCSTI).
        flags = fcntl.fcntl(slave, fcntl.F_GETFL)
        fcntl.fcntl(slave, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        data = b""
        try:
            # Raw, so a pending line is readable without its newline and nothing is interpreted.
            saved = termios.tcgetattr(slave)
            raw = list(saved)
            raw[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)
            raw[6] = list(saved[6])
            raw[6][termios.VMIN] = 0
            raw[6][termios.VTIME] = 0
            termios.tcsetattr(slave, termios.TCSANOW, raw)
            try:
                while True:
                    chunk = os.read(slave, 4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            termios.tcsetattr(slave, termios.TCSANOW, saved)
        finally:
            fcntl.fcntl(slave, fcntl.F_SETFL, flags)
        emit({"pending": base64.b64encode(data).decode()})


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
