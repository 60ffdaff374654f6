import { list } from '../api';
import { useLoad } from '../use-load';
import { type AuditEntry, AuditTable } from './audit-table';
import { ErrorNote } from './notice';

export function ProjectLogs({ project }: { project: string }) {
  const log = useLoad(() => list<AuditEntry>(`/projects/${encodeURIComponent(project)}/logs?page_size=50`), [project]);
  return (
    <>
      <ErrorNote error={log.error} />
      {log.data && <AuditTable entries={log.data.items} />}
    </>
  );
}
