/*
 * warden-idmap: the one step of a sandbox's launch that runs as root. Warden runs it (as root)
 * only when it is root and a writable root of the sandbox (the workspace, a profile's writable
 * directory, a read-write MCP server's workspace) belongs to someone other than the sandbox user.
 *
 * 1. It enters a private mount namespace (slave of the host's: nothing it mounts reaches the host).
 * 2. For each ROOT it clones the mount tree at ROOT (open_tree OPEN_TREE_CLONE|AT_RECURSIVE) and,
 *    when ROOT's owner is not the sandbox user, makes the clone's top mount an idmapped mount
 *    (mount_setattr MOUNT_ATTR_IDMAP) through a user namespace that maps ROOT's owner uid/gid to
 *    the sandbox user's: on that mount the sandbox user acts as the owner, and what it creates is
 *    owned by the owner on disk. Files of any other uid show as the overflow id (nobody) there.
 *    Submounts below ROOT come along unmapped (they keep what they hid; the sandbox user is itself
 *    in them, as without this helper).
 * 3. It attaches clone i at STAGE/i (an empty directory warden made in the run's directory, which the
 *    sandbox user can reach even when ROOT lies under an unreachable /root); bwrap binds it from there.
 * 4. It drops to the sandbox user for good (setgroups, setresgid, setresuid; no capability survives,
 *    checked) and execs PROGRAM (the launcher), which joins the cgroups and becomes bwrap.
 *
 * Where the kernel or the filesystem refuses an idmapped mount (EINVAL, EPERM, ENOSYS, EOPNOTSUPP:
 * old kernels, some network filesystems) the clone is attached unmapped, a line on stderr says why,
 * and the launcher's writable check decides (warden turns that into WORKSPACE_INVALID with a fix).
 *
 * Every path is opened with RESOLVE_NO_SYMLINKS: the run plan resolved symlinks already, so one
 * found now was put there since (by an earlier run's agent, say) and is refused. Mounts are made
 * from and onto descriptors, never re-resolved paths; each staging directory must be root's and
 * closed to others. Nothing of the sandbox runs before this helper has exec'd the launcher.
 *
 * usage: warden-idmap UID GID STAGE ROOT... -- PROGRAM [ARGS...]
 *        warden-idmap --probe DIR   (exit 0 when DIR's filesystem takes an idmapped mount; nothing
 *                                    is attached anywhere: the clone is dropped when it closes)
 * Errors: "E idmap-<what> PATH[: detail]" on fd 5 (warden's status pipe) or stderr, exit 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>

/* Kernel ABI (include/uapi/linux/mount.h, openat2.h) for C libraries older than glibc 2.36. */
#ifndef MOUNT_ATTR_IDMAP
struct mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
#define MOUNT_ATTR_IDMAP 0x00100000
#define OPEN_TREE_CLONE 1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct warden_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
#define WARDEN_RESOLVE_NO_MAGICLINKS 0x02
#define WARDEN_RESOLVE_NO_SYMLINKS 0x04

#define STATUS_FD 5
#define MAX_ROOTS 64
#define EXIT_SETUP 125

struct root {
    const char *path;
    int src;        /* O_PATH descriptor of ROOT, opened before anything was mounted */
    struct stat st; /* owner, device and inode of ROOT on disk */
};

/* User namespaces made so far, one per distinct owner (uid, gid) pair. */
struct userns {
    uid_t uid;
    gid_t gid;
    int fd;
};

static struct root roots[MAX_ROOTS];
static struct userns namespaces[MAX_ROOTS];
static int namespace_count;
/* The children that held each user namespace while its maps were written; reaped before the exec. */
static pid_t holders[MAX_ROOTS];
static int holder_count;
static int status_fd = -1;

/* One line to warden: on the status pipe when it is open (warden's protocol), else stderr. */
static void report(const char *what, const char *path, const char *detail) {
    int fd = status_fd >= 0 ? status_fd : 2;
    dprintf(fd, "E idmap-%s %s%s%s\n", what, path, detail == NULL ? "" : ": ", detail == NULL ? "" : detail);
}

