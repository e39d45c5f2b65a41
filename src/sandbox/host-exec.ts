/**
 * Files in a writable root that make the *host* run code later (SBX-06, SBX-20): git's hooks and
 * config, shell start-up files, hook managers' configs, agent settings that run commands or MCP
 * servers, and IDE/devcontainer configs that run commands when the folder is opened.
 *
 * Each entry has a policy for the case where it did not exist before the run and the sandbox
 * created it. Entries that exist are bound read-only for the run (fs-plan.ts); entries that do
 * not exist are not mounted (a placeholder is what git, `mkdir .claude/commands` and agent CLIs
 * tripped over), so the sandbox can create them, and the post-run check (post-run.ts) judges each
 * new one by its policy before the host's tools see it. docs/threat-model.md gives the reasons.
 */

/** What the post-run check does with a protected entry the sandbox created. */
export type NewEntryPolicy =
  /** Anything there is code, or config of a program that runs commands from it: quarantined. */
  | 'code'
  /** Part of a git directory: judged by the repository check (a plain `git init` is left alone). */
  | 'git'
  /** An MCP client config: quarantined when it defines a server (a command or a URL to call). */
  | 'mcp-servers'
  /** Claude Code settings: quarantined when it holds a key beyond plain data (hooks, env, permissions…). */
  | 'agent-settings';

export interface ProtectedEntry {
  /** Relative to the writable root; a trailing '/' marks a directory. */
  readonly entry: string;
  readonly policy: NewEntryPolicy;
  /** Which host program runs what, when: the reason the entry is protected. */
  readonly why: string;
}

const SHELL_WHY = 'a shell runs it when it starts in this directory (a workspace that is, or holds, a home directory)';
const LEFTHOOK_WHY = "lefthook's git hooks run the commands it lists on the host's next commit";

/**
 * Entries protected under every writable root. The git entries are those of a `.git` directory;
 * a linked worktree's or submodule's git directory elsewhere gets the same entries through
 * `GIT_DIR_ENTRIES` (see fs-plan.ts).
 */
