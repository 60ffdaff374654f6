// How an in-process component (replication's pull policies) writes into this registry as the system: the
// registry's access control provides it, the replicator uses it; both sides name this one contract.

export interface LocalAccess {
  /** An Authorization header value granting pull, push and delete on `repository`. */
  authorization(repository: string): Promise<string>;
  /** Creates the project (private, owned by the system) when it is missing. */
  ensureProject(name: string): Promise<void>;
}
