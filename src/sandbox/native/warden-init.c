/*
 * warden-init: the first program warden runs inside a sandbox (bwrap's pid 1 starts it; it
 * becomes the command).
 *
 * 1. For each --forward PORT SOCKET it listens on 127.0.0.1:PORT in the sandbox's own network
 *    namespace and relays every connection to the unix socket SOCKET (warden's egress proxy,
 *    outside). One forked relay process serves all connections with epoll, so a connection costs
 *    an accept and a connect, not a process.
 * 2. Because the listeners are bound before anything else runs, the command can connect the
 *    moment it starts: warden-init tells warden "ready" on fd 5, restores the command's stderr
 *    from fd 6 (fd 2 until then is warden's capture of setup messages), and execs the command.
 * 3. Before anything else it closes every descriptor it does not use: whatever warden's own caller
 *    left open without close-on-exec came through the launcher and bwrap, and must reach neither
 *    the command nor the relay (whose descriptors the command could open through /proc).
 *
 * 4. With --pty ROWS COLS it gives the command a terminal of the sandbox's own instead of exec'ing
 *    it directly: it opens a pty from the sandbox's devpts (bwrap's --dev), forks the command as
 *    the leader of a new session whose controlling terminal is the pty's slave, and stays behind
 *    as the relay between the master and its own fds 0/1 (pipes to and from warden, which puts the
 *    user's terminal in raw mode). So the host terminal never enters the sandbox (SBX-23), Ctrl-C
 *    is the byte 0x03 that this pty's line discipline turns into SIGINT for the command's
 *    foreground process group, and job control, isatty() and TIOCGWINSZ work inside. Window size
 *    changes arrive on fd 8 as lines "W ROWS COLS" and are applied with TIOCSWINSZ (the kernel
 *    then sends SIGWINCH); "R" asks for a redraw after warden was suspended. Signals warden sends to this init (SIGTERM, SIGHUP, ...) are passed on
 *    to the command; its exit status becomes this init's (128 + signal when it was killed).
 * 5. With --stderr-to-stdout the command's fd 2 is its fd 1 (or the pty) rather than fd 6: warden
 *    relays both through one pipe when they go to the same place, which keeps their order.
 * 6. Each --rlimit NAME VALUE (warden's fallback when no cgroup holds a limit, see
 *    src/sandbox/limits/) sets that resource limit, soft and hard, before the command starts.
 *    It is set here, inside the sandbox, for RLIMIT_NPROC's sake: the kernel counts processes per
 *    user *and user namespace*, so a limit set in the sandbox's own namespace counts the sandbox's
 *    processes only, not every process of the user on the host.
 *
 * It replaces a shell init plus socat, which spent ~15 ms starting socat and polling for its
 * listener on every run. Built by scripts/build.mjs with the system C compiler, statically.
 *
 * usage: warden-init [--forward PORT SOCKET]... [--pty ROWS COLS] [--stderr-to-stdout]
 *                    [--rlimit data|nproc VALUE]... -- COMMAND [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdint.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define MAX_FORWARDS 8
#define MAX_RLIMITS 4
#define MAX_CONNECTIONS 1024
#define BUFFER_SIZE 65536
#define READY_FD 5
#define STDERR_FD 6
#define CONTROL_FD 8
#define PTY_BUFFER_SIZE 65536

struct forward {
    int listener;
    struct sockaddr_un target;
};

/* One direction of a relayed connection: bytes read from one socket wait in `buf` for the other. */
struct half {
    char buf[BUFFER_SIZE];
    size_t start, end;
    int eof;      /* the sending side reached end of stream */
    int shut;     /* we have passed the end of stream on (shutdown SHUT_WR) */
};

struct connection {
    int fd[2];            /* 0 = client (TCP in the sandbox), 1 = upstream (warden's unix socket) */
    struct half half[2];  /* half[k] carries bytes read from fd[k] to fd[1 - k] */
    int registered[2];    /* fd[k] is in the epoll set */
    int connecting;       /* upstream connect() still in progress */
};

/* epoll user data: which object an event belongs to. */
struct tag {
    int listener; /* 1 for a listening socket */
    int index;    /* forward index, or connection slot */
    int side;     /* 0 client, 1 upstream */
};

