// A protocol-faithful stand-in for HashiCorp Vault's KV secrets engine, version 2, written from
// Vault's documented HTTP API (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2 and
// https://developer.hashicorp.com/vault/api-docs#http-status-codes), for tests only: no Vault or
// OpenBao server package can be installed here. It is NOT Vault: one in-memory engine, static
// tokens, no leases, policies reduced to read-only vs read-write tokens.
//
// What it implements, as documented:
//   GET    /v1/:mount/data/:path[?version=N]  -> 200 {data:{data:{...}, metadata:{created_time,
//          custom_metadata:null, deletion_time:"", destroyed:false, version}}} | 404 {errors:[]}
//   POST   /v1/:mount/data/:path  {data:{...}, options?:{cas:N}} -> 200 {data:{created_time, ..., version}}
//          (cas mismatch -> 400 {errors:["check-and-set parameter did not match the current version"]})
//   GET    /v1/:mount/metadata/:path?list=true (the documented form of LIST; Node's HTTP parser
//          does not accept the LIST verb itself) -> 200 {data:{keys:[...]}} | 404 {errors:[]}
//   GET    /v1/:mount/metadata/:path -> 200 {data:{current_version, created_time, updated_time, versions:{…}}}
//   DELETE /v1/:mount/metadata/:path -> 204 (every version and the metadata)
//   A missing or unknown X-Vault-Token -> 403 {errors:["permission denied"]}, as Vault answers.
//   An unknown mount -> 404 {errors:["no handler for route \"…\". route entry not found."]}
// Every response carries the envelope fields Vault sends (request_id, lease_id, renewable,
// lease_duration, wrap_info, warnings, auth).
//
// usage: node vault-kv2-server.mjs PORT MOUNT RW_TOKEN RO_TOKEN   (prints "listening PORT")
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';

const [portArg, mount, rwToken, roToken] = process.argv.slice(2);
/** path -> { versions: [{data, created_time}], current_version, created_time, updated_time } */
const secrets = new Map();

function envelope(data) {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
  };
}

function send(res, status, body) {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (d) => (body += d));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://vault');
    const token = req.headers['x-vault-token'];
    if (token !== rwToken && token !== roToken) return send(res, 403, { errors: ['permission denied'] });
    const prefix = `/v1/${mount}/`;
    if (!url.pathname.startsWith(prefix))
      return send(res, 404, { errors: [`no handler for route "${url.pathname.slice(4)}". route entry not found.`] });
    const rest = url.pathname.slice(prefix.length);
    const [kind, ...parts] = rest.split('/');
    const path = parts.join('/');
    const method = req.method === 'GET' && url.searchParams.get('list') === 'true' ? 'LIST' : req.method;
    const writes = method === 'POST' || method === 'PUT' || method === 'DELETE';
    if (writes && token !== rwToken) return send(res, 403, { errors: ['permission denied'] });
    const now = new Date().toISOString();
    if (kind === 'data' && method === 'GET') {
      const entry = secrets.get(path);
      const wanted = Number(url.searchParams.get('version') ?? 0) || entry?.current_version;
      const version = entry?.versions[wanted - 1];
      if (version === undefined) return send(res, 404, { errors: [] });
      return send(
        res,
        200,
        envelope({
          data: version.data,
          metadata: {
            created_time: version.created_time,
            custom_metadata: null,
            deletion_time: '',
            destroyed: false,
            version: wanted,
          },
        }),
      );
    }
    if (kind === 'data' && (method === 'POST' || method === 'PUT')) {
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        return send(res, 400, { errors: ['failed to parse JSON input'] });
      }
      if (typeof parsed?.data !== 'object' || parsed.data === null)
        return send(res, 400, { errors: ['no data provided'] });
      const entry = secrets.get(path) ?? { versions: [], current_version: 0, created_time: now, updated_time: now };
      const cas = parsed.options?.cas;
      if (cas !== undefined && cas !== entry.current_version)
        return send(res, 400, { errors: ['check-and-set parameter did not match the current version'] });
      entry.versions.push({ data: parsed.data, created_time: now });
      entry.current_version = entry.versions.length;
      entry.updated_time = now;
      secrets.set(path, entry);
      return send(
        res,
        200,
        envelope({
          created_time: now,
          custom_metadata: null,
          deletion_time: '',
          destroyed: false,
          version: entry.current_version,
        }),
      );
    }
    if (kind === 'metadata' && method === 'LIST') {
      const dir = path === '' || path.endsWith('/') ? path : `${path}/`;
      const keys = new Set();
      for (const name of secrets.keys()) {
        if (!name.startsWith(dir)) continue;
        const tail = name.slice(dir.length);
        const slash = tail.indexOf('/');
        keys.add(slash < 0 ? tail : tail.slice(0, slash + 1));
      }
      if (keys.size === 0) return send(res, 404, { errors: [] });
      return send(res, 200, envelope({ keys: [...keys].sort() }));
    }
    if (kind === 'metadata' && method === 'GET') {
      const entry = secrets.get(path);
      if (entry === undefined) return send(res, 404, { errors: [] });
      const versions = Object.fromEntries(
        entry.versions.map((v, i) => [
          String(i + 1),
          { created_time: v.created_time, deletion_time: '', destroyed: false },
        ]),
      );
      return send(
        res,
        200,
        envelope({
          cas_required: false,
          created_time: entry.created_time,
          current_version: entry.current_version,
          custom_metadata: null,
          delete_version_after: '0s',
          max_versions: 0,
          oldest_version: 1,
          updated_time: entry.updated_time,
          versions,
        }),
      );
    }
    if (kind === 'metadata' && method === 'DELETE') {
      secrets.delete(path);
      return send(res, 204);
    }
    return send(res, 405, { errors: [] });
  });
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
