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
 * It replaces a shell init plus socat, which spent ~15 ms starting socat and polling for its
 * listener on every run. Built by scripts/build.mjs with the system C compiler, statically.
 *
 * usage: warden-init [--forward PORT SOCKET]... -- COMMAND [ARGS...]
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
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FORWARDS 8
#define MAX_CONNECTIONS 1024
#define BUFFER_SIZE 65536
#define READY_FD 5
#define STDERR_FD 6

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

int main(int argc, char **argv) {
    int i = 1;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (strcmp(argv[i], "--forward") != 0 || i + 2 >= argc || forward_count == MAX_FORWARDS) {
            fprintf(stderr, "usage: warden-init [--forward PORT SOCKET]... -- COMMAND [ARGS...]\n");
            return 125;
        }
        listen_forward(forward_count++, argv[i + 1], argv[i + 2]);
        i += 3;
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "warden-init: no command given\n");
        return 125;
    }
    {
        /* Keep only what this init uses: its ready and stderr pipes, the listeners. */
        int keep[MAX_FORWARDS + 2];
        int n = 0;
        keep[n++] = READY_FD;
        keep[n++] = STDERR_FD;
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

    /* Ready: every listener is bound, so the command's first connection already works. */
    if (fcntl(READY_FD, F_GETFD) >= 0) {
        ssize_t ignored = write(READY_FD, "R", 1);
        (void)ignored;
        close(READY_FD);
    }
    if (fcntl(STDERR_FD, F_GETFD) >= 0) {
        dup2(STDERR_FD, 2);
        close(STDERR_FD);
    }
    execvp(command[0], command);
    int code = errno == ENOENT ? 127 : 126;
    if (errno == ENOENT && strchr(command[0], '/') == NULL) {
        fprintf(stderr, "warden: %s: command not found in the sandbox; bind its directory with filesystem.read_only or give its full path\n", command[0]);
    } else {
        fprintf(stderr, "warden: cannot execute %s: %s\n", command[0], strerror(errno));
    }
    return code;
}
