// A network namespace of the test's own, joined to this one by a veth pair: a second "host" on this machine.
// Addresses come from 198.18.0.0/15 (benchmarking space), which exists only inside these namespaces: nothing
// is routed out.
import { canMakeNamespaces, deleteNamespace, ip } from '../../bench/lib/netns.js';

export { canMakeNamespaces };

export interface LinkedNamespace {
  name: string;
  /** This side's address (the test's namespace), where a server for the other side listens. */
  hostAddress: string;
  /** The namespace's address. */
  nsAddress: string;
  remove(): void;
}

export function linkedNamespace(prefix: string): LinkedNamespace {
  const tag = `${prefix}${process.pid % 100000}`;
  const name = `berth-${tag}`;
  const subnet = 1 + (process.pid % 250);
  const hostAddress = `198.18.${subnet}.1`;
  const nsAddress = `198.18.${subnet}.2`;
  const outer = `bh${tag}`.slice(0, 15);
  const inner = `bn${tag}`.slice(0, 15);
  ip('netns', 'add', name);
  try {
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', outer);
    ip('link', 'set', outer, 'up');
    ip('-n', name, 'addr', 'add', `${nsAddress}/30`, 'dev', inner);
    ip('-n', name, 'link', 'set', inner, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (e) {
    ip('netns', 'del', name);
    throw e;
  }
  return {
    name,
    hostAddress,
    nsAddress,
    remove: () => {
      // Deleting the namespace deletes the veth pair with it.
      deleteNamespace(name);
    },
  };
}
