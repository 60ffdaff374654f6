import { useState } from 'preact/hooks';
import { change, get, type Me } from '../api';
import { useLoad } from '../use-load';
import { Link } from './link';
import { ImmutableRules } from './immutable-rules';
import { Members } from './members';
import { ErrorNote } from './notice';
import { Preheat } from './preheat';
import { ProjectLogs } from './project-logs';
import type { Project as ProjectRecord } from './projects';
import { Quota } from './quota';
import { Repositories } from './repositories';
import { Retention } from './retention';
import { Robots } from './robots';
import { Webhooks } from './webhooks';

const tabs: [string, string][] = [
  ['repositories', 'Repositories'],
  ['members', 'Members'],
  ['robots', 'Robot accounts'],
  ['immutability', 'Tag immutability'],
  ['retention', 'Tag retention'],
  ['webhooks', 'Webhooks'],
  ['preheat', 'P2P preheat'],
  ['logs', 'Logs'],
];

export function Project({ name, tab, me }: { name: string; tab: string; me: Me }) {
  const project = useLoad(() => get<ProjectRecord>(`/projects/${encodeURIComponent(name)}`), [name]);
  const [error, setError] = useState<Error>();
  const p = project.data;
  const setPublic = async (value: boolean) => {
    try {
      await change('PUT', `/projects/${p!.project_id}`, { metadata: { public: String(value) } });
      project.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  const base = `/projects/${encodeURIComponent(name)}`;
  return (
    <section>
      <p class="crumbs">
        <Link href="/projects">Projects</Link> /
      </p>
      <h1>{name}</h1>
      <ErrorNote error={project.error ?? error} />
      {p && (
        <p class="meta">
          <span>{p.metadata.public === 'true' ? 'Public' : 'Private'}</span>
          <button type="button" onClick={() => setPublic(p.metadata.public !== 'true')}>
            Make {p.metadata.public === 'true' ? 'private' : 'public'}
          </button>
          <span>{p.repo_count} repositories</span>
        </p>
      )}
      {p && <Quota project={name} projectId={p.project_id} me={me} />}
      <nav class="tabs" aria-label="Project">
        <ul>
          {tabs.map(([id, label]) => (
            <li key={id}>
              <Link href={`${base}/${id}`} current={tab === id}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {tab === 'repositories' && <Repositories project={name} />}
      {tab === 'members' && <Members project={name} />}
      {tab === 'robots' && p && <Robots project={name} projectId={p.project_id} />}
      {tab === 'immutability' && <ImmutableRules project={name} />}
      {tab === 'retention' && p && <Retention projectId={p.project_id} retentionId={Number(p.metadata.retention_id) || undefined} onCreated={project.reload} />}
      {tab === 'webhooks' && <Webhooks project={name} />}
      {tab === 'preheat' && <Preheat project={name} />}
      {tab === 'logs' && <ProjectLogs project={name} />}
    </section>
  );
}
