import { useState } from 'preact/hooks';
import { list } from '../api';
import { useLoad } from '../use-load';
import { type AuditEntry, AuditTable } from './audit-table';
import { ErrorNote } from './notice';
import { Pager } from './pager';

const SIZE = 50;

/** Harbor's q syntax: key=value exact, key=~value fuzzy, op_time=[a~b] a range. */
export function auditQuery(f: Record<string, string>): string {
  const terms: string[] = [];
  if (f.username) terms.push(`username=~${f.username}`);
  if (f.resource) terms.push(`resource=~${f.resource}`);
  if (f.operation) terms.push(`operation=${f.operation}`);
  if (f.resource_type) terms.push(`resource_type=${f.resource_type}`);
  if (f.from || f.to) terms.push(`op_time=[${f.from ? `${f.from} 00:00:00` : ''}~${f.to ? `${f.to} 23:59:59` : ''}]`);
  return terms.length ? `&q=${encodeURIComponent(terms.join(','))}` : '';
}

export function AuditLog() {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [page, setPage] = useState(1);
  const log = useLoad(() => list<AuditEntry>(`/audit-logs?page=${page}&page_size=${SIZE}${auditQuery(filters)}`), [JSON.stringify(filters), page]);
  const submit = (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    setFilters(Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v !== '')));
    setPage(1);
  };
  return (
    <section>
      <h1>Audit log</h1>
      <form class="filters" onSubmit={submit} aria-label="Filter the audit log">
        <label>
          User
          <input name="username" />
        </label>
        <label>
          Resource
          <input name="resource" />
        </label>
        <label>
          Operation
          <select name="operation">
            <option value="">any</option>
            {['create', 'update', 'delete', 'pull', 'login'].map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select name="resource_type">
            <option value="">any</option>
            {['project', 'repository', 'artifact', 'member', 'robot', 'user'].map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </label>
        <label>
          From
          <input name="from" type="date" />
        </label>
        <label>
          To
          <input name="to" type="date" />
        </label>
        <button type="submit" class="primary">
          Filter
        </button>
      </form>
      <ErrorNote error={log.error} />
      {log.data && <AuditTable entries={log.data.items} />}
      <Pager page={page} size={SIZE} total={log.data?.total} onPage={setPage} />
    </section>
  );
}
