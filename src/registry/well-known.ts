/**
 * Package names that count as catalog names for the typosquat check even when no catalog lists
 * them: the official MCP servers and SDK published by the Model Context Protocol project on npm.
 * A name one typo away from one of these is far more likely an impostor than a new project.
 */
export const WELL_KNOWN_PACKAGES: readonly string[] = [
  '@modelcontextprotocol/sdk',
  '@modelcontextprotocol/inspector',
  '@modelcontextprotocol/create-server',
  '@modelcontextprotocol/server-everything',
  '@modelcontextprotocol/server-filesystem',
  '@modelcontextprotocol/server-memory',
  '@modelcontextprotocol/server-sequential-thinking',
  '@modelcontextprotocol/server-github',
  '@modelcontextprotocol/server-gitlab',
  '@modelcontextprotocol/server-google-maps',
  '@modelcontextprotocol/server-postgres',
  '@modelcontextprotocol/server-puppeteer',
  '@modelcontextprotocol/server-redis',
  '@modelcontextprotocol/server-slack',
  '@modelcontextprotocol/server-brave-search',
  '@modelcontextprotocol/server-gdrive',
  '@modelcontextprotocol/server-everart',
  '@modelcontextprotocol/server-aws-kb-retrieval',
  '@modelcontextprotocol/server-sentry',
  '@modelcontextprotocol/server-sqlite',
];
