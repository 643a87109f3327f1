// A real OpenID Connect provider for the integration tests (oidc-provider from npm; tests/prerequisites.sh installs
// it into tests/.tools). Started by Support/OidcProvider.cs:
//   node oidc-provider.mjs '{"port":5000,"clientId":"kit","clientSecret":"s3cret","redirectUris":["http://127.0.0.1:8080/cb"]}'
// Tools folder: $KIT_TOOLS (the folder holding node_modules), else tests/.tools next to this script.
// Prints "listening <issuer>" once it answers.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const tools = process.env.KIT_TOOLS ?? fileURLToPath(new URL('../../.tools/', import.meta.url));
// The package is ESM-only and lives outside this script's folder: NODE_PATH does not apply to import, so resolve
// its entry point from the tools folder and import it by file URL.
const entry = createRequire(path.join(tools, 'package.json')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(entry).href);

const config = JSON.parse(process.argv[2] ?? process.env.KIT_OIDC_CONFIG ?? '{}');
const port = Number(config.port); // the fixture picks a free one: the issuer must name it
const issuer = `http://127.0.0.1:${port}`; // exactly this, no trailing slash

// The people who can sign in; any password works (devInteractions' login form).
const accounts = {
  alice: { email: 'alice@corp.example', email_verified: true, name: 'Alice Example', groups: ['engineering'] },
  bob: { email: 'bob@corp.example', email_verified: false, name: 'Bob Example', groups: [] },
  carol: { email: 'carol@corp.example', email_verified: true, name: 'Carol Example', groups: ['license-admins'] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.clientId,
    client_secret: config.clientSecret,
    redirect_uris: config.redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // oidc-provider takes the secret either way, in the form or in a Basic Authorization header, whichever of the
    // two is registered here.
    token_endpoint_auth_method: 'client_secret_post',
  }],
  // Scope -> claims. groups comes with profile (what a relying party asks for anyway) and with its own scope.
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
    groups: ['groups'],
  },
  // Claims of the granted scopes go into the ID token itself, not only to the userinfo endpoint.
  conformIdTokenClaims: false,
  // By default PKCE is only required of public clients; here every authorization request needs it (S256 is the only method).
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account }; } };
  },
  // Built-in pages: login (fields "login" and "password", any password, button "Sign-in"), then consent (button
  // "Continue"); both have a "[ Cancel ]" link, which sends the browser back with error=access_denied.
  features: { devInteractions: { enabled: true } },
  // Cookies are Secure only on https (ctx.secure), so plain http on loopback works as it is; the keys only sign them.
  cookies: { keys: ['kit-integration-tests'] },
  // Errors the provider cannot send back to the relying party: JSON the tests can read, instead of an HTML page.
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// The login and consent pages @import a Google font: drop it, so that a browser without the internet does not wait for it.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.response.is('html') && typeof ctx.body === 'string') ctx.body = ctx.body.replace(/@import url\([^)]*\);?/g, '');
});

// Server errors (a login other than the three above ends in one) go to stderr, which the fixture keeps (Output).
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
