import { runCommand } from './processes.js';
import { UnexpectedResponse } from './registry-client.js';

/**
 * One GET by `curl -o /dev/null`, which reads faster than node's http client here: answers curl's own clock
 * (time_total, connect to last byte, so process start-up stays out of the figure). Throws unless the answer is a
 * 200 of exactly `size` bytes.
 */
export async function curlGet(url: string, size: number, authorization?: string): Promise<number> {
  const auth = authorization ? ['-H', `Authorization: ${authorization}`] : [];
  const out = await runCommand('curl', ['-sS', ...auth, '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url]);
  const [status, bytes, seconds] = out.trim().split(' ').map(Number) as [number, number, number];
  if (status !== 200) throw new UnexpectedResponse(`GET ${url}: expected 200, got ${status}`);
  if (bytes !== size) throw new UnexpectedResponse(`GET ${url}: ${bytes} bytes, expected ${size}`);
  return seconds;
}
