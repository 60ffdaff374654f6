import type { Command } from 'commander';
import { adminAction, repoSeg, seg, usage } from './command.js';
import { bytes, printDone, printList, when, type Column } from './output.js';

// berth admin repos | artifacts | tags: Harbor's /projects/{p}/repositories/{r}/artifacts[/{ref}/tags].

interface Repository {
  name: string;
  artifact_count?: number;
  pull_count?: number;
  update_time?: string;
}

interface Tag {
  name: string;
  push_time?: string;
  pull_time?: string;
  immutable?: boolean;
}

interface Artifact {
  digest: string;
  type?: string;
  media_type?: string;
  size?: number;
  push_time?: string;
  pull_time?: string;
  tags?: Tag[] | null;
}

export interface ImageRef {
  project: string;
  repository: string;
  reference?: string;
}

/** `project/repo[:tag|@digest]` → its parts; the project is the first path component. */
export function parseRef(text: string, needReference = false): ImageRef {
  const at = text.indexOf('@');
  let name = at >= 0 ? text.slice(0, at) : text;
  let reference = at >= 0 ? text.slice(at + 1) : undefined;
  const colon = name.lastIndexOf(':');
  if (reference === undefined && colon > name.lastIndexOf('/')) {
    reference = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const slash = name.indexOf('/');
  if (slash <= 0 || slash === name.length - 1) throw usage(`"${text}" is not <project>/<repository>${needReference ? '(:tag or @digest)' : ''}`);
  if (needReference && !reference) throw usage(`"${text}" needs a :tag or @digest`);
  return { project: name.slice(0, slash), repository: name.slice(slash + 1), ...(reference && { reference }) };
}

const artifactsPath = (r: ImageRef) => `/projects/${seg(r.project)}/repositories/${repoSeg(r.repository)}/artifacts`;

const repoColumns: Column<Repository>[] = [
  { header: 'NAME', value: (r) => r.name },
  { header: 'ARTIFACTS', value: (r) => r.artifact_count },
  { header: 'PULLS', value: (r) => r.pull_count },
  { header: 'UPDATED', value: (r) => when(r.update_time) },
];

const artifactColumns: Column<Artifact>[] = [
  { header: 'DIGEST', value: (a) => a.digest.slice(0, 19) },
  { header: 'TAGS', value: (a) => (a.tags ?? []).map((t) => t.name) },
  { header: 'TYPE', value: (a) => a.type },
  { header: 'SIZE', value: (a) => bytes(a.size) },
  { header: 'PUSHED', value: (a) => when(a.push_time) },
  { header: 'PULLED', value: (a) => when(a.pull_time) },
];

const tagColumns: Column<Tag & { digest?: string }>[] = [
  { header: 'TAG', value: (t) => t.name },
  { header: 'DIGEST', value: (t) => t.digest?.slice(0, 19) },
  { header: 'PUSHED', value: (t) => when(t.push_time) },
  { header: 'PULLED', value: (t) => when(t.pull_time) },
  { header: 'IMMUTABLE', value: (t) => t.immutable },
];

export function artifactCommands(admin: Command): void {
  admin
    .command('repos')
    .alias('repositories')
    .description("repositories: list a project's")
    .command('list <project>')
    .description("a project's repositories")
    .action(adminAction(async ({ client, out }, [p]) => printList(out, await client.all<Repository>(`/projects/${seg(p as string)}/repositories`), repoColumns)));

  const artifacts = admin.command('artifacts').alias('artifact').description('artifacts (manifests and indexes) of a repository: list, delete');
  artifacts
    .command('list <repository>')
    .description('the artifacts of <project>/<repository>, with tags, sizes, push and pull times')
    .action(
      adminAction(async ({ client, out }, [text]) => {
        const ref = parseRef(text as string);
        printList(out, await client.all<Artifact>(`${artifactsPath(ref)}?with_tag=true`), artifactColumns);
      }),
    );
  artifacts
    .command('delete <artifact>')
    .description('delete <project>/<repository>@<digest> (or :tag: the artifact it points at, with all its tags)')
    .action(
      adminAction(async ({ client, out }, [text]) => {
        const ref = parseRef(text as string, true);
        await client.call('DELETE', `${artifactsPath(ref)}/${encodeURIComponent(ref.reference!)}`);
        printDone(out, `deleted ${text as string}`);
      }),
    );

  const tags = admin.command('tags').alias('tag').description('tags of a repository: list, delete');
  tags
    .command('list <repository>')
    .description('the tags of <project>/<repository> (or of one artifact: @digest)')
    .action(
      adminAction(async ({ client, out }, [text]) => {
        const ref = parseRef(text as string);
        if (ref.reference) return printList(out, await client.all<Tag>(`${artifactsPath(ref)}/${encodeURIComponent(ref.reference)}/tags`), tagColumns);
        const list = await client.all<Artifact>(`${artifactsPath(ref)}?with_tag=true`);
        printList(out, list.flatMap((a) => (a.tags ?? []).map((t) => ({ ...t, digest: a.digest }))), tagColumns);
      }),
    );
  tags
    .command('delete <tag>')
    .description('remove the tag <project>/<repository>:<tag> (the artifact stays)')
    .action(
      adminAction(async ({ client, out }, [text]) => {
        const ref = parseRef(text as string, true);
        if (ref.reference!.includes(':')) throw usage('give a tag (:name), not a digest');
        const tag = encodeURIComponent(ref.reference!);
        await client.call('DELETE', `${artifactsPath(ref)}/${tag}/tags/${tag}`);
        printDone(out, `deleted tag ${text as string}`);
      }),
    );
}
