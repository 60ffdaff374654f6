import { time } from '../format';
import { Empty } from './notice';
import { TableHead } from './table-head';

export interface AuditEntry {
  id: number;
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
  op_time: string;
  operation_result?: boolean;
  operation_description?: string;
  client_ip?: string;
}

export function AuditTable({ entries }: { entries: AuditEntry[] }) {
  if (entries.length === 0) return <Empty>No entries.</Empty>;
  return (
    <table>
      <caption class="visually-hidden">Audit log</caption>
      <TableHead columns={['Time', 'User', 'Operation', 'Resource', 'Type', 'Result', 'From']} />
      <tbody>
        {entries.map((e) => (
          <tr key={e.id}>
            <td>{time(e.op_time)}</td>
            <td>{e.username}</td>
            <td>{e.operation}</td>
            <td>
              <code>{e.resource}</code>
              {e.operation_description && <div class="muted">{e.operation_description}</div>}
            </td>
            <td>{e.resource_type}</td>
            <td>{e.operation_result === false ? <span class="status bad">failed</span> : 'ok'}</td>
            <td>{e.client_ip ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
