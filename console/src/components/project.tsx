import { useState } from 'preact/hooks';
import { change, get } from '../api';
import { bytes } from '../format';
import { useLoad } from '../use-load';
import { Link } from './link';
import { Members } from './members';
import { ErrorNote } from './notice';
import { ProjectLogs } from './project-logs';
import type { Project as ProjectRecord } from './projects';
import { Repositories } from './repositories';
import { Robots } from './robots';

interface Summary {
  quota?: { hard: { storage: number }; used: { storage: number } };
}

const tabs: [string, string][] = [
  ['repositories', 'Repositories'],
  ['members', 'Members'],
  ['robots', 'Robot accounts'],
  ['logs', 'Logs'],
];

export function Project({ name, tab }: { name: string; tab: string }) {
  const project = useLoad(() => get<ProjectRecord>(`/projects/${encodeURIComponent(name)}`), [name]);
  // Harbor's summary carries the quota and its usage; a Berth without quotas answers 404 and shows none.
  const summary = useLoad(() => get<Summary>(`/projects/${encodeURIComponent(name)}/summary`).catch(() => undefined), [name]);
  const quota = summary.data?.quota;
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
          {quota && (
            <span>
              storage {bytes(quota.used.storage)} used of {quota.hard.storage > 0 ? bytes(quota.hard.storage) : 'unlimited'}
            </span>
          )}
        </p>
      )}
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
      {tab === 'logs' && <ProjectLogs project={name} />}
    </section>
  );
}
