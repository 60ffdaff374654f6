// The token service distribution uses in the bench's token-auth rows: distribution 2.8 (`auth: token`) verifies
// Bearer JWTs against a root certificate bundle and issues none itself. This one runs inside the bench process:
// an RSA key with a self-signed certificate (openssl), RS256 tokens carrying the certificate in `x5c`, and a realm
// that grants every action asked for to anyone (the bench measures verification cost, not policy).
import { X509Certificate, createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { freePort, runCommand } from './processes.js';

export const tokenService = 'bench-registry';
export const tokenIssuerName = 'bench-token-issuer';

export interface TokenIssuer {
  /** The realm URL distribution's WWW-Authenticate names. */
  realm: string;
  /** The certificate bundle (PEM) distribution's rootcertbundle points at. */
  certFile: string;
  /** A token for `actions` on each repository, valid for a day. */
  sign(repositories: string[], actions: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function startTokenIssuer(dir: string): Promise<TokenIssuer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  await runCommand('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=bench-token-issuer', '-days', '3', '-keyout', keyFile, '-out', certFile]);
  const key: KeyObject = createPrivateKey(await readFile(keyFile));
  const x5c = [new X509Certificate(await readFile(certFile)).raw.toString('base64')];

  const sign = (access: { type: string; name: string; actions: string[] }[]) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5c })
      .setIssuer(tokenIssuerName)
      .setAudience(tokenService)
      .setSubject('bench')
      .setIssuedAt(now)
      .setNotBefore(now - 60)
      .setExpirationTime(now + 24 * 3600)
      .setJti(randomUUID())
      .sign(key);
  };

  const port = await freePort();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // scope=repository:<name>:<actions>, possibly several
    const access = url.searchParams.getAll('scope').flatMap((s) => {
      const m = /^repository:(.+):([a-z,*]+)$/.exec(s);
      return m ? [{ type: 'repository', name: m[1]!, actions: m[2]!.split(',') }] : [];
    });
    void sign(access).then((token) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 24 * 3600, issued_at: new Date().toISOString() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certFile,
    sign: (repositories, actions) => sign(repositories.map((name) => ({ type: 'repository', name, actions }))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
