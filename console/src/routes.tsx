import type { Me } from './api';
import { match, navigate } from './router';
import { Artifact } from './components/artifact';
import { AuditLog } from './components/audit-log';
import { Execution } from './components/execution';
import { Policies } from './components/policies';
import { Project } from './components/project';
import { Projects } from './components/projects';
import { Registries } from './components/registries';
import { Repository } from './components/repository';
import { Swarm } from './components/swarm';
import { System } from './components/system';
import { Topology } from './components/topology';
import { Users } from './components/users';

/** Path → page. Repository names keep their slashes encoded (%2F) inside one path segment. */
export function Routes({ path, query, me }: { path: string; query: URLSearchParams; me: Me }) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '') {
    queueMicrotask(() => navigate('/projects'));
    return null;
  }
  if (path === '/projects') return <Projects me={me} />;
  if ((m = match('/projects/:project/repositories/:repo/artifacts/:ref', path))) return <Artifact project={m.project!} repo={m.repo!} reference={m.ref!} />;
  if ((m = match('/projects/:project/repositories/:repo', path))) return <Repository project={m.project!} repo={m.repo!} />;
  if ((m = match('/projects/:project/:tab', path))) return <Project name={m.project!} tab={m.tab!} me={me} />;
  if ((m = match('/projects/:project', path))) return <Project name={m.project!} tab="repositories" me={me} />;
  if (path === '/registries') return <Registries />;
  if (path === '/replication') return <Policies />;
  if ((m = match('/replication/executions/:id', path))) return <Execution id={Number(m.id)} />;
  if (path === '/topology') return <Topology />;
  if (path === '/audit') return <AuditLog />;
  if (path === '/p2p') return <Swarm digest={query.get('digest') ?? ''} />;
  if (path === '/users') return <Users />;
  if (path === '/system' && me.sysadmin_flag) return <System />;
  return (
    <section>
      <h1>Not found</h1>
      <p>No page at {path}.</p>
    </section>
  );
}
