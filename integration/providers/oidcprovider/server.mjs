// panva's oidc-provider (npm, OpenID-certified) configured the way its documentation recommends, for the provider
// matrix. integration/providers/oidcprovider.go starts it with its configuration as JSON in OIDCPROVIDER_CONFIG:
//
//   { "issuer": "http://127.0.0.1:GATE", "ttl": 5, "resource": "https://api.example.test",
//     "clients": [{ "client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris",
//                   "id_token_signed_response_alg", "backchannel_logout_uri", "backchannel_logout_session_required" }],
//     "user": { "sub", "username", "password", "email", "name" },
//     "keys": ["-----BEGIN PRIVATE KEY-----...", ...] }
//
// It listens on a free loopback port and prints {"listening":"127.0.0.1:PORT"} on stdout once it serves.
// Its signing keys (PKCS #8 PEM: P-256, RSA for PS256/RS256, Ed25519) come from the Go side, which makes them once
// per test process: an RSA key made here at every start cost seconds of CPU on a loaded CI machine. State is in memory.
import { createServer } from 'node:http';
import { createPrivateKey, randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const cfg = JSON.parse(process.env.OIDCPROVIDER_CONFIG || '{}');
for (const key of ['issuer', 'clients', 'user', 'resource', 'keys']) {
  if (!cfg[key]) throw new Error(`OIDCPROVIDER_CONFIG: ${key} is required`);
}
const ttl = (fallback) => (cfg.ttl > 0 ? cfg.ttl : fallback);

function signingKey(pem) {
  const key = createPrivateKey(pem);
  return { ...key.export({ format: 'jwk' }), use: 'sig', kid: `${key.asymmetricKeyType}-${randomBytes(6).toString('hex')}` };
}

const user = cfg.user;
const account = {
  accountId: user.sub,
  // Claims by scope (OIDC Core 5.4); conformIdTokenClaims (the default) keeps them out of the ID token when they
  // were requested by scope, so they come from userinfo only.
  async claims() {
    return { sub: user.sub, email: user.email, email_verified: true, name: user.name };
  },
};

// The clients' registered back-channel logout URIs: oidc-provider's outgoing requests refuse loopback and private
// addresses (SSRF protection), and the plugin under test listens on loopback; only these exact URIs are let through.
const backchannelURIs = new Set(cfg.clients.map((c) => c.backchannel_logout_uri).filter(Boolean));

const configuration = {
  fetch: (url, options) => {
    if (backchannelURIs.has(String(url))) delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  clients: cfg.clients.map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  jwks: {
    keys: cfg.keys.map(signingKey),
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  conformIdTokenClaims: true,
  findAccount: async (_ctx, sub) => (sub === user.sub ? account : undefined),
  // A refresh token for every login of a client allowed the grant (no offline_access + prompt=consent dance),
  // rotated at every use.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: () => ttl(3600),
    IdToken: () => ttl(3600),
    RefreshToken: () => 24 * 3600,
    Interaction: () => 600,
    Session: () => 24 * 3600,
    Grant: () => 24 * 3600,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    // RFC 7662: the plugin introspects the opaque access tokens (those issued without a resource indicator).
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // OpenID Connect Back-Channel Logout 1.0: a logout at the provider POSTs a logout_token to every client of the
    // session that registered a backchannel_logout_uri (the plugin's backchannelLogoutPath).
    backchannelLogout: { enabled: true },
    // RFC 8707: an authorization request with resource=<cfg.resource> gets an RFC 9068 JWT access token for that
    // API (typ at+jwt, client_id, aud = the resource); without one, the access token is opaque and is for userinfo.
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== cfg.resource) throw new errors.InvalidTarget();
        return {
          scope: 'api:read',
          audience: cfg.resource,
          accessTokenTTL: ttl(3600),
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
};

const provider = new Provider(cfg.issuer, configuration);
// Back-channel logout outcomes, for the tests' diagnostics (providers.OIDCProvider.Output).
provider.on('backchannel.success', (_ctx, client) => console.log(`backchannel logout sent to ${client.clientId}`));
provider.on('backchannel.error', (_ctx, err, client) => console.log(`backchannel logout to ${client.clientId} failed: ${err.message}`));

const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;
const escape = (s) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 1 << 16) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

// The minimal interaction of oidc-provider's documentation: a login form that checks the password, and a consent
// form that grants what the client asked for.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  const action = `/interaction/${uid}`;
  if (req.method === 'GET') {
    if (prompt.name === 'login') {
      return send(res, 200, page('Sign in', `<form method="post" action="${action}">
<input type="hidden" name="prompt" value="login">
<input type="text" name="login" autofocus><input type="password" name="password">
<button type="submit">Sign in</button></form>`));
    }
    return send(res, 200, page('Authorize', `<p>${escape(params.client_id)} asks for ${escape(params.scope)}</p>
<form method="post" action="${action}"><input type="hidden" name="prompt" value="consent">
<button type="submit">Continue</button></form>`));
  }
  const form = await readForm(req);
  if (form.get('prompt') !== prompt.name) return send(res, 400, page('Unexpected form', ''));
  if (prompt.name === 'login') {
    if (form.get('login') !== user.username || form.get('password') !== user.password) {
      return send(res, 401, page('Invalid credentials', ''));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = createServer((req, res) => {
  if (!req.url.startsWith('/interaction/')) return callback(req, res);
  return interaction(req, res).catch((err) => {
    console.error(`interaction: ${err.message}`);
    if (!res.headersSent) send(res, 400, page('Interaction failed', ''));
  });
});
server.listen(0, '127.0.0.1', () => {
  const { address, port } = server.address();
  process.stdout.write(`${JSON.stringify({ listening: `${address}:${port}` })}\n`);
});
// State is in memory only: nothing to flush on the way out.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
