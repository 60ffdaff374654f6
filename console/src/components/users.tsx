import { useState } from 'preact/hooks';
import { change, list } from '../api';
import { time } from '../format';
import { useLoad } from '../use-load';
import { Empty, ErrorNote } from './notice';
import { TableHead } from './table-head';

interface User {
  user_id: number;
  username: string;
  email: string;
  sysadmin_flag: boolean;
  creation_time: string;
}

/** Local accounts (system admins only): the people members are made of. */
export function Users() {
  const users = useLoad(() => list<User>('/users?page_size=100'), []);
  const [error, setError] = useState<Error>();
  const [note, setNote] = useState('');
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const d = new FormData(form);
    setError(undefined);
    try {
      await change('POST', '/users', { username: String(d.get('username')), password: String(d.get('password')), email: String(d.get('email') ?? ''), realname: '' });
      setNote(`User ${String(d.get('username'))} created.`);
      form.reset();
      users.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <section>
      <h1>Users</h1>
      <ErrorNote error={users.error ?? error} />
      {note && <p role="status">{note}</p>}
      {users.data?.items.length === 0 && <Empty>No users.</Empty>}
      {users.data && users.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Users</caption>
          <TableHead columns={['Username', 'Email', 'Admin', 'Created']} />
          <tbody>
            {users.data.items.map((u) => (
              <tr key={u.user_id}>
                <td>{u.username}</td>
                <td>{u.email}</td>
                <td>{u.sysadmin_flag ? 'yes' : 'no'}</td>
                <td>{time(u.creation_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="card" onSubmit={create} aria-labelledby="new-user">
        <h2 id="new-user">New user</h2>
        <div class="row">
          <label>
            Username
            <input name="username" required autocomplete="off" />
          </label>
          <label>
            Email
            <input name="email" type="email" />
          </label>
          <label>
            Password
            <input name="password" type="password" required autocomplete="new-password" />
          </label>
          <button type="submit" class="primary">
            Create user
          </button>
        </div>
      </form>
    </section>
  );
}