static void fail(const char *what, const char *path, const char *detail) {
    report(what, path, detail);
    exit(EXIT_SETUP);
}

static void fail_errno(const char *what, const char *path) {
    fail(what, path, strerror(errno));
}

static int parse_id(const char *text, unsigned long *out) {
    if (*text < '0' || *text > '9' || strlen(text) > 10) return -1;
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    /* 0 is root and (uint32_t)-1 is "no id": neither may be the sandbox's identity. */
    if (errno != 0 || *end != '\0' || value == 0 || value >= 0xffffffffUL) return -1;
    *out = value;
    return 0;
}

/* Absolute, normalised (no empty, '.' or '..' component, no trailing '/'), bounded. */
static int valid_path(const char *path) {
    size_t len = strlen(path);
    if (len < 2 || len >= PATH_MAX || path[0] != '/' || path[len - 1] == '/') return 0;
    const char *p = path;
    while (*p == '/') {
        const char *next = strchr(p + 1, '/');
        size_t part = next == NULL ? strlen(p + 1) : (size_t)(next - p - 1);
        if (part == 0 || (part == 1 && p[1] == '.') || (part == 2 && p[1] == '.' && p[2] == '.')) return 0;
        if (next == NULL) break;
        p = next;
    }
    return 1;
}

/*
 * Opens PATH as an O_PATH directory without following any symlink on the way, the last component
 * included (ELOOP). Not O_NOFOLLOW: with O_PATH it would open a trailing symlink itself.
 */
static int open_dir(const char *path) {
    struct warden_open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = WARDEN_RESOLVE_NO_SYMLINKS | WARDEN_RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

/* Opens a writable root (see open_dir) and reads its owner; a symlink on its path is refused. */
static int open_root(const char *path, struct stat *st) {
    int fd = open_dir(path);
    if (fd < 0) {
        if (errno == ELOOP) fail("symlink", path, "a component is a symlink (it was not when the run was planned)");
        fail_errno("open", path);
    }
    if (fstat(fd, st) != 0) fail_errno("open", path);
    return fd;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * A user namespace whose only ids are: OWNER_UID inside = SANDBOX_UID outside, and the same for
 * gids. As an idmapped mount's namespace it shows on-disk OWNER as the sandbox user and stores the
 * sandbox user's new files as OWNER (the gid must map too, or creating a file fails: EOVERFLOW).
 * The kernel needs a process to own the namespace while its maps are written: a child born in it
 * (clone with CLONE_NEWUSER, so nothing waits for the child to run) that blocks until its pipe
 * closes and exits. It is reaped later (reap_holders), after the mount work.
 */
static int make_userns(uid_t owner_uid, gid_t owner_gid, uid_t uid, gid_t gid) {
    for (int i = 0; i < namespace_count; i++)
        if (namespaces[i].uid == owner_uid && namespaces[i].gid == owner_gid) return namespaces[i].fd;
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) != 0) return -1;
    /* Raw clone without CLONE_VM is a fork; the child makes only raw syscalls (read, _exit). */
    pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (child < 0) {
        int saved = errno;
        close(hold[0]);
        close(hold[1]);
        errno = saved;
        return -1;
    }
    if (child == 0) {
        char byte;
        syscall(SYS_close, hold[1]); /* or its own copy would keep the pipe open forever */
        while (syscall(SYS_read, hold[0], &byte, 1) < 0 && errno == EINTR) {
        }
        syscall(SYS_exit_group, 0);
    }
    close(hold[0]);
    holders[holder_count++] = child;
    char path[64], map[64];
    int fd = -1;
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)owner_uid, (unsigned)uid);
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
    if (write_file(path, map) == 0) {
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)owner_gid, (unsigned)gid);
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
        if (write_file(path, map) == 0) {
            snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
    }
    int saved = errno;
    close(hold[1]); /* the holder may go: the descriptor keeps the namespace */
    if (fd < 0) {
        errno = saved;
        return -1;
    }
    namespaces[namespace_count++] = (struct userns){owner_uid, owner_gid, fd};
    return fd;
}

/* The errno names warden's error message shows for the refusals below. */
static const char *errno_name(int err) {
    switch (err) {
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "error";
    }
}

