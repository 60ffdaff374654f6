import { get, repoParam } from '../api';
import { type Artifact as ArtifactRecord, type Layer, platformText, pullCommand } from '../artifact-types';
import { bytes, shortDigest, time } from '../format';
import { useLoad } from '../use-load';
import { CopyField } from './copy-button';
import { Link } from './link';
import { Empty, ErrorNote } from './notice';
import { TableHead } from './table-head';

interface HistoryEntry {
  created?: string;
  created_by?: string;
  empty_layer?: boolean;
}

/** One artifact: tags, digest, size, times; an image's config and layers; an index's platforms; referrers. */
export function Artifact({ project, repo, reference }: { project: string; repo: string; reference: string }) {
  const repoPath = `/projects/${encodeURIComponent(project)}/repositories/${repoParam(repo)}`;
  const path = `${repoPath}/artifacts/${encodeURIComponent(reference)}`;
  const artifact = useLoad(() => get<ArtifactRecord>(`${path}?with_tag=true&with_accessory=true`), [path]);
  const a = artifact.data;
  const history = useLoad(async () => {
    const href = a?.addition_links?.build_history?.href;
    if (!href || (a?.layers && a.layers.length > 0)) return undefined;
    return get<HistoryEntry[]>(href.replace(/^\/api\/v2\.0/, ''));
  }, [a?.digest]);
  const full = `${project}/${repo}`;
  const repoLink = `/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(repo)}`;
  return (
    <section>
      <p class="crumbs">
        <Link href="/projects">Projects</Link> / <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / <Link href={repoLink}>{repo}</Link> /
      </p>
      <h1>
        {full}@{shortDigest(reference)}
      </h1>
      <ErrorNote error={artifact.error} />
      {a && (
        <>
          <dl class="facts">
            <dt>Digest</dt>
            <dd>
              <code>{a.digest}</code>
            </dd>
            <dt>Media type</dt>
            <dd>{a.manifest_media_type || a.media_type}</dd>
            <dt>Size</dt>
            <dd>{bytes(a.size)}</dd>
            <dt>Pushed</dt>
            <dd>{time(a.push_time)}</dd>
            <dt>Last pulled</dt>
            <dd>{time(a.pull_time)}</dd>
          </dl>
          <h2>Pull</h2>
          <CopyField text={pullCommand(full, a.digest)} label="Copy pull-by-digest command" />
          <h2>Tags</h2>
          {(a.tags ?? []).length === 0 ? (
            <Empty>Untagged.</Empty>
          ) : (
            <table>
              <TableHead columns={['Tag', 'Pushed', 'Pulled', 'Pull command']} />
              <tbody>
                {(a.tags ?? []).map((t) => (
                  <tr key={t.name}>
                    <td>
                      <span class="tag">{t.name}</span>
                      {t.immutable && <span class="muted"> immutable</span>}
                    </td>
                    <td>{time(t.push_time)}</td>
                    <td>{time(t.pull_time)}</td>
                    <td>
                      <CopyField text={pullCommand(full, t.name)} label={`Copy pull command for tag ${t.name}`} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {a.references && a.references.length > 0 && <Platforms artifact={a} repoLink={repoLink} />}
          {a.layers && a.layers.length > 0 && <Layers layers={a.layers} />}
          {history.data && history.data.length > 0 && <History entries={history.data} />}
          {(a.config || a.extra_attrs) && (
            <>
              <h2>Config</h2>
              <pre class="json" tabIndex={0} aria-label="Image configuration">
                {JSON.stringify(a.config ?? a.extra_attrs, null, 2)}
              </pre>
            </>
          )}
          <h2>Referrers</h2>
          {(a.accessories ?? []).length === 0 ? (
            <Empty>No signatures, SBOMs or other referrers.</Empty>
          ) : (
            <table>
              <TableHead columns={['Type', 'Digest', 'Size', 'Created']} />
              <tbody>
                {(a.accessories ?? []).map((r) => (
                  <tr key={r.digest}>
                    <td>{r.type}</td>
                    <td>
                      <Link href={`${repoLink}/artifacts/${encodeURIComponent(r.digest)}`}>
                        <code>{shortDigest(r.digest)}</code>
                      </Link>
                    </td>
                    <td>{bytes(r.size)}</td>
                    <td>{time(r.creation_time)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

function Platforms({ artifact, repoLink }: { artifact: ArtifactRecord; repoLink: string }) {
  return (
    <>
      <h2>Platforms</h2>
      <ul class="platforms">
        {artifact.references!.map((r) => (
          <li key={r.child_digest}>
            <Link href={`${repoLink}/artifacts/${encodeURIComponent(r.child_digest)}`}>{platformText(r.platform)}</Link> <code>{shortDigest(r.child_digest)}</code>
          </li>
        ))}
      </ul>
    </>
  );
}

function Layers({ layers }: { layers: Layer[] }) {
  const total = layers.reduce((s, l) => s + l.size, 0);
  return (
    <>
      <h2>Layers</h2>
      <table>
        <caption class="visually-hidden">Layers</caption>
        <TableHead columns={['#', 'Digest', 'Media type', 'Size']} />
        <tbody>
          {layers.map((l, i) => (
            <tr key={`${i}-${l.digest}`}>
              <td>{i + 1}</td>
              <td>
                <code title={l.digest}>{shortDigest(l.digest)}</code>
              </td>
              <td>{l.media_type ?? ''}</td>
              <td>{bytes(l.size)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <td colSpan={3}>Total</td>
            <td>{bytes(total)}</td>
          </tr>
        </tfoot>
      </table>
    </>
  );
}

function History({ entries }: { entries: HistoryEntry[] }) {
  return (
    <>
      <h2>Build history</h2>
      <ol class="history">
        {entries.map((h, i) => (
          <li key={i}>
            <span class="muted">{time(h.created)}</span> <code>{h.created_by ?? ''}</code>
            {h.empty_layer && <span class="muted"> (no layer)</span>}
          </li>
        ))}
      </ol>
    </>
  );
}