static struct forward forwards[MAX_FORWARDS];
static int forward_count;
static struct connection *connections[MAX_CONNECTIONS];
static struct tag tags[MAX_CONNECTIONS][2];
static struct tag listener_tags[MAX_FORWARDS];
static int epoll_fd;

static void die(const char *what) {
    fprintf(stderr, "warden-init: %s: %s\n", what, strerror(errno));
    exit(125);
}

static void close_connection(int i) {
    struct connection *c = connections[i];
    if (c == NULL) return;
    close(c->fd[0]); /* closing also removes the fds from the epoll set */
    close(c->fd[1]);
    free(c);
    connections[i] = NULL;
}

/*
 * Level-triggered interest for one socket: read while its direction has room and no EOF yet,
 * write while the other direction has bytes for it. A socket with neither leaves the epoll set,
 * so a peer that hung up cannot make epoll_wait spin on EPOLLHUP.
 */
static void update_socket(int i, int k) {
    struct connection *c = connections[i];
    uint32_t want = 0;
    if (k == 1 && c->connecting) {
        want = EPOLLOUT;
    } else {
        if (!c->half[k].eof && c->half[k].end < BUFFER_SIZE) want |= EPOLLIN;
        if (c->half[1 - k].end > c->half[1 - k].start) want |= EPOLLOUT;
    }
    struct epoll_event ev = {.events = want, .data.ptr = &tags[i][k]};
    if (want == 0) {
        if (c->registered[k]) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd[k], NULL);
        c->registered[k] = 0;
    } else {
        epoll_ctl(epoll_fd, c->registered[k] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd[k], &ev);
        c->registered[k] = 1;
    }
}

/* Reads from fd[k] into half[k] (if asked) and writes half[k] to fd[1-k]. -1: the connection is dead. */
static int pump(struct connection *c, int k, int do_read) {
    struct half *h = &c->half[k];
    int from = c->fd[k], to = c->fd[1 - k];
    if (do_read && !h->eof && h->end < BUFFER_SIZE) {
        ssize_t n = read(from, h->buf + h->end, BUFFER_SIZE - h->end);
        if (n > 0) h->end += (size_t)n;
        else if (n == 0) h->eof = 1;
        else if (errno != EAGAIN && errno != EINTR) return -1;
    }
    if (k == 0 && c->connecting) return 0; /* upstream not connected yet: keep the bytes */
    while (h->end > h->start) {
        ssize_t n = write(to, h->buf + h->start, h->end - h->start);
        if (n > 0) h->start += (size_t)n;
        else if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        else return -1;
    }
    if (h->start == h->end) h->start = h->end = 0;
    if (h->eof && h->end == 0 && !h->shut) {
        shutdown(to, SHUT_WR);
        h->shut = 1;
    }
    return 0;
}

static void accept_on(int f) {
    for (;;) {
        int client = accept4(forwards[f].listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) return; /* EAGAIN: drained */
        int slot = -1;
        for (int i = 0; i < MAX_CONNECTIONS; i++) {
            if (connections[i] == NULL) { slot = i; break; }
        }
        int upstream = slot < 0 ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct connection *c = upstream < 0 ? NULL : calloc(1, sizeof *c);
        if (c == NULL) {
            /* Out of slots or memory: refuse this one connection, keep serving the others. */
            if (upstream >= 0) close(upstream);
            close(client);
            continue;
        }
        int one = 1;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd[0] = client;
        c->fd[1] = upstream;
        if (connect(upstream, (struct sockaddr *)&forwards[f].target, sizeof forwards[f].target) < 0) {
            if (errno != EINPROGRESS && errno != EAGAIN) {
                /* The proxy is gone: no network (NET-12), so close the client at once. */
                close(upstream);
                close(client);
                free(c);
                continue;
            }
            c->connecting = 1;
        }
        connections[slot] = c;
        tags[slot][0] = (struct tag){0, slot, 0};
        tags[slot][1] = (struct tag){0, slot, 1};
        update_socket(slot, 0);
        update_socket(slot, 1);
    }
}

