// OAuth 2.0 / OpenID Connect server for the DATEV login tests, built on the npm package
// oidc-provider: PKCE (S256) required, rotating single-use refresh tokens, 900 s access tokens.
// Prints "READY <issuer>" on stdout once listening on 127.0.0.1 (OP_PORT, default: a free port).
import http from 'node:http';
import { Provider } from 'oidc-provider';

const host = '127.0.0.1';
const port = Number(process.env.OP_PORT ?? 0);
const redirectUri = process.env.OP_REDIRECT_URI ?? 'http://127.0.0.1:8765/callback';
const accessTtl = Number(process.env.OP_AT_TTL ?? 900);
const refreshTtl = Number(process.env.OP_RT_TTL ?? 11 * 3600);
const apiScopes = ['datev:accounting:clients', 'datev:accounting:extf-files-import'];
const allScopes = ['openid', 'profile', 'offline_access', ...apiScopes];

function client(id, secret) {
  return {
    client_id: id,
    ...(secret ? { client_secret: secret } : {}),
    token_endpoint_auth_method: secret ? 'client_secret_basic' : 'none',
    application_type: 'native', // loopback redirect on any port (RFC 8252)
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    scope: allScopes.join(' '),
  };
}

const configuration = {
  clients: [client('mlc-public'), client('mlc-confidential', 'test-only-client-secret')],
  scopes: allScopes,
  claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name'] },
  pkce: { required: () => true },
  clockTolerance: 0,
  ttl: {
    AccessToken: accessTtl,
    IdToken: accessTtl,
    AuthorizationCode: 60,
    RefreshToken: refreshTtl,
    Grant: refreshTtl,
    Interaction: 600,
    Session: 3600,
  },
  // Like DATEV: a refresh token whenever the client may refresh, rotated on every use.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  expiresWithSession: async () => false,
  cookies: { keys: ['test-only-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
  },
};

const server = http.createServer();
server.listen(port, host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`READY ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
