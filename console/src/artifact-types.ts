// Harbor's Artifact (swagger definitions Artifact, Tag, Reference, Accessory), the parts the console shows.

export interface Tag {
  id: number;
  name: string;
  push_time: string;
  pull_time: string;
  immutable?: boolean;
}

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
  'os.version'?: string;
}

export interface Reference {
  child_digest: string;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Accessory {
  id: number;
  digest: string;
  type: string;
  size: number;
  creation_time: string;
}

/** A layer as Berth lists it beside Harbor's fields (Harbor shows layers only as build history). */
export interface Layer {
  digest: string;
  size: number;
  media_type?: string;
}

export interface Artifact {
  id: number;
  type: string;
  media_type: string;
  manifest_media_type: string;
  digest: string;
  size: number;
  push_time: string;
  pull_time: string;
  tags?: Tag[] | null;
  references?: Reference[] | null;
  accessories?: Accessory[] | null;
  extra_attrs?: Record<string, unknown> | null;
  annotations?: Record<string, string> | null;
  addition_links?: Record<string, { href: string; absolute?: boolean }> | null;
  layers?: Layer[] | null;
  config?: Record<string, unknown> | null;
}

export function platformText(p?: Platform): string {
  if (!p) return 'unknown platform';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') || 'unknown platform';
}

/** The docker pull command for a tag or digest of `repository` (full name, project included). */
export function pullCommand(repository: string, ref: string): string {
  return `docker pull ${location.host}/${repository}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
}