static void relay_loop(void) {
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(epoll_fd, events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < n; e++) {
            struct tag *t = events[e].data.ptr;
            if (t->listener) {
                accept_on(t->index);
                continue;
            }
            int i = t->index, k = t->side;
            struct connection *c = connections[i];
            if (c == NULL) continue;
            if (k == 1 && c->connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) { close_connection(i); continue; }
                c->connecting = 0;
            }
            int readable = (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
            /* Read what this socket sent; then flush both directions (this socket may be writable). */
            if (pump(c, k, readable) < 0 || pump(c, 1 - k, 0) < 0) {
                close_connection(i);
                continue;
            }
            if (c->half[0].shut && c->half[1].shut) {
                close_connection(i);
                continue;
            }
            update_socket(i, 0);
            update_socket(i, 1);
        }
    }
}

/*
 * Closes every descriptor from 3 up except those in keep[] (ascending). Whatever warden's own
 * caller left open without close-on-exec (a terminal multiplexer's pipe, a CI runner's socket)
 * passes through the launcher and bwrap; it must not reach the command or the relay, whose
 * descriptors the command could open through /proc.
 */
static void close_fd_range(unsigned int from, unsigned int to) {
    if (syscall(SYS_close_range, from, to, 0) == 0) return;
    /* No close_range (Linux < 5.9, or a seccomp profile refusing it): close one by one, up to
       the descriptor limit. Failing to bound that is fatal: never run with unknown descriptors. */
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit");
    unsigned int last = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576 ? 1048576 : (unsigned int)limit.rlim_cur;
    if (to > last) to = last;
    for (unsigned int fd = from; fd <= to && fd < last; fd++) close((int)fd);
}

static void close_stray_fds(const int *keep, int n) {
    unsigned int from = 3;
    for (int k = 0; k < n; k++) {
        if (keep[k] < (int)from) continue;
        if ((unsigned int)keep[k] > from) close_fd_range(from, (unsigned int)keep[k] - 1);
        from = (unsigned int)keep[k] + 1;
    }
    close_fd_range(from, ~0U);
}

static void listen_forward(int f, const char *port_text, const char *socket_path) {
    char *end;
    long port = strtol(port_text, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) { errno = EINVAL; die("bad --forward port"); }
    if (strlen(socket_path) >= sizeof forwards[f].target.sun_path) { errno = ENAMETOOLONG; die("bad --forward socket"); }
    forwards[f].target.sun_family = AF_UNIX;
    strcpy(forwards[f].target.sun_path, socket_path);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind 127.0.0.1");
    if (listen(fd, 511) < 0) die("listen");
    forwards[f].listener = fd;
}

static struct {
    int resource;
    rlim_t value;
} rlimits[MAX_RLIMITS];
static int rlimit_count;

/* Records --rlimit NAME VALUE; applied before the command starts (see apply_rlimits). */
static void add_rlimit(const char *name, const char *value_text) {
    int resource;
    if (strcmp(name, "data") == 0) resource = RLIMIT_DATA;
    else if (strcmp(name, "nproc") == 0) resource = RLIMIT_NPROC;
    else { errno = EINVAL; die("bad --rlimit name (data or nproc)"); }
    char *end;
    errno = 0;
    unsigned long long value = strtoull(value_text, &end, 10);
    if (errno != 0 || *end != '\0' || end == value_text || value_text[0] == '-' || value == 0) {
        errno = EINVAL;
        die("bad --rlimit value");
    }
    rlimits[rlimit_count].resource = resource;
    rlimits[rlimit_count].value = (rlim_t)value;
    rlimit_count++;
}

/* Soft and hard alike: the command cannot raise either (that needs CAP_SYS_RESOURCE on the host). */
static void apply_rlimits(void) {
    for (int r = 0; r < rlimit_count; r++) {
        struct rlimit limit = {.rlim_cur = rlimits[r].value, .rlim_max = rlimits[r].value};
        if (setrlimit(rlimits[r].resource, &limit) < 0) die("setrlimit");
    }
}

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* Execs the command; returns the exit code to use when that fails (127 not found, else 126). */
static int exec_command(char **command) {
    execvp(command[0], command);
    int code = errno == ENOENT ? 127 : 126;
    if (errno == ENOENT && strchr(command[0], '/') == NULL) {
        fprintf(stderr, "warden: %s: command not found in the sandbox; bind its directory with filesystem.read_only or give its full path\n", command[0]);
    } else {
        fprintf(stderr, "warden: cannot execute %s: %s\n", command[0], strerror(errno));
    }
    return code;
}

