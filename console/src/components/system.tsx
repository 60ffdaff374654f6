import { SystemJob } from './system-job';

/** System admins' clean-up jobs: garbage collection and the audit-log purge. */
export function System() {
  return (
    <section>
      <h1>Clean-up</h1>
      <SystemJob title="Garbage collection" base="/system/gc" options={[{ name: 'delete_untagged', label: 'Delete untagged artifacts', type: 'checkbox', initial: true }]} />
      <SystemJob
        title="Audit log purge"
        base="/system/purgeaudit"
        options={[{ name: 'audit_retention_hour', label: 'Keep entries for (hours)', type: 'number', initial: 720 }]}
      />
    </section>
  );
}
