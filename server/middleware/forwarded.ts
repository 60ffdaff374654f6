import { BlockList, isIPv4 } from 'node:net';
import type { Context, Next } from 'koa';

// Behind a reverse proxy the client's scheme, host and address arrive as X-Forwarded-Proto/Host/For. They are
// believed only from the proxies named in `trusted_proxies`; from anyone else they are removed before Koa (run
// with `proxy` on) reads them, so a client cannot forge the token realm or the address login throttling counts.

const FORWARDED = ['x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-for'];

export function trustedProxies(list: string): BlockList {
  const trusted = new BlockList();
  for (const entry of list.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (bits === undefined) trusted.addAddress(addr, type);
    else trusted.addSubnet(addr, Number(bits), type);
  }
  return trusted;
}

export function forwardedHeaders(trusted: BlockList) {
  return async function forwarded(ctx: Context, next: Next): Promise<void> {
    const peer = ctx.req.socket.remoteAddress ?? '';
    if (!isTrusted(trusted, peer)) for (const h of FORWARDED) delete ctx.req.headers[h];
    await next();
  };
}

function isTrusted(trusted: BlockList, address: string): boolean {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)?.[1];
  if (v4) return trusted.check(v4, 'ipv4');
  if (isIPv4(address)) return trusted.check(address, 'ipv4');
  return address !== '' && trusted.check(address, 'ipv6');
}