/* Reaps the namespace holders: no zombie child may reach the launcher (and bwrap after it). */
static void reap_holders(void) {
    for (int i = 0; i < holder_count; i++)
        while (waitpid(holders[i], NULL, 0) < 0 && errno == EINTR) {
        }
    holder_count = 0;
}

/* Errors that mean "this kernel or filesystem has no idmapped mounts", as opposed to a bad path. */
static int unsupported(int err) {
    return err == EINVAL || err == EPERM || err == ENOSYS || err == EOPNOTSUPP;
}

/* Clone of the tree at `src` (a detached mount); idmapped to `owner` unless that is the sandbox user. */
static int clone_root(struct root *r, uid_t uid, gid_t gid) {
    int tree = (int)syscall(SYS_open_tree, r->src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree < 0) {
        if (unsupported(errno)) {
            fprintf(stderr, "warden-idmap: cannot clone the mount of %s: %s\n", r->path, strerror(errno));
            return -1;
        }
        fail_errno("clone", r->path);
    }
    /* The sandbox never gains from a setuid bit or a device node here (bwrap's binds are nosuid,nodev too). */
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (r->st.st_uid != uid) {
        int ns = make_userns(r->st.st_uid, r->st.st_gid, uid, gid); /* made before the unshare: found */
        if (ns < 0) fail_errno("userns", r->path);
        attr.attr_set |= MOUNT_ATTR_IDMAP;
        attr.userns_fd = (uint64_t)ns;
    }
    /* Top mount only: submounts keep their own ids (AT_RECURSIVE here would fail on any that cannot be idmapped). */
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
        if (!unsupported(errno)) fail_errno("setattr", r->path);
        /* Fallback: unmapped. The launcher's check then says whether the sandbox user can write it anyway. */
        int err = errno;
        fprintf(stderr, "warden-idmap: the kernel refused an idmapped mount of %s (owner uid %u): %s %s\n", r->path,
                (unsigned)r->st.st_uid, errno_name(err), strerror(err));
        attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        attr.userns_fd = 0;
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0 && !unsupported(errno))
            fail_errno("setattr", r->path);
    }
    return tree;
}

/* Attaches `tree` at STAGE/INDEX, which must be an empty-looking, root-owned directory closed to others. */
static void attach(int tree, const char *stage, int index, const char *root_path) {
    char target[PATH_MAX];
    if (snprintf(target, sizeof target, "%s/%d", stage, index) >= (int)sizeof target) fail("stage", stage, "path too long");
    int fd = open_dir(target);
    if (fd < 0) fail_errno("stage", target);
    struct stat st;
    if (fstat(fd, &st) != 0) fail_errno("stage", target);
    if (st.st_uid != 0 || (st.st_mode & 022) != 0) fail("stage", target, "not a directory of root's closed to others");
    if (syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        fail_errno("attach", root_path);
    close(fd);
}

/* No capability of any kind may reach the launcher (bwrap gets its own, in its own namespace only). */
static void check_no_capabilities(void) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) fail_errno("drop", "capget");
    for (int i = 0; i < 2; i++)
        if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0) fail("drop", "capabilities", "still held");
}

static void drop_to(uid_t uid, gid_t gid) {
    if (setgroups(0, NULL) != 0) fail_errno("drop", "setgroups");
    if (setresgid(gid, gid, gid) != 0) fail_errno("drop", "setresgid");
    if (setresuid(uid, uid, uid) != 0) fail_errno("drop", "setresuid");
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0) fail_errno("drop", "getresuid");
    if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid) fail("drop", "ids", "not all changed");
    /* A process that could become root again has not dropped anything. */
    if (setresuid(0, 0, 0) == 0) fail("drop", "ids", "root regained");
    check_no_capabilities();
}