/* Tells warden that every listener is bound, so the command's first connection already works. */
static void signal_ready(void) {
    if (fcntl(READY_FD, F_GETFD) >= 0) {
        ssize_t ignored = write(READY_FD, "R", 1);
        (void)ignored;
        close(READY_FD);
    }
}

/* Makes fd 6 (the command's real stderr) fd 2; until now fd 2 was warden's capture of setup messages. */
static void restore_stderr(void) {
    if (fcntl(STDERR_FD, F_GETFD) >= 0) {
        dup2(STDERR_FD, 2);
        close(STDERR_FD);
    }
}

/* ---- The sandbox's own terminal (--pty) ---- */

/* Bytes on their way from one descriptor to another. */
struct byte_queue {
    char data[PTY_BUFFER_SIZE];
    size_t start, end;
};

static int queued(const struct byte_queue *q) { return q->end > q->start; }

/* Reads what fits; 0 at end of stream (or EIO: no slave left), -1 on another error, else 1. */
static int fill(int fd, struct byte_queue *q) {
    if (q->end == sizeof q->data && q->start > 0) {
        memmove(q->data, q->data + q->start, q->end - q->start);
        q->end -= q->start;
        q->start = 0;
    }
    if (q->end == sizeof q->data) return 1;
    ssize_t n = read(fd, q->data + q->end, sizeof q->data - q->end);
    if (n > 0) {
        q->end += (size_t)n;
        return 1;
    }
    if (n == 0 || errno == EIO) return 0;
    return errno == EAGAIN || errno == EINTR ? 1 : -1;
}

/* Writes what is queued, as far as the descriptor takes it; -1 when its reader is gone. */
static int drain(int fd, struct byte_queue *q) {
    while (queued(q)) {
        ssize_t n = write(fd, q->data + q->start, q->end - q->start);
        if (n > 0) q->start += (size_t)n;
        else if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        else return -1;
    }
    if (q->start == q->end) q->start = q->end = 0;
    return 0;
}

static void set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

/* Parses "ROWS" or "COLS" (1..65535); 0 when it is not one. */
static unsigned short parse_dimension(const char *text) {
    char *end;
    long value = strtol(text, &end, 10);
    return *end != '\0' || end == text || value < 1 || value > 65535 ? 0 : (unsigned short)value;
}

/*
 * Messages from warden on fd 8: lines "W ROWS COLS" (a window size) and "R" (redraw: SIGWINCH to
 * the pty's foreground process group). Anything else, or a line longer than the buffer, is
 * ignored: warden is the only writer, but the channel is still bounded.
 */
static char control_line[64];
static size_t control_length;
static int control_overlong;

static void apply_control_line(int master) {
    char *rows_text = control_line + 2, *cols_text;
    if (control_length == 1 && control_line[0] == 'R') {
        /* Redraw: warden's terminal was someone else's for a while (warden was suspended). */
        pid_t group = tcgetpgrp(master);
        if (group > 0) kill(-group, SIGWINCH);
        return;
    }
    if (control_length < 5 || control_line[0] != 'W' || control_line[1] != ' ') return;
    cols_text = strchr(rows_text, ' ');
    if (cols_text == NULL) return;
    *cols_text++ = '\0';
    unsigned short rows = parse_dimension(rows_text), cols = parse_dimension(cols_text);
    if (rows == 0 || cols == 0) return;
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    ioctl(master, TIOCSWINSZ, &size); /* the kernel sends SIGWINCH to the foreground process group */
}

/* Reads control messages; returns 0 once the channel is closed. */
static int read_control(int master) {
    char chunk[256];
    ssize_t n = read(CONTROL_FD, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
    if (n <= 0) return 0;
    for (ssize_t k = 0; k < n; k++) {
        if (chunk[k] == '\n') {
            control_line[control_length] = '\0';
            if (!control_overlong) apply_control_line(master);
            control_length = 0;
            control_overlong = 0;
        } else if (control_length + 1 < sizeof control_line) {
            control_line[control_length++] = chunk[k];
        } else {
            control_overlong = 1;
        }
    }
    return 1;
}

/* Opens a pty from the sandbox's own devpts, sized and in UTF-8 mode. */
static void open_pty(int *master_out, int *slave_out, unsigned short rows, unsigned short cols) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) die("open /dev/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) die("unlock the pty");
    /* The slave straight from the master (Linux >= 4.13): no path to look up or race. */
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        unsigned int number;
        char path[32];
        if (ioctl(master, TIOCGPTN, &number) < 0) die("find the pty");
        snprintf(path, sizeof path, "/dev/pts/%u", number);
        slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) die("open the pty");
    }
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    if (ioctl(master, TIOCSWINSZ, &size) < 0) die("set the window size");
    struct termios modes;
    /* Line editing by characters, not bytes, as on a UTF-8 terminal (the sandbox's LANG is UTF-8). */
    if (tcgetattr(slave, &modes) == 0) {
        modes.c_iflag |= IUTF8;
        tcsetattr(slave, TCSANOW, &modes);
    }
    *master_out = master;
    *slave_out = slave;
}