export const PROTECTED_ENTRIES: readonly ProtectedEntry[] = [
  { entry: '.git/hooks/', policy: 'git', why: 'git runs its hooks on commit, checkout, merge, push' },
  { entry: '.git/config', policy: 'git', why: 'git runs commands it names (core.fsmonitor, filters, aliases…)' },
  { entry: '.git/commondir', policy: 'git', why: 'points git at another config and hooks' },
  { entry: '.git/config.worktree', policy: 'git', why: 'extends the config (same keys)' },
  { entry: '.bashrc', policy: 'code', why: SHELL_WHY },
  { entry: '.bash_profile', policy: 'code', why: SHELL_WHY },
  { entry: '.bash_login', policy: 'code', why: SHELL_WHY },
  { entry: '.bash_logout', policy: 'code', why: SHELL_WHY },
  { entry: '.profile', policy: 'code', why: SHELL_WHY },
  { entry: '.zshrc', policy: 'code', why: SHELL_WHY },
  { entry: '.zshenv', policy: 'code', why: SHELL_WHY },
  { entry: '.zprofile', policy: 'code', why: SHELL_WHY },
  { entry: '.zlogin', policy: 'code', why: SHELL_WHY },
  { entry: '.zlogout', policy: 'code', why: SHELL_WHY },
  { entry: '.envrc', policy: 'code', why: 'direnv runs it on cd (once allowed, or under a whitelist)' },
  ...['warden.yaml', 'warden.yml', 'warden.catalog.yaml'].map((entry): ProtectedEntry => ({
    entry,
    policy: 'code',
    why: "warden reads it at the next run: it sets the next agent's sandbox, grants and server pins",
  })),
  {
    entry: '.mcp.json',
    policy: 'mcp-servers',
    why: "Claude Code starts the servers it lists (after the user's approval)",
  },
  {
    entry: '.claude/settings.json',
    policy: 'agent-settings',
    why: 'Claude Code runs its hooks, statusLine and helper commands, and takes its env and permissions',
  },
  {
    entry: '.claude/settings.local.json',
    policy: 'agent-settings',
    why: 'Claude Code runs its hooks, statusLine and helper commands, and takes its env and permissions',
  },
  { entry: '.vscode/', policy: 'code', why: 'VS Code runs tasks on folder open, and settings name programs it runs' },
  { entry: '.cursor/', policy: 'code', why: 'Cursor (VS Code settings and tasks) starts the MCP servers in mcp.json' },
  { entry: '.idea/', policy: 'code', why: 'JetBrains IDEs run startup tasks, file watchers and run configurations' },
  { entry: '.zed/', policy: 'code', why: 'Zed starts the language servers and tasks its settings name' },
  { entry: '.helix/', policy: 'code', why: 'Helix starts the language servers languages.toml names when a file opens' },
  {
    entry: '.devcontainer/',
    policy: 'code',
    why: 'devcontainer tools run initializeCommand on the host, the other *Command keys in the container',
  },
  { entry: '.devcontainer.json', policy: 'code', why: 'as .devcontainer/devcontainer.json' },
  { entry: '.husky/', policy: 'code', why: "husky's hooks (core.hooksPath=.husky/_) run .husky/<hook> on commit" },
  {
    entry: '.pre-commit-config.yaml',
    policy: 'code',
    why: "pre-commit's git hook runs the hooks it lists (local ones are commands in the workspace)",
  },
  ...['lefthook', '.lefthook', 'lefthook-local', '.lefthook-local'].flatMap((base) =>
    ['yml', 'yaml', 'json', 'toml'].map((ext): ProtectedEntry => ({
      entry: `${base}.${ext}`,
      policy: 'code',
      why: LEFTHOOK_WHY,
    })),
  ),
  { entry: '.config/lefthook.yml', policy: 'code', why: LEFTHOOK_WHY },
  { entry: '.config/lefthook.yaml', policy: 'code', why: LEFTHOOK_WHY },
  { entry: '.lefthook/', policy: 'code', why: 'lefthook runs the scripts under .lefthook/<hook>/' },
  { entry: '.lefthook-local/', policy: 'code', why: 'lefthook runs the scripts under .lefthook-local/<hook>/' },
];

/**
 * The entries as paths, '/' marking directories (the list docs/config.md shows). Kept under its
 * old name: it is what the mount plan makes read-only where it exists.
 */
export const MANDATORY_WRITE_DENY: readonly string[] = PROTECTED_ENTRIES.map((e) => e.entry);

/**
 * Entries of a git directory (relative to it) that make git run code or read another config:
 * the same for `<root>/.git`, a linked worktree's common dir and a submodule's git dir.
 * `worktrees/<name>/…` entries are added per existing worktree by the planner.
 */
export const GIT_DIR_ENTRIES: readonly string[] = ['hooks/', 'config', 'commondir', 'config.worktree'];

/** Files of each linked worktree's git directory (`worktrees/<name>/`) that redirect git. */
export const WORKTREE_ENTRIES: readonly string[] = ['commondir', 'gitdir', 'config.worktree'];

/** A protected path that did not exist when the sandbox started, and what to do if it appears. */
export interface AbsentEntry {
  readonly path: string;
  readonly policy: NewEntryPolicy;
}

/**
 * What the post-run check needs to know about a sandbox's protected entries: planned with the
 * mounts, recorded for crash recovery, judged after the run (post-run.ts).
 */
export interface HostExecBaseline {
  /** When the sandbox was planned (ms since the epoch): changes at or after it are the sandbox's. */
  readonly since: number;
  /** Every directory the sandbox could write (absolute, real paths). */
  readonly roots: readonly string[];
  /** Protected paths that existed: bound read-only, so never the sandbox's doing. */
  readonly existing: readonly string[];
  /** Protected paths that did not exist, with the policy for one the sandbox creates. */
  readonly absent: readonly AbsentEntry[];
  /**
   * Git directories whose entries were protected (a root's `.git`, a linked worktree's common
   * dir). A new code-running entry there is quarantined on its own; the user's repository stays.
   */
  readonly gitDirs: readonly string[];
}
