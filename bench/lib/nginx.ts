// A front nginx for `blob_offload: nginx`: it proxies everything to Berth and, when Berth answers a blob GET with
// X-Accel-Redirect, sends the file from Berth's data directory itself (sendfile). One config text for the bench
// and the tests; docs/blob-offload.md shows the same location block for a hand-written config.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const nginxBin = '/usr/sbin/nginx';

export interface NginxOffloadOptions {
  /** Where nginx listens: 127.0.0.1:<port>. */
  port: number;
  /** Berth's plain-HTTP port on 127.0.0.1. */
  upstreamPort: number;
  /** Berth's data_dir; the blobs are under its blobs/. */
  dataDir: string;
  /** Berth's blob_offload_prefix. */
  prefix: string;
  /** nginx's own files (config, pid, logs, temp dirs). */
  dir: string;
  /** nginx worker processes (default 1). */
  workers?: number | 'auto';
}

/** The whole nginx.conf. */
export function nginxOffloadConfig(o: NginxOffloadOptions): string {
  // As root, nginx's workers would run as nobody, who cannot read a 0700 data directory.
  const asRoot = process.getuid?.() === 0;
  return `${asRoot ? 'user root;\n' : ''}worker_processes ${o.workers ?? 1};
error_log ${o.dir}/error.log warn;
pid ${o.dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${o.dir}/tmp-body;
  proxy_temp_path ${o.dir}/tmp-proxy;
  fastcgi_temp_path ${o.dir}/tmp-fastcgi;
  uwsgi_temp_path ${o.dir}/tmp-uwsgi;
  scgi_temp_path ${o.dir}/tmp-scgi;
  upstream berth {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${o.port};
${offloadServerBlock(o.dataDir, o.prefix, 'http://berth')}
  }
}
`;
}

/** The lines inside nginx's server { } that matter for offload; docs/blob-offload.md shows them for a real host. */
export function offloadServerBlock(dataDir: string, prefix: string, upstream: string): string {
  return `    # Layer pushes stream through to Berth, unbuffered and unlimited in size.
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    # Berth authorized the GET and names the file; only its X-Accel-Redirect can reach this location.
    location ${prefix} {
      internal;
      alias ${join(dataDir, 'blobs')}/;
      sendfile on;
      tcp_nopush on;
      types { }
      default_type application/octet-stream;
      etag off;
      add_header Docker-Content-Digest $upstream_http_docker_content_digest always;
      add_header ETag $upstream_http_etag always;
      add_header Docker-Distribution-API-Version registry/2.0 always;
      add_header X-Request-Id $upstream_http_x_request_id always;
    }`;
}

/** Writes the config under `o.dir`; returns nginx's arguments (foreground, no global config). */
export async function prepareNginx(o: NginxOffloadOptions): Promise<string[]> {
  await mkdir(o.dir, { recursive: true });
  const conf = join(o.dir, 'nginx.conf');
  await writeFile(conf, nginxOffloadConfig(o));
  return ['-p', o.dir, '-c', conf, '-g', 'daemon off;'];
}
