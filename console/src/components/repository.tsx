import { useState } from 'preact/hooks';
import { ApiError, get, list, repoParam } from '../api';
import { type Artifact, pullCommand } from '../artifact-types';
import { bytes, shortDigest, time } from '../format';
import { useLoad } from '../use-load';
import { CopyButton } from './copy-button';
import { Link } from './link';
import { Empty, ErrorNote } from './notice';
import { Pager } from './pager';
import { TableHead } from './table-head';

interface RepositoryRecord {
  name: string;
  artifact_count: number;
  pull_count: number;
  creation_time?: string;
  update_time?: string;
}

const SIZE = 25;

/** A repository's artifacts (Harbor's GET …/repositories/{r}/artifacts) with their tags and pull commands. */
export function Repository({ project, repo }: { project: string; repo: string }) {
  const [page, setPage] = useState(1);
  const base = `/projects/${encodeURIComponent(project)}/repositories/${repoParam(repo)}`;
  const summary = useLoad(() => get<RepositoryRecord>(base), [base]);
  const artifacts = useLoad(() => list<Artifact>(`${base}/artifacts?page=${page}&page_size=${SIZE}&with_tag=true&with_accessory=true&with_immutable_status=true`), [base, page]);
  const full = `${project}/${repo}`;
  const link = (a: Artifact) => `/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(repo)}/artifacts/${encodeURIComponent(a.digest)}`;
  // Until this Berth has the artifacts API, the repository's own record is what there is.
  const noArtifactsApi = artifacts.error instanceof ApiError && artifacts.error.status === 404 && summary.data;
  return (
    <section>
      <p class="crumbs">
        <Link href="/projects">Projects</Link> / <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> /
      </p>
      <h1>{full}</h1>
      <ErrorNote error={summary.error} />
      {summary.data && (
        <p class="meta">
          <span>{summary.data.artifact_count} artifacts</span>
          <span>{summary.data.pull_count} pulls</span>
          <span>last push {time(summary.data.update_time)}</span>
        </p>
      )}
      {noArtifactsApi ? <Empty>This registry does not list artifacts yet (GET …/artifacts answered 404).</Empty> : <ErrorNote error={artifacts.error} />}
      {artifacts.data?.items.length === 0 && <Empty>No artifacts.</Empty>}
      {artifacts.data && artifacts.data.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Artifacts of {full}</caption>
          <TableHead columns={['Digest', 'Tags', 'Type', 'Size', 'Pushed', 'Pulled', 'Pull command']} />
          <tbody>
            {artifacts.data.items.map((a) => {
              const ref = a.tags?.[0]?.name ?? a.digest;
              return (
                <tr key={a.digest}>
                  <td>
                    <Link href={link(a)}>
                      <code>{shortDigest(a.digest)}</code>
                    </Link>
                  </td>
                  <td>
                    {(a.tags ?? []).map((t) => (
                      <span class={t.immutable ? 'tag immutable' : 'tag'} key={t.name}>
                        {t.name}
                        {t.immutable && <span class="marker"> (immutable)</span>}
                      </span>
                    ))}
                    {a.accessories && a.accessories.length > 0 && <span class="muted"> +{a.accessories.length} referrers</span>}
                  </td>
                  <td>{a.references && a.references.length > 0 ? `index (${a.references.length})` : a.type}</td>
                  <td>{bytes(a.size)}</td>
                  <td>{time(a.push_time)}</td>
                  <td>{time(a.pull_time)}</td>
                  <td>
                    <CopyButton text={pullCommand(full, ref)} label={`Copy pull command for ${full} ${ref}`} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager page={page} size={SIZE} total={artifacts.data?.total} onPage={setPage} />
    </section>
  );
}
