import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, logOut, whenSignedOut, type Me } from './api';
import { Link } from './components/link';
import { Login } from './components/login';
import { Routes } from './routes';
import { useLocation } from './router';

/** The shell: who is signed in, the navigation, and the page for the current path. */
export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const { path, query } = useLocation();
  const firstPath = useRef(path);

  // After a client-side navigation, screen readers and keyboards start at the new page, not on the old link.
  useEffect(() => {
    if (path !== firstPath.current) document.getElementById('main')?.focus();
  }, [path]);

  useEffect(() => {
    whenSignedOut(() => setMe(null));
    get<Me>('/users/current').then(setMe, (e: unknown) => {
      // auth none: there is no account behind the caller and everyone may do everything.
      if (e instanceof ApiError && e.status === 412) setMe({ username: 'no access control', sysadmin_flag: true, open: true });
      else setMe(null);
    });
  }, []);

  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <Login onSignedIn={setMe} />;

  const nav: [string, string][] = [
    ['/projects', 'Projects'],
    ['/registries', 'Registries'],
    ['/replication', 'Replication'],
    ['/topology', 'Topology'],
    ['/p2p', 'P2P'],
    ['/audit', 'Audit log'],
    ...(me.sysadmin_flag
      ? ([
          ['/users', 'Users'],
          ['/system', 'Clean-up'],
        ] as [string, string][])
      : []),
  ];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/projects">
          <span class="brand">Berth</span>
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} current={path === href || path.startsWith(href + '/')}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span aria-label="Signed in as">{me.username}</span>
          {!me.open && (
            <button type="button" onClick={() => logOut().finally(() => setMe(null))}>
              Log out
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes path={path} query={query} me={me} />
      </main>
    </>
  );
}
