/**
 * Who started a run, for `run.started` (issue 11: every run is an identity): the local user
 * (uid and login, and who sudo'ed to it), and, in CI, the CI system and its run, repository and
 * actor as the system's own environment names them. Values are bounded and printable: they come
 * from the environment of whoever launched warden.
 */
import { userInfo } from 'node:os';
import type { StartedBy } from '../core/events.js';

/** The CI systems recognised, each by the variable it sets, and where it keeps run, repository and actor. */
const CI_SYSTEMS: readonly {
  readonly system: string;
  readonly when: (env: NodeJS.ProcessEnv) => boolean;
  readonly run: readonly string[];
  readonly repository: readonly string[];
  readonly actor: readonly string[];
}[] = [
  {
    system: 'github-actions',
    when: (env) => env.GITHUB_ACTIONS === 'true',
    run: ['GITHUB_RUN_ID'],
    repository: ['GITHUB_REPOSITORY'],
    actor: ['GITHUB_ACTOR'],
  },
  {
    system: 'gitlab-ci',
    when: (env) => env.GITLAB_CI === 'true',
    run: ['CI_PIPELINE_ID'],
    repository: ['CI_PROJECT_PATH'],
    actor: ['GITLAB_USER_LOGIN'],
  },
  {
    system: 'circleci',
    when: (env) => env.CIRCLECI === 'true',
    run: ['CIRCLE_WORKFLOW_ID', 'CIRCLE_BUILD_NUM'],
    repository: ['CIRCLE_PROJECT_REPONAME'],
    actor: ['CIRCLE_USERNAME'],
  },
  {
    system: 'buildkite',
    when: (env) => env.BUILDKITE === 'true',
    run: ['BUILDKITE_BUILD_ID'],
    repository: ['BUILDKITE_PIPELINE_SLUG'],
    actor: ['BUILDKITE_BUILD_CREATOR'],
  },
  {
    system: 'jenkins',
    when: (env) => (env.JENKINS_URL ?? '') !== '',
    run: ['BUILD_TAG'],
    repository: ['JOB_NAME'],
    actor: ['BUILD_USER_ID'],
  },
  { system: 'ci', when: (env) => env.CI === 'true' || env.CI === '1', run: [], repository: [], actor: [] },
];

export function startedBy(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): StartedBy {
  let login: string | null = null;
  try {
    login = bounded(userInfo().username);
  } catch {
    // a uid without a passwd entry (containers): the uid alone says who
  }
  const sudo = bounded(env.SUDO_USER);
  const ci = CI_SYSTEMS.find((c) => c.when(env));
  return {
    uid,
    user: login,
    ...(sudo !== null && sudo !== login ? { sudo_user: sudo } : {}),
    ...(ci === undefined
      ? {}
      : {
          ci: {
            system: ci.system,
            ...optional('run', first(env, ci.run)),
            ...optional('repository', first(env, ci.repository)),
            ...optional('actor', first(env, ci.actor)),
          },
        }),
  };
}

/** The user as the pin records and audit records of `warden tools approve` name them. */
export function describeStartedBy(who: StartedBy): string {
  const user = who.user ?? `uid ${who.uid}`;
  return who.sudo_user === undefined ? user : `${user} (sudo by ${who.sudo_user})`;
}

function first(env: NodeJS.ProcessEnv, names: readonly string[]): string | null {
  for (const name of names) {
    const value = bounded(env[name]);
    if (value !== null) return value;
  }
  return null;
}

function optional<K extends string>(key: K, value: string | null): Partial<Record<K, string>> {
  return value === null ? {} : ({ [key]: value } as Record<K, string>);
}

/** A value of at most 128 printable ASCII characters, or null. */
function bounded(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  const clean = value.replace(/[^\x20-\x7e]/g, '?').slice(0, 128);
  return clean;
}
