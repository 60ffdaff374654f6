import type { Context } from 'koa';

// The seam between the OCI routes and access control: every /v2 route states what it needs, the authorizer
// decides. `none` allows everything; token auth (Docker token flow, projects and roles) plugs in here.

export type RepositoryAction = 'pull' | 'push' | 'delete';

export interface AccessRequest {
  repository: string;
  actions: RepositoryAction[];
}

export interface Authorizer {
  /** Throws a RegistryError (UNAUTHORIZED with a WWW-Authenticate challenge, or DENIED) unless every
   *  request is granted. `requests` empty means "authenticated at all" (GET /v2/). */
  authorize(ctx: Context, requests: AccessRequest[]): Promise<void>;
  /** Whether the caller may see `repository` in the catalog (and mount from it without `from`). */
  canPull(ctx: Context, repository: string): Promise<boolean>;
}

export class AllowAll implements Authorizer {
  async authorize(): Promise<void> {}
  async canPull(): Promise<boolean> {
    return true;
  }
}
