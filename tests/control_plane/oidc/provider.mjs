// A real OpenID Connect provider (npm's certified oidc-provider) for Runyard's SSO tests.
// Loopback only. One confidential client; PKCE required; devInteractions gives plain login and
// consent forms. Any login name works; its groups claim is ["ml-team"] when the name starts with "ml".
// Usage: PORT=... REDIRECT_URI=... CLIENT_SECRET=... node provider.mjs
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'runyard',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  conformIdTokenClaims: false,
  cookies: { keys: ['runyard-test-cookie-key'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id, email: `${id}@sso.test`, email_verified: true, name: id,
          groups: id.startsWith('ml') ? ['ml-team'] : [],
        };
      },
    };
  },
});

provider.listen(port, '127.0.0.1', () => { console.log(`oidc-provider ready at ${issuer}`); });
