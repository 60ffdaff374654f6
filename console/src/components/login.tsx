import { useState } from 'preact/hooks';
import { logIn, type Me } from '../api';
import { ErrorNote } from './notice';

export function Login({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await logIn(String(form.get('principal')), String(form.get('password'))));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Berth</h1>
        <p class="muted">Sign in to manage projects, robots and replication.</p>
        <label>
          Username
          <input name="principal" autocomplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
