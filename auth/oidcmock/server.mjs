// Starts oauth2-mock-server (the npm package at $KILN_OAUTH2_MOCK_MODULE)
// on 127.0.0.1 with one RS256 key, shaped like Cognito: access tokens carry
// client_id, token_use and cognito:groups; ID tokens carry email. A second
// HTTP port controls it: POST /user sets who logs in next, POST /token
// builds an access token with overrides. Prints one JSON line with both URLs.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const mod = await import(pathToFileURL(path.join(process.env.KILN_OAUTH2_MOCK_MODULE, 'dist', 'index.mjs')).href);
const server = new mod.OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(0, '127.0.0.1');

let user = { sub: 'johndoe', email: 'john@example.com', email_verified: true, groups: [] };
const clientOf = (req) => {
  const h = req.headers.authorization || '';
  if (h.startsWith('Basic ')) return decodeURIComponent(Buffer.from(h.slice(6), 'base64').toString().split(':')[0]);
  return req.body && req.body.client_id;
};

server.service.on('beforeTokenSigning', (token, req) => {
  const p = token.payload;
  p.sub = user.sub;
  p['cognito:groups'] = user.groups;
  if ('scope' in p) { // the access token
    p.client_id = clientOf(req);
    p.token_use = 'access';
    p.username = user.sub;
  } else {            // the ID token
    p.email = user.email;
    p.email_verified = user.email_verified;
    p.token_use = 'id';
  }
});
server.service.on('beforeUserinfo', (resp) => {
  resp.body = { sub: user.sub, email: user.email, email_verified: String(user.email_verified) };
});

const body = (req) => new Promise((resolve, reject) => {
  let s = '';
  req.on('data', (c) => { s += c; });
  req.on('end', () => { try { resolve(s ? JSON.parse(s) : {}); } catch (e) { reject(e); } });
});

const control = http.createServer(async (req, res) => {
  try {
    const b = await body(req);
    if (req.method === 'POST' && req.url === '/user') {
      user = { sub: b.sub, email: b.email ?? '', email_verified: !!b.email_verified, groups: b.groups ?? [] };
      res.writeHead(204).end();
    } else if (req.method === 'POST' && req.url === '/token') {
      // An access token as the provider would issue it to client b.client_id,
      // with b.claims merged in (null deletes) and b.header merged into the header.
      const tok = await server.issuer.buildToken({
        expiresIn: 3600,
        scopesOrTransform: (header, payload) => {
          Object.assign(payload, { sub: user.sub, client_id: b.client_id, token_use: 'access', scope: 'openid email',
            'cognito:groups': user.groups, username: user.sub });
          for (const [k, v] of Object.entries(b.claims || {})) { if (v === null) delete payload[k]; else payload[k] = v; }
          Object.assign(header, b.header || {});
        },
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(tok);
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});
control.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer: server.issuer.url, control: `http://127.0.0.1:${control.address().port}` }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