/*
 * Runs the command on the pty and relays until it exits: fd 0 (from warden) → master, master →
 * fd 1 (to warden), window sizes from fd 8. Signals sent to this init are passed on to the
 * command. Returns the command's exit status as a shell reports it.
 */
static int run_on_pty(char **command, int master, int slave, int stderr_on_pty) {
    static const int passed_on[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigset_t watched, previous;
    sigemptyset(&watched);
    sigaddset(&watched, SIGCHLD);
    for (size_t k = 0; k < sizeof passed_on / sizeof passed_on[0]; k++) sigaddset(&watched, passed_on[k]);
    /* Blocked before the fork, so no signal is lost between it and the signalfd. */
    if (sigprocmask(SIG_BLOCK, &watched, &previous) < 0) die("sigprocmask");
    int signals = signalfd(-1, &watched, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signals < 0) die("signalfd");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &previous, NULL);
        /* A session of its own whose controlling terminal is the slave: Ctrl-C, Ctrl-Z and job control work. */
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
            fprintf(stderr, "warden-init: cannot make the pty the controlling terminal: %s\n", strerror(errno));
            _exit(125);
        }
        dup2(slave, 0);
        dup2(slave, 1);
        if (stderr_on_pty) dup2(slave, 2);
        close(slave);
        close(CONTROL_FD);
        _exit(exec_command(command));
    }
    close(slave);
    signal(SIGPIPE, SIG_IGN);
    set_nonblocking(0, 1);
    set_nonblocking(1, 1);
    set_nonblocking(master, 1);
    int control_open = fcntl(CONTROL_FD, F_GETFD) >= 0;
    if (control_open) set_nonblocking(CONTROL_FD, 1);
    struct byte_queue *in = calloc(1, sizeof *in), *out = calloc(1, sizeof *out);
    if (in == NULL || out == NULL) die("calloc");
    int in_open = 1, master_open = 1, out_open = 1, status = 0, exited = 0;
    while (!exited) {
        /* An fd of -1 is skipped: a hung-up descriptor we no longer read must not wake poll. */
        struct pollfd fds[5] = {
            {.fd = in_open && in->end < sizeof in->data ? 0 : -1, .events = POLLIN},
            {.fd = master_open ? master : -1,
             .events = (short)((out->end < sizeof out->data ? POLLIN : 0) | (queued(in) ? POLLOUT : 0))},
            {.fd = out_open && queued(out) ? 1 : -1, .events = POLLOUT},
            {.fd = control_open ? CONTROL_FD : -1, .events = POLLIN},
            {.fd = signals, .events = POLLIN},
        };
        if (poll(fds, 5, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (fds[0].revents != 0 && fill(0, in) <= 0) in_open = 0;
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && fill(master, out) <= 0) master_open = 0;
        if (master_open && queued(in) && drain(master, in) < 0) master_open = 0;
        if (!master_open) in->start = in->end = 0;
        if (out_open && queued(out) && drain(1, out) < 0) out_open = 0;
        if (!out_open) out->start = out->end = 0; /* warden is gone: discard, never block the command */
        if (fds[3].revents != 0) control_open = read_control(master);
        if (fds[4].revents != 0) {
            struct signalfd_siginfo info;
            while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
                if (info.ssi_signo != SIGCHLD) kill(child, (int)info.ssi_signo);
                else if (waitpid(child, &status, WNOHANG) == child) exited = 1;
            }
        }
    }
    /* The command is gone: pass on what it wrote last. Once no process holds the slave, reads
       return the rest and then EIO; a background process still holding it gets 50 ms of quiet. */
    set_nonblocking(1, 0);
    while (master_open) {
        struct pollfd last = {.fd = master, .events = POLLIN};
        if (poll(&last, 1, 50) <= 0) break;
        if (fill(master, out) <= 0) master_open = 0;
        if (out_open && drain(1, out) < 0) out_open = 0;
        if (!out_open) out->start = out->end = 0;
    }
    if (out_open) drain(1, out);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int main(int argc, char **argv) {
    int i = 1, pty = 0, stderr_to_stdout = 0;
    unsigned short pty_rows = 0, pty_cols = 0;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (strcmp(argv[i], "--forward") == 0 && i + 2 < argc && forward_count < MAX_FORWARDS) {
            listen_forward(forward_count++, argv[i + 1], argv[i + 2]);
            i += 3;
        } else if (strcmp(argv[i], "--pty") == 0 && i + 2 < argc && !pty) {
            pty = 1;
            pty_rows = parse_dimension(argv[i + 1]);
            pty_cols = parse_dimension(argv[i + 2]);
            if (pty_rows == 0 || pty_cols == 0) { errno = EINVAL; die("bad --pty size"); }
            i += 3;
        } else if (strcmp(argv[i], "--stderr-to-stdout") == 0) {
            stderr_to_stdout = 1;
            i += 1;
        } else if (strcmp(argv[i], "--rlimit") == 0 && i + 2 < argc && rlimit_count < MAX_RLIMITS) {
            add_rlimit(argv[i + 1], argv[i + 2]);
            i += 3;
        } else {
            fprintf(stderr, "usage: warden-init [--forward PORT SOCKET]... [--pty ROWS COLS] [--stderr-to-stdout] [--rlimit data|nproc VALUE]... -- COMMAND [ARGS...]\n");
            return 125;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "warden-init: no command given\n");
        return 125;
    }
    {
        /* Keep only what this init uses: its ready and stderr pipes, the pty's control channel, the listeners. */
        int keep[MAX_FORWARDS + 3];
        int n = 0;
        keep[n++] = READY_FD;
        keep[n++] = STDERR_FD;
        if (pty) keep[n++] = CONTROL_FD;
        for (int f = 0; f < forward_count; f++) keep[n++] = forwards[f].listener;
        for (int a = 1; a < n; a++)
            for (int b = a; b > 0 && keep[b - 1] > keep[b]; b--) { int t = keep[b]; keep[b] = keep[b - 1]; keep[b - 1] = t; }
        close_stray_fds(keep, n);
    }
    char **command = argv + i + 1;

    if (forward_count > 0) {
        pid_t relay = fork();
        if (relay < 0) die("fork");
        if (relay == 0) {
            /* The relay: dies with the command (and with the sandbox's pid namespace anyway). */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(0);
            int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null_fd >= 0) {
                dup2(null_fd, 0);
                dup2(null_fd, 1);
                dup2(null_fd, 2);
            }
            close(READY_FD);
            close(STDERR_FD);
            close(CONTROL_FD);
            signal(SIGPIPE, SIG_IGN);
            epoll_fd = epoll_create1(EPOLL_CLOEXEC);
            if (epoll_fd < 0) die("epoll_create1");
            for (int f = 0; f < forward_count; f++) {
                listener_tags[f] = (struct tag){1, f, 0};
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener_tags[f]};
                if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, forwards[f].listener, &ev) < 0) die("epoll_ctl");
            }
            relay_loop();
            _exit(0);
        }
        for (int f = 0; f < forward_count; f++) close(forwards[f].listener);
    }

    /* After the relay's fork (the relay is warden's; the limits are the command's), before "ready":
       a limit that cannot be set fails the sandbox's setup, not the command. With a pty, this init
       stays as the terminal's relay under the same limits; it forks once, for the command. */
    apply_rlimits();

    if (pty) {
        int master, slave;
        open_pty(&master, &slave, pty_rows, pty_cols);
        signal_ready();
        restore_stderr();
        return run_on_pty(command, master, slave, stderr_to_stdout);
    }
    signal_ready();
    if (stderr_to_stdout) {
        dup2(1, 2);
        close(STDERR_FD);
    } else {
        restore_stderr();
    }
    return exec_command(command);
}
