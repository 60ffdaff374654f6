import { Agent as HttpsAgent } from 'node:https';
import { Agent as Dispatcher } from 'undici';
import { withSystemRoots } from '../core/ca-bundle.js';

// How the agent reaches the origin over HTTPS: the system's CAs plus, when the origin's certificate comes from a
// private CA, that bundle (agent_ca_file). Every call to the origin — blob HEADs, torrents, announces, the web
// seed, relayed manifests — goes through this one transport, so they all verify the same way.

export interface OriginTransport {
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  /** For node:https requests (the manifest relay); undefined: node's default agent. */
  httpsAgent?: HttpsAgent;
}

export function originTransport(ca?: Buffer): OriginTransport {
  if (!ca) return { fetch: (url, init) => fetch(url, init) };
  const roots = withSystemRoots(ca);
  const dispatcher = new Dispatcher({ connect: { ca: roots } });
  return {
    fetch: (url, init = {}) => fetch(url, { ...init, dispatcher } as RequestInit),
    httpsAgent: new HttpsAgent({ ca: roots, keepAlive: true }),
  };
}