/* --probe DIR: can DIR's filesystem carry an idmapped mount here? The detached clone dies on exit. */
static int probe(const char *dir) {
    if (!valid_path(dir)) fail("usage", dir, "not an absolute, normalised path");
    struct root r = {.path = dir};
    r.src = open_dir(dir);
    if (r.src < 0) fail_errno("open", dir);
    if (fstat(r.src, &r.st) != 0) fail_errno("open", dir);
    int tree = (int)syscall(SYS_open_tree, r.src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) {
        printf("unsupported open_tree %s\n", strerror(errno));
        return 1;
    }
    /* Any map will do; the uid must differ from the owner's for the namespace to be a real mapping. */
    uid_t target = r.st.st_uid == 65534 ? 65533 : 65534;
    int ns = make_userns(r.st.st_uid, r.st.st_gid, target, target);
    if (ns < 0) {
        printf("unsupported userns %s\n", strerror(errno));
        return 1;
    }
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
    int set = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
    int err = errno;
    reap_holders();
    if (set != 0) {
        printf("unsupported mount_setattr %s\n", strerror(err));
        return 1;
    }
    printf("ok\n");
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: warden-idmap UID GID STAGE ROOT... -- PROGRAM [ARGS...]\n       warden-idmap --probe DIR\n");
    exit(EXIT_SETUP);
}

int main(int argc, char **argv) {
    if (fcntl(STATUS_FD, F_GETFD) >= 0) status_fd = STATUS_FD;
    if (geteuid() != 0) fail("usage", "-", "runs as root only (warden starts it when it is root)");
    if (argc == 3 && strcmp(argv[1], "--probe") == 0) return probe(argv[2]);
    if (argc < 7) usage();

    unsigned long uid_value, gid_value;
    if (parse_id(argv[1], &uid_value) != 0 || parse_id(argv[2], &gid_value) != 0) fail("usage", argv[1], "bad UID or GID");
    uid_t uid = (uid_t)uid_value;
    gid_t gid = (gid_t)gid_value;
    const char *stage = argv[3];
    if (!valid_path(stage)) fail("usage", stage, "STAGE is not an absolute, normalised path");
    int count = 0, i = 4;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (count == MAX_ROOTS) fail("usage", argv[i], "too many roots");
        if (!valid_path(argv[i])) fail("usage", argv[i], "not an absolute, normalised path");
        roots[count++].path = argv[i];
    }
    if (count == 0 || i + 1 >= argc || argv[i + 1][0] != '/') usage();
    char **program = argv + i + 1;

    /*
     * Each root's owner first, in the host's mount namespace, and its user namespace: the holder
     * child then runs (and exits) while the mounts below are made, instead of before them.
     */
    for (int r = 0; r < count; r++) {
        int fd = open_root(roots[r].path, &roots[r].st);
        close(fd);
        if (roots[r].st.st_uid != uid && make_userns(roots[r].st.st_uid, roots[r].st.st_gid, uid, gid) < 0)
            fail_errno("userns", roots[r].path);
    }

    /* A private copy of the mount table, slave to the host's: host unmounts still reach it, our mounts never leave it. */
    if (unshare(CLONE_NEWNS) != 0) fail_errno("unshare", "mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) fail_errno("unshare", "make / a slave");

    /* Open again, in this namespace (a clone's source must be one of its mounts); it must be the same directory, same owner. */
    for (int r = 0; r < count; r++) {
        struct stat again;
        roots[r].src = open_root(roots[r].path, &again);
        if (again.st_dev != roots[r].st.st_dev || again.st_ino != roots[r].st.st_ino ||
            again.st_uid != roots[r].st.st_uid || again.st_gid != roots[r].st.st_gid)
            fail("changed", roots[r].path, "it changed while warden started");
    }
    for (int r = 0; r < count; r++) {
        int tree = clone_root(&roots[r], uid, gid);
        if (tree < 0) {
            /* No mount API at all: the staging directory stays empty, which would hide ROOT. Refuse. */
            fail("unsupported", roots[r].path, "this kernel cannot clone mounts (Linux 5.2 or newer is needed)");
        }
        attach(tree, stage, r, roots[r].path);
        close(tree);
        close(roots[r].src);
    }
    for (int n = 0; n < namespace_count; n++) close(namespaces[n].fd);
    reap_holders();

    drop_to(uid, gid);
    execv(program[0], program);
    fail_errno("exec", program[0]);
    return EXIT_SETUP;
}
