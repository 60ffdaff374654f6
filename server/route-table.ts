import type Router from '@koa/router';

// The routes an app serves, read off its routers: what openapi.json must list (test/auth/openapi.test.ts).

export interface ServedRoute {
  method: string;
  /** In OpenAPI's form: `{param}` for `:param`. */
  path: string;
}

export function routeTable(routers: Router[]): ServedRoute[] {
  const out: ServedRoute[] = [];
  for (const router of routers) {
    for (const layer of router.stack) {
      // @koa/router adds HEAD to every GET route: a HEAD of its own is one without a GET beside it.
      const methods = layer.methods.filter((m) => !(m === 'HEAD' && layer.methods.includes('GET')));
      const path = String(layer.path).replace(/:(\w+)/g, '{$1}');
      for (const method of methods) out.push({ method: method.toLowerCase(), path });
    }
  }
  return out;
}
