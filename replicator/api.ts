// The replication API lives in api/ (one file per resource); this entry keeps the import service.ts uses.
export { replicationRouter, type ReplicationApiDeps } from './api/router.js';
